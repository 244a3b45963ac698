/**
 * The streaming transcoder (entry-transcoder.ts, json-writer.ts, entry-batch.ts) against the
 * path it replaces: for any SearchResultEntry — hostile bytes in values and DN (BOM, NUL, C0
 * controls, `"` and `\`, U+2028, invalid UTF-8, surrogates in three bytes), one attribute in
 * several runs under other spellings, odd descriptions, keys that are array indices — a page
 * written by the transcoder has exactly the bytes `entryJson(losslessEntry(e))` gives for the
 * same messages, item by item, however the messages are cut into reads; and the same when
 * every entry takes the fallback (the `RawEntry` path) into the batch.
 */
import fc from 'fast-check';
import { MessageParser, SearchEntry, type Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { JsonBatch } from '../../../src/adapter-kit/json-batch.js';
import { EntryBatchWriter } from '../../../src/adapters/ldap/entry-batch.js';
import { decodesFast, hookMessageParser, LOSSLESS_ENTRIES } from '../../../src/adapters/ldap/entry-decoder.js';
import { transcodeEntry } from '../../../src/adapters/ldap/entry-transcoder.js';
import { entryJson, losslessEntry } from '../../../src/adapters/ldap/entry.js';
import { isUtf8Range, JsonWriter } from '../../../src/adapters/ldap/json-writer.js';
import { encode, referenceEntry, type Message, type Run } from './entry-reference.js';

const SEED = 0x7c0d;

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const bytes = (...b: number[]): Buffer => Buffer.from(b);
const BOM = bytes(0xef, 0xbb, 0xbf);
const SURROGATE = bytes(0xed, 0xa0, 0x80);

/** A parser hooked as the pool's clients are, fed `all` in pieces. */
function feed(all: Buffer, pieces: readonly number[], explicit: string[], fast: boolean): { entries: Entry[]; errors: string[] } {
  const parser = new MessageParser();
  expect(hookMessageParser(parser, { fast })).toBe(true);
  // Every message id belongs to one search whose request carries `explicit` (as ldapts' SearchRequest does).
  const details = { message: { controls: [], explicitBufferAttributes: explicit } };
  const byId = { get: () => details } as unknown as Map<string, never>;
  const entries: Entry[] = [];
  const errors: string[] = [];
  parser.on('message', (m) => {
    if (m instanceof SearchEntry) entries.push(m.toObject([], explicit));
  });
  parser.on('error', (err: Error) => errors.push(err.message));
  let at = 0;
  for (const cut of [...pieces.map((p) => Math.min(p, all.length)).sort((a, b) => a - b), all.length]) {
    if (cut > at) parser.read(all.subarray(at, cut), byId);
    at = Math.max(at, cut);
  }
  return { entries, errors };
}

/** Today's path: entries decoded to raw entries, each serialised by `entryJson`. */
function todays(all: Buffer, pieces: readonly number[] = []): string[] {
  const { entries, errors } = feed(all, pieces, LOSSLESS_ENTRIES, true);
  expect(errors).toEqual([]);
  return entries.map((e) => entryJson(losslessEntry(e)));
}

/** The batch path: entries written into one page as they are parsed. */
function batched(all: Buffer, pieces: readonly number[] = [], fast = true): JsonBatch {
  const sink = new EntryBatchWriter();
  const { errors } = feed(all, pieces, sink.attributes, fast);
  expect(errors).toEqual([]);
  return sink.take();
}

/** The batch's items, checked to be laid out as `JsonBatch` says (comma-separated, ends). */
function items(batch: JsonBatch): string[] {
  const texts = batch.texts();
  expect(batch.bytes.toString('utf8')).toBe(texts.join(','));
  return texts;
}

const description = fc
  .oneof(
    fc.constantFrom('cn', 'CN', 'Cn', 'commonName', 'mail', 'MAIL', 'description', 'userPassword', 'title'),
    fc.constantFrom('cn;lang-de', 'CN;LANG-DE', 'cn;lang-de;x-a', 'cn;X-A;Lang-DE', 'cn;x-a', 'cn;binary', 'CN;Binary', 'cn;lang-de;binary'),
    fc.constantFrom('jpegPhoto', 'JPEGPHOTO', 'jpegPhoto;lang-en', 'jpegPhoto;LANG-EN;binary', 'jpegPhoto;binary', 'userCertificate;binary', 'userCertificate', 'objectGUID'),
    fc.constantFrom('__proto__', 'constructor', 'toString', '7', '0', 'dn', 'x;binary;lang-en', 'a"b', 'a\\b', 'caf\u00e9', ''),
    fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9-]{0,6}(;[a-zA-Z-]{1,5}){0,2}$/),
  )
  .map(utf8)
  .chain((d) => fc.oneof({ weight: 9, arbitrary: fc.constant(d) }, { weight: 1, arbitrary: fc.constant(Buffer.concat([d, bytes(0xff)])) }));

