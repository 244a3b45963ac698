/** ldapts entries → `{dn, attributes: {name: string[]}}`, binary values base64 under `;binary`. */
import fc from 'fast-check';
import type { Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { bufferAttributesFor, encodeValues, entryJson, isBase64, isBinaryAttribute, normaliseEntry } from '../../../src/adapters/ldap/entry.js';

describe('normaliseEntry', () => {
  it('scalars become one-element arrays, arrays stay, empty (missing requested) attributes are dropped', () => {
    expect(normaliseEntry({ dn: 'uid=a,dc=x', uid: 'a', mail: ['a@x', 'b@x'], description: [], '*': [] })).toEqual({
      dn: 'uid=a,dc=x',
      attributes: { uid: ['a'], mail: ['a@x', 'b@x'] },
    });
  });

  it('keeps UTF-8 text and attribute options as they are', () => {
    expect(normaliseEntry({ dn: 'cn=Zoë Ågren,dc=x', cn: 'Zoë Ågren', 'cn;lang-de': 'Zoë' }).attributes).toEqual({ cn: ['Zoë Ågren'], 'cn;lang-de': ['Zoë'] });
  });

  it('Buffers (known binary types, or values that were not UTF-8) go base64 under name;binary', () => {
    const photo = Buffer.from([0xff, 0xd8, 0x00, 0xff]);
    const blob = Buffer.from([0xc3, 0x28]);
    expect(normaliseEntry({ dn: 'x=1', jpegPhoto: photo, someBlob: [blob, Buffer.from('ok')] }).attributes).toEqual({
      'jpegPhoto;binary': [photo.toString('base64')],
      'someBlob;binary': [blob.toString('base64'), Buffer.from('ok').toString('base64')],
    });
  });

  it('a known binary type that arrived as a string (valid UTF-8 bytes) is still base64', () => {
    expect(normaliseEntry({ dn: 'x=1', objectGUID: 'abc' }).attributes).toEqual({ 'objectGUID;binary': [Buffer.from('abc').toString('base64')] });
  });

  it('a name that already has ;binary is not doubled', () => {
    const cert = Buffer.from([0x30, 0x82, 0x01]);
    expect(normaliseEntry({ dn: 'x=1', 'userCertificate;binary': cert }).attributes).toEqual({ 'userCertificate;binary': [cert.toString('base64')] });
  });

  it('an attribute named like an Object.prototype member stays a plain key', () => {
    const e = normaliseEntry({ dn: 'x=1', constructor: 'c', toString: 't' });
    expect(Object.keys(e.attributes)).toEqual(['constructor', 'toString']);
    expect(e.attributes['constructor']).toEqual(['c']);
  });
});

describe('entryJson', () => {
  const reference = (e: Entry): string => JSON.stringify(normaliseEntry(e));

  it('is JSON.stringify(normaliseEntry(entry)) on the cases above', () => {
    const photo = Buffer.from([0xff, 0xd8, 0x00, 0xff]);
    const entries: Entry[] = [
      { dn: 'uid=a,dc=x', uid: 'a', mail: ['a@x', 'b@x'], description: [], '*': [] },
      { dn: 'cn=Zoë Ågren,dc=x', cn: 'Zoë Ågren', 'cn;lang-de': 'Zoë' },
      { dn: 'x=1', jpegPhoto: photo, someBlob: [Buffer.from([0xc3, 0x28]), Buffer.from('ok')] },
      { dn: 'x=1', objectGUID: 'abc', 'userCertificate;binary': Buffer.from([0x30]) },
      { dn: 'x=1', constructor: 'c', toString: 't' },
      { dn: 'x="quoted" \\ back\nslash', description: ['tab\there', 'nul\u0000', 'emoji 😀', 'lone \ud800', '\u2028'] },
      // The reference path: names objects order first, a ;binary name that would collide.
      { dn: 'x=1', cn: 'a', '7': 'seven', '2.5.4.3': 'oid' },
      { dn: 'x=1', jpegPhoto: photo, 'jpegPhoto;binary': Buffer.from([1]) },
    ];
    for (const e of entries) expect(entryJson(e)).toBe(reference(e));
  });

  it('is JSON.stringify(normaliseEntry(entry)) on any entry (property)', () => {
    const name = fc.oneof(
      fc.constantFrom('cn', 'mail', 'jpegPhoto', 'JPEGPHOTO', 'objectGUID', 'x;binary', 'userCertificate;binary', 'cn;lang-de', '0', '12', 'constructor', '__proto__', 'dn'),
      fc.string({ minLength: 1, maxLength: 8 }),
    );
    const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));
    const bytes = fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a));
    const value = fc.oneof(text, bytes);
    const raw = fc.oneof(value, fc.array(value, { maxLength: 4 }));
    const entry = fc.record({ dn: text, attrs: fc.array(fc.tuple(name, raw), { maxLength: 8 }) }).map(({ dn, attrs }) => {
      const e: Entry = { dn };
      // Assigned like ldapts' toObject does (so `__proto__` behaves as it does there).
      for (const [n, r] of attrs) if (n !== 'dn') e[n] = r as Entry[string]; // mixed arrays too (ldapts does not make them)
      return e;
    });
    fc.assert(
      fc.property(entry, (e) => {
        expect(entryJson(e)).toBe(reference(e));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('binary attribute helpers', () => {
  it('isBinaryAttribute: known types in any case, and the ;binary option', () => {
    expect(isBinaryAttribute('jpegPhoto')).toBe(true);
    expect(isBinaryAttribute('JPEGPHOTO')).toBe(true);
    expect(isBinaryAttribute('objectSid')).toBe(true);
    expect(isBinaryAttribute('foo;binary')).toBe(true);
    expect(isBinaryAttribute('cn')).toBe(false);
  });

  it('bufferAttributesFor: canonical, lower-case and the caller’s spelling', () => {
    const names = bufferAttributesFor(['JpegPhoto', 'cn']);
    expect(names).toEqual(expect.arrayContaining(['jpegPhoto', 'jpegphoto', 'JpegPhoto', 'userCertificate']));
    expect(names).not.toContain('cn');
  });

  it('encodeValues: base64 → Buffers; ;binary kept only for certificate types (RFC 4522)', () => {
    expect(encodeValues('cn', ['a'])).toEqual({ name: 'cn', values: ['a'] });
    expect(encodeValues('jpegPhoto;binary', ['/9j/'])).toEqual({ name: 'jpegPhoto', values: [Buffer.from([0xff, 0xd8, 0xff])] });
    expect(encodeValues('userCertificate;binary', ['MAMCAQE='])).toEqual({ name: 'userCertificate;binary', values: [Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])] });
  });

  it('isBase64 is strict', () => {
    expect(isBase64('')).toBe(true);
    expect(isBase64('/9j/')).toBe(true);
    expect(isBase64('MAMCAQE=')).toBe(true);
    expect(isBase64('not base64!')).toBe(false);
    expect(isBase64('abc')).toBe(false);
  });
});
