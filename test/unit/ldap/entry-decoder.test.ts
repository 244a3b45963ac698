/**
 * The fast SearchResultEntry decoder gives exactly what ldapts' own decoder gives: the same
 * entries (strings, Buffers, key order) for any well-formed message, and the same outcome
 * (entries or errors) for corrupted ones, whatever `explicitBufferAttributes` and requested
 * attributes the search passes.
 */
import fc from 'fast-check';
import { BerWriter, MessageParser, SearchEntry, type Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { decodesFast, hookMessageParser } from '../../../src/adapters/ldap/entry-decoder.js';

type Bytes = Buffer;

interface Message {
  readonly id: number;
  readonly dn: Bytes;
  readonly attributes: ReadonlyArray<readonly [Bytes, readonly Bytes[]]>;
}

/** An LDAPMessage holding a SearchResultEntry (RFC 4511 §4.5.2). */
function encode(m: Message): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeInt(m.id);
  w.startSequence(0x64);
  w.writeBuffer(m.dn, 0x04);
  w.startSequence();
  for (const [type, values] of m.attributes) {
    w.startSequence();
    w.writeBuffer(type, 0x04);
    w.startSequence(0x31);
    for (const v of values) w.writeBuffer(v, 0x04);
    w.endSequence();
    w.endSequence();
  }
  w.endSequence();
  w.endSequence();
  w.endSequence();
  return w.buffer;
}

/** Where the SearchResultEntry's content starts in an encoded message (after three headers). */
function contentOffset(bytes: Buffer): number {
  let at = 0;
  const skipHeader = (): void => {
    at++; // tag
    const first = bytes[at++] ?? 0;
    if (first >= 0x80) at += first & 0x7f;
  };
  skipHeader(); // LDAPMessage SEQUENCE
  skipHeader(); // messageID INTEGER …
  at += bytes[at - 1] ?? 0; // … and its content
  skipHeader(); // [APPLICATION 4]
  return at;
}

interface Outcome {
  readonly entries: unknown[];
  readonly errors: string[];
}

/** A value with its kind spelled out (a Buffer is not a string; an array's elements each). */
function canonical(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { buffer: v.toString('hex') };
  if (Array.isArray(v)) return { array: v.map(canonical) };
  return { [typeof v]: v };
}

/**
 * An entry as its prototype (ldapts assigns `__proto__` like any name) and its own keys, in
 * order, with their values — so a key named `constructor` compares like any other.
 */
function canonicalEntry(e: Entry): unknown {
  const proto: unknown = Object.getPrototypeOf(e);
  return { proto: proto === Object.prototype ? 'Object' : canonical(proto), own: Object.keys(e).map((k) => [k, canonical(e[k])]) };
}

/** Feeds `bytes` in `pieces` to a parser (ldapts' decoder or the fast one) and decodes what comes out. */
function decode(bytes: Buffer, fast: boolean, pieces: number[], requested: string[], explicit: string[]): Outcome {
  const parser = new MessageParser();
  if (fast) expect(hookMessageParser(parser)).toBe(true);
  const entries: unknown[] = [];
  const errors: string[] = [];
  parser.on('message', (m) => entries.push(m instanceof SearchEntry ? canonicalEntry(m.toObject(requested, explicit)) : m.constructor.name));
  parser.on('error', (err: Error) => errors.push(err.message));
  let at = 0;
  for (const cut of [...pieces.map((p) => Math.min(p, bytes.length)).sort((a, b) => a - b), bytes.length]) {
    if (cut > at) parser.read(bytes.subarray(at, cut), new Map());
    at = Math.max(at, cut);
  }
  return { entries, errors };
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const REPLACEMENT = utf8('\ufffd');

const typeName = fc.oneof(
  fc.constantFrom('cn', 'mail', 'jpegPhoto', 'jpegphoto', 'objectGUID', 'userCertificate;binary', 'x;BINARY', 'cn;lang-de', '__proto__', 'constructor', 'dn', ''),
  fc.string({ maxLength: 10 }),
).map(utf8);
const value = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(utf8),
  fc.string({ unit: 'binary', maxLength: 12 }).map(utf8), // lone surrogates become EF BF BD
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)), // mostly not UTF-8
  fc.string({ maxLength: 6 }).map((s) => Buffer.concat([BOM, utf8(s)])),
  fc.string({ maxLength: 6 }).map((s) => Buffer.concat([utf8(s), REPLACEMENT])),
  fc.constant(Buffer.alloc(0)),
  fc.constant(Buffer.alloc(300, 0x61)), // long-form length
);
const message: fc.Arbitrary<Message> = fc.record({
  id: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  dn: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }).map(utf8), fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a))),
  attributes: fc.array(fc.tuple(typeName, fc.array(value, { maxLength: 4 })), { maxLength: 6 }),
});
const requested = fc.array(fc.constantFrom('cn', 'CN', 'mail', 'description', 'jpegPhoto', 'constructor', '*'), { maxLength: 3 });
const explicit = fc.array(fc.constantFrom('jpegPhoto', 'jpegphoto', 'cn', 'objectGUID', 'mail'), { maxLength: 3 });