const value = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(utf8),
  fc.string({ unit: 'binary', maxLength: 12 }).map(utf8),
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a.map((b) => b & 0x7f))), // ASCII with controls
  fc.string({ maxLength: 6 }).map((s) => Buffer.concat([BOM, utf8(s)])),
  fc.string({ maxLength: 6 }).map((s) => Buffer.concat([utf8(s), bytes(0), utf8('\u0001\u001f\u007f\u2028\u2029"\\\b\f\n\r\t')])),
  fc.constantFrom(SURROGATE, bytes(0xf8, 0x88, 0x80, 0x80, 0x80), bytes(0xc0, 0xaf), utf8('caf\u00e9').subarray(0, 4), bytes(0xff), utf8('\ufffd'), utf8('\u{10ffff}'), bytes(0xf4, 0x90, 0x80, 0x80), bytes(0xe0, 0x9f, 0xbf)),
  fc.constant(Buffer.alloc(0)),
  fc.constant(Buffer.alloc(300, 0x61)),
  fc.uint8Array({ minLength: 200, maxLength: 400 }).map((a) => Buffer.from(a)),
);

const dn = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => utf8(`cn=${s},dc=example,dc=com`)),
  fc.tuple(fc.constantFrom(SURROGATE, bytes(0xe9), bytes(0xff), BOM, utf8('\\2C'), utf8('"\\'), bytes(0x5c, 0xe9)), fc.string({ maxLength: 4 })).map(([b, s]) =>
    Buffer.concat([utf8(`cn=${s}`), b, utf8(',ou=people,dc=example,dc=com')]),
  ),
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
);

const runs: fc.Arbitrary<Run[]> = fc.array(fc.tuple(description, fc.array(value, { maxLength: 4 })), { maxLength: 10 });
const message: fc.Arbitrary<Message> = fc.record({ id: fc.integer({ min: 1, max: 2 ** 31 - 1 }), dn, attributes: runs });

