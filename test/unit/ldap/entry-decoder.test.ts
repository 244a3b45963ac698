/**
 * SearchResultEntry messages → entry JSON, byte for byte: for any message (any bytes in values
 * and DN, descriptions repeated in several runs, in other cases and option orders), both the
 * fast decoder and the path through ldapts' parser give exactly the entry the contract
 * describes (`entry-reference.ts`), however the message is cut into reads; and writing the
 * attributes back (`writeAttributes`) sends each attribute's exact bytes.
 */
import fc from 'fast-check';
import { BerReader, BerWriter, MessageParser, SearchEntry, type Attribute, type Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { decodesFast, hookMessageParser, LOSSLESS_ENTRIES } from '../../../src/adapters/ldap/entry-decoder.js';
import { entryJson, normaliseEntry } from '../../../src/adapters/ldap/entry.js';
import { writeAttributes, type LdapEntry } from '../../../src/adapters/directory/entry.js';
import { encode, referenceEntry, type Message, type Run } from './entry-reference.js';

const SEED = 0x10e1;

/** Feeds `bytes` in `pieces` to a hooked parser and returns the entries (and errors) it emits. */
function decode(bytes: Buffer, fast: boolean, pieces: readonly number[] = [], requested: string[] = [], explicit: string[] = LOSSLESS_ENTRIES): { entries: Entry[]; errors: string[] } {
  const parser = new MessageParser();
  expect(hookMessageParser(parser, { fast })).toBe(true);
  const entries: Entry[] = [];
  const errors: string[] = [];
  parser.on('message', (m) => {
    if (m instanceof SearchEntry) entries.push(m.toObject(requested, explicit));
  });
  parser.on('error', (err: Error) => errors.push(err.message));
  let at = 0;
  for (const cut of [...pieces.map((p) => Math.min(p, bytes.length)).sort((a, b) => a - b), bytes.length]) {
    if (cut > at) parser.read(bytes.subarray(at, cut), new Map());
    at = Math.max(at, cut);
  }
  return { entries, errors };
}

const jsonOf = (bytes: Buffer, fast: boolean, pieces: readonly number[] = []): string[] => {
  const { entries, errors } = decode(bytes, fast, pieces);
  expect(errors).toEqual([]);
  return entries.map(entryJson);
};

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

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const bytes = (...b: number[]): Buffer => Buffer.from(b);
const BOM = bytes(0xef, 0xbb, 0xbf);
const SURROGATE = bytes(0xed, 0xa0, 0x80); // U+D800 in three bytes: not UTF-8, slapd accepts it
const FIVE_BYTE = bytes(0xf8, 0x88, 0x80, 0x80, 0x80);

// Descriptions: case variants and option orders of a few attributes, binary types, `;binary`,
// aliases (kept apart), names objects treat specially.
const description = fc
  .oneof(
    fc.constantFrom('cn', 'CN', 'Cn', 'commonName', 'mail', 'MAIL', 'description', 'userPassword', 'title'),
    fc.constantFrom('cn;lang-de', 'CN;LANG-DE', 'cn;lang-de;x-a', 'cn;X-A;Lang-DE', 'cn;x-a', 'cn;binary', 'CN;Binary', 'cn;lang-de;binary'),
    fc.constantFrom('jpegPhoto', 'JPEGPHOTO', 'jpegPhoto;lang-en', 'jpegPhoto;LANG-EN;binary', 'jpegPhoto;binary', 'userCertificate;binary', 'userCertificate', 'objectGUID'),
    fc.constantFrom('__proto__', 'constructor', 'toString', '7', '0', 'dn', 'x;binary;lang-en'),
    fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9-]{0,6}(;[a-zA-Z-]{1,5}){0,2}$/),
  )
  .map(utf8);

const value = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(utf8),
  fc.string({ unit: 'binary', maxLength: 12 }).map(utf8), // lone surrogates become EF BF BD (valid)
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)), // mostly not UTF-8
  fc.string({ maxLength: 6 }).map((s) => Buffer.concat([BOM, utf8(s)])),
  fc.string({ maxLength: 6 }).map((s) => Buffer.concat([utf8(s), bytes(0), utf8('\u0001\u001f\u007f\u2028')])),
  fc.constantFrom(SURROGATE, FIVE_BYTE, bytes(0xc0, 0xaf), utf8('caf\u00e9').subarray(0, 4), bytes(0xff), utf8('\ufffd')),
  fc.constant(Buffer.alloc(0)),
  fc.constant(Buffer.alloc(300, 0x61)), // long-form length
);

const dn = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => utf8(`cn=${s},dc=example,dc=com`)),
  fc.tuple(fc.constantFrom(SURROGATE, FIVE_BYTE, bytes(0xe9), bytes(0xff), BOM, utf8('\\2C')), fc.string({ maxLength: 4 })).map(([b, s]) =>
    Buffer.concat([utf8(`cn=${s}`), b, utf8(',ou=people,dc=example,dc=com')]),
  ),
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
);