describe('fast SearchResultEntry decoder', () => {
  it('decodes like ldapts a real entry (UTF-8, multi-valued, binary)', () => {
    const bytes = encode({
      id: 7,
      dn: utf8('uid=user00010,ou=people,dc=example,dc=com'),
      attributes: [
        [utf8('objectClass'), ['top', 'person', 'inetOrgPerson'].map(utf8)],
        [utf8('cn'), [utf8('Jürgen Żółć')]],
        [utf8('jpegPhoto'), [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00])]],
        [utf8('description'), []],
      ],
    });
    const slow = decode(bytes, false, [], ['uid'], ['jpegPhoto']);
    const fast = decode(bytes, true, [], ['uid'], ['jpegPhoto']);
    expect(fast).toEqual(slow);
    expect(fast.entries[0]).toEqual(
      canonicalEntry({
        dn: 'uid=user00010,ou=people,dc=example,dc=com',
        objectClass: ['top', 'person', 'inetOrgPerson'],
        cn: 'Jürgen Żółć',
        jpegPhoto: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00]),
        description: [],
        uid: [],
      }),
    );
  });

  it('gives exactly the entries ldapts gives, for any messages and any way they arrive', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(4000), { maxLength: 3 }), requested, explicit, (messages, pieces, req, exp) => {
        const bytes = Buffer.concat(messages.map(encode));
        expect(decode(bytes, true, pieces, req, exp)).toEqual(decode(bytes, false, pieces, req, exp));
      }),
      { numRuns: 1500 },
    );
  });

  it('whatever corrupted entry it accepts, it decodes like ldapts (the rest goes to ldapts)', () => {
    // Only the entry's content is corrupted, and only what the fast path accepts is compared:
    // the rest goes to ldapts unchanged (which loops forever on some corrupt messages).
    let accepted = 0;
    fc.assert(
      fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), requested, explicit, (m, flips, req, exp) => {
        const bytes = Buffer.from(encode(m));
        const content = contentOffset(bytes);
        for (const [at, byte] of flips) bytes[content + (at % (bytes.length - content))] = byte;
        if (!decodesFast(bytes.subarray(content))) return;
        accepted++;
        expect(decode(bytes, true, [], req, exp)).toEqual(decode(bytes, false, [], req, exp));
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(300);
  });

  it('other messages are left to ldapts', () => {
    const w = new BerWriter();
    w.startSequence();
    w.writeInt(3);
    w.startSequence(0x65); // SearchResultDone
    w.writeEnumeration(0);
    w.writeString('');
    w.writeString('');
    w.endSequence();
    w.endSequence();
    expect(decode(w.buffer, true, [], [], [])).toEqual(decode(w.buffer, false, [], [], []));
    expect(decode(w.buffer, true, [], [], []).entries).toEqual(['SearchResponse']);
  });
});