describe('streaming transcoder: the same bytes as entryJson(losslessEntry(e))', () => {
  it('hostile entries, however cut into reads, on the transcoder and on the fallback (property)', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(4000), { maxLength: 4 }), (messages, pieces) => {
        const all = Buffer.concat(messages.map(encode));
        const expected = todays(all, pieces);
        expect(items(batched(all, pieces))).toEqual(expected);
        expect(items(batched(all, pieces, false))).toEqual(expected);
      }),
      { numRuns: 1000, seed: SEED },
    );
  }, 60_000);

  it('is the contract’s entry (reference written from docs/protocol.md)', () => {
    fc.assert(
      fc.property(message, (m) => {
        // The reference decodes descriptions with U+FFFD as the relay does; compare parsed values.
        expect(JSON.parse(items(batched(encode(m)))[0] ?? '')).toEqual(JSON.parse(JSON.stringify(referenceEntry(m.dn, m.attributes))));
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('takes exactly the messages the fast decoder takes, and writes nothing when it does not', () => {
    let refused = 0;
    fc.assert(
      fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 2 }), (m, flips) => {
        const one = Buffer.from(encode({ ...m, id: 1 }));
        const start = contentOffset(one);
        for (const [at, byte] of flips) one[start + (at % Math.max(1, one.length - start))] = byte;
        const c = one.subarray(start);
        const w = new JsonWriter();
        w.byte(0x5b);
        const took = transcodeEntry(c, 0, c.length, w);
        expect(took).toBe(decodesFast(c));
        if (!took) {
          refused++;
          expect(w.at).toBe(1);
        }
      }),
      { numRuns: 1500, seed: SEED },
    );
    expect(refused).toBeGreaterThan(50);
  });

  it('a page of plain entries is written by the transcoder, not the fallback', () => {
    const m: Message = { id: 2, dn: utf8('uid=p1,ou=people,dc=example,dc=com'), attributes: [[utf8('cn'), [utf8('Anna "A" \\ B'), Buffer.concat([BOM, utf8('x\u2028y')])]], [utf8('jpegPhoto'), [bytes(0xff, 0xd8, 0xff)]]] };
    const sink = new EntryBatchWriter();
    let transcoded = 0;
    const transcode = sink.transcode.bind(sink);
    sink.transcode = (buf, s, e) => {
      const ok = transcode(buf, s, e);
      if (ok) transcoded++;
      return ok;
    };
    const all = Buffer.concat([encode(m), encode({ ...m, id: 3 })]);
    feed(all, [], sink.attributes, true);
    expect(transcoded).toBe(2);
    const batch = sink.take();
    expect(batch.count).toBe(2);
    expect(batch.texts()).toEqual(todays(all));
    expect(JSON.parse(batch.text(0))).toEqual({ dn: 'uid=p1,ou=people,dc=example,dc=com', attributes: { cn: ['Anna "A" \\ B', '\ufeffx\u2028y'], 'jpegPhoto;binary': ['/9j/'] } });
    // The page's memory is its own: transferable without taking Buffer's shared pool along.
    expect(batch.bytes.buffer.byteLength).toBeGreaterThanOrEqual(batch.bytes.length);
    expect(batch.bytes.byteOffset).toBe(0);
    expect(sink.take().count).toBe(0);
  });
});

describe('json-writer', () => {
  it('string(bytes) is JSON.stringify(text) for valid UTF-8, refused otherwise (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }).map(utf8), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))), (b) => {
        const w = new JsonWriter(16);
        const ok = w.string(b, 0, b.length);
        expect(ok).toBe(isUtf8Range(b, 0, b.length));
        expect(ok).toBe(Buffer.from(b.toString('utf8'), 'utf8').equals(b));
        if (ok) expect(w.take().toString('utf8')).toBe(JSON.stringify(b.toString('utf8')));
        else expect(w.at).toBe(0);
      }),
      { numRuns: 3000, seed: SEED },
    );
  });

  it('base64 is Buffer.toString("base64") (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.nat(5), (a, skip) => {
        const b = Buffer.from(a);
        const from = Math.min(skip, b.length);
        const w = new JsonWriter(8);
        w.base64(b, from, b.length);
        expect(w.take().toString('latin1')).toBe(`"${b.toString('base64', from)}"`);
      }),
      { numRuns: 2000, seed: SEED },
    );
  });
});

/** Where the SearchResultEntry's content starts in an encoded message (after three headers). */
function contentOffset(b: Buffer): number {
  let at = 0;
  const skipHeader = (): void => {
    at++;
    const first = b[at++] ?? 0;
    if (first >= 0x80) at += first & 0x7f;
  };
  skipHeader();
  skipHeader();
  at += b[at - 1] ?? 0;
  skipHeader();
  return at;
}