const runs: fc.Arbitrary<Run[]> = fc.array(fc.tuple(description, fc.array(value, { maxLength: 4 })), { maxLength: 8 });
const message: fc.Arbitrary<Message> = fc.record({ id: fc.integer({ min: 1, max: 2 ** 31 - 1 }), dn, attributes: runs });

describe('SearchResultEntry → entry JSON (the contract, byte for byte)', () => {
  it('a BOM, a split attribute and a DN that is not UTF-8 come through', () => {
    const m: Message = {
      id: 3,
      dn: Buffer.concat([utf8('cn='), SURROGATE, utf8(',ou=people,dc=example,dc=com')]),
      attributes: [
        [utf8('cn'), [Buffer.concat([BOM, utf8('Anna')])]],
        [utf8('sn'), [utf8('A')]],
        [utf8('userPassword'), [Buffer.concat([BOM, utf8('{SSHA}x')]), bytes(0xff, 0x00)]],
        [utf8('CN'), [utf8('split'), bytes(0xe9)]],
        [utf8('jpegPhoto;lang-en'), [bytes(0xff, 0xd8)]],
        [utf8('jpegPhoto'), [utf8('text bytes')]],
        [utf8('mail'), []],
      ],
    };
    const expected = {
      dn: 'cn=\\ED\\A0\\80,ou=people,dc=example,dc=com',
      'dn;binary': Buffer.concat([utf8('cn='), SURROGATE, utf8(',ou=people,dc=example,dc=com')]).toString('base64'),
      attributes: {
        cn: ['\ufeffAnna', 'split'],
        'cn;binary': ['6Q=='],
        sn: ['A'],
        userPassword: ['\ufeff{SSHA}x'],
        'userPassword;binary': ['/wA='],
        'jpegPhoto;lang-en;binary': ['/9g='],
        'jpegPhoto;binary': [utf8('text bytes').toString('base64')],
      },
    };
    for (const fast of [true, false]) {
      expect(jsonOf(encode(m), fast)).toEqual([JSON.stringify(expected)]);
      expect(normaliseEntry(decode(encode(m), fast).entries[0] as Entry)).toEqual(expected);
    }
    expect(JSON.stringify(referenceEntry(m.dn, m.attributes))).toBe(JSON.stringify(expected));
  });

  it('keys that are array indices come where an object puts them (as get gives them)', () => {
    const m: Message = { id: 1, dn: utf8('cn=x'), attributes: [[utf8('cn'), [utf8('x')]], [utf8('7'), [utf8('seven')]], [utf8('0'), [bytes(0xff)]]] };
    const json = jsonOf(encode(m), true)[0] ?? '';
    expect(Object.keys((JSON.parse(json) as LdapEntry).attributes)).toEqual(['7', 'cn', '0;binary']);
    expect(json).toBe(JSON.stringify(normaliseEntry(decode(encode(m), true).entries[0] as Entry)));
  });

  it('is the contract’s entry for any message, on the fast path and through ldapts, however it arrives (property)', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(3000), { maxLength: 3 }), (messages, pieces) => {
        const all = Buffer.concat(messages.map(encode));
        const expected = messages.map((m) => JSON.stringify(referenceEntry(m.dn, m.attributes)));
        expect(jsonOf(all, true, pieces)).toEqual(expected);
        expect(jsonOf(all, false, pieces)).toEqual(expected);
        // get's object is the same entry.
        expect(decode(all, true, pieces).entries.map((e) => JSON.stringify(normaliseEntry(e)))).toEqual(expected);
      }),
      { numRuns: 1500, seed: SEED },
    );
  });

  it('a message the fast path does not take (an attribute without a value set) is still decoded losslessly', () => {
    fc.assert(
      fc.property(message, fc.nat(), (m, at) => {
        const plain = encode(m);
        // The same entry with one more attribute whose SEQUENCE has a type and no SET: ldapts reads
        // it as an attribute without values; the fast path refuses the shape.
        const w = new BerWriter();
        w.startSequence();
        w.writeInt(m.id);
        w.startSequence(0x64);
        w.writeBuffer(m.dn, 0x04);
        w.startSequence();
        const where = at % (m.attributes.length + 1);
        m.attributes.forEach(([type, values], k) => {
          if (k === where) {
            w.startSequence();
            w.writeString('noValues');
            w.endSequence();
          }
          w.startSequence();
          w.writeBuffer(type, 0x04);
          w.startSequence(0x31);
          for (const v of values) w.writeBuffer(v, 0x04);
          w.endSequence();
          w.endSequence();
        });
        if (where === m.attributes.length) {
          w.startSequence();
          w.writeString('noValues');
          w.endSequence();
        }
        w.endSequence();
        w.endSequence();
        w.endSequence();
        const odd = Buffer.from(w.buffer);
        expect(decodesFast(odd.subarray(contentOffset(odd)))).toBe(false);
        expect(jsonOf(odd, true)).toEqual(jsonOf(plain, true));
        expect(jsonOf(odd, true)).toEqual([JSON.stringify(referenceEntry(m.dn, m.attributes))]);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('whatever corrupted entry the fast path accepts, it decodes like the path through ldapts', () => {
    // Only what the fast path accepts is compared: ldapts loops forever on some corrupt messages.
    let accepted = 0;
    fc.assert(
      fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), (m, flips) => {
        const b = Buffer.from(encode(m));
        const content = contentOffset(b);
        for (const [at, byte] of flips) b[content + (at % (b.length - content))] = byte;
        if (!decodesFast(b.subarray(content))) return;
        accepted++;
        const fast = decode(b, true);
        const slow = decode(b, false);
        expect(fast.errors).toEqual(slow.errors);
        expect(fast.entries.map(entryJson)).toEqual(slow.entries.map(entryJson));
      }),
      { numRuns: 2000, seed: SEED },
    );
    expect(accepted).toBeGreaterThan(200);
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
    const parser = new MessageParser();
    hookMessageParser(parser);
    const seen: string[] = [];
    parser.on('message', (m: object) => seen.push(m.constructor.name));
    parser.read(Buffer.from(w.buffer), new Map());
    expect(seen).toEqual(['SearchResponse']);
  });
});

describe('entries for other searches (root DSE, subschema): ldapts-shaped, nothing lost', () => {
  it('runs merged, text exact, Buffers for ;binary, explicit names and non-UTF-8 values, [] for missing requested names', () => {
    const m: Message = {
      id: 1,
      dn: utf8(''),
      attributes: [
        [utf8('namingContexts'), [utf8('dc=example,dc=com')]],
        [utf8('description'), [Buffer.concat([BOM, utf8('x')])]],
        [utf8('NamingContexts'), [utf8('dc=other')]],
        [utf8('blob'), [utf8('ok'), bytes(0xff)]],
        [utf8('x;binary'), [utf8('a')]],
        [utf8('explicit'), [utf8('b')]],
      ],
    };
    for (const fast of [true, false]) {
      const e = decode(encode(m), fast, [], ['namingContexts', 'missing'], ['explicit']).entries[0] as Entry;
      expect(Object.fromEntries(Object.entries(e))).toEqual({
        dn: '',
        namingContexts: ['dc=example,dc=com', 'dc=other'],
        description: '\ufeffx',
        blob: [utf8('ok'), bytes(0xff)],
        'x;binary': utf8('a'),
        explicit: utf8('b'),
        missing: [],
      });
      // …and its bytes are still there for the JSON.
      expect(entryJson(e)).toBe(JSON.stringify(referenceEntry(m.dn, m.attributes)));
    }
  });
});

/** The values an `Attribute` puts on the wire, as a client would send them. */
function sentValues(a: Attribute): Buffer[] {
  const w = new BerWriter();
  a.write(w);
  const r = new BerReader(Buffer.from(w.buffer));
  r.readSequence();
  r.readString();
  r.readSequence(0x31);
  const end = r.offset + r.length;
  const out: Buffer[] = [];
  while (r.offset < end) out.push(Buffer.from(r.readString(0x04, true) ?? Buffer.alloc(0)));
  return out;
}

describe('writeAttributes(search output) sends the bytes that were read', () => {
  it('round trip per attribute (property)', () => {
    fc.assert(
      fc.property(runs, (rs) => {
        const entry = referenceEntry(utf8('cn=x'), rs);
        const attributes = writeAttributes(entry.attributes);
        // One attribute per attribute of the entry (runs merged, `x` and `x;binary` together).
        const expected = new Map<string, Buffer[]>();
        const named = new Map<string, string>();
        for (const [desc, values] of rs) {
          if (values.length === 0) continue;
          const spelling = desc.toString('utf8');
          const id = identity(spelling);
          if (!expected.has(id)) named.set(id, spelling);
          expected.set(id, [...(expected.get(id) ?? []), ...values]);
        }
        expect(attributes).toHaveLength(expected.size);
        for (const a of attributes) {
          const id = identity(a.type);
          const sorted = (xs: Buffer[]): string[] => xs.map((x) => x.toString('hex')).sort();
          expect(sorted(sentValues(a))).toEqual(sorted(expected.get(id) ?? []));
          const first = named.get(id) ?? '';
          // Sent under the first spelling, only `;binary` removed (certificate types keep it if binary).
          const plain = first.split(';').filter((o, k) => k === 0 || o.toLowerCase() !== 'binary').join(';');
          expect([plain, `${plain};binary`, first]).toContain(a.type);
          if (!/^(usercertificate|cacertificate)$/i.test(plain.split(';')[0] ?? '')) expect(a.type).toBe(plain);
        }
      }),
      { numRuns: 1000, seed: SEED },
    );
  });
});

/** Same attribute? (type and options case-insensitive, options a set, binary aside) */
function identity(description: string): string {
  const [type = '', ...options] = description.toLowerCase().split(';');
  return [type, ...[...new Set(options)].filter((o) => o !== 'binary').sort()].join(';');
}
