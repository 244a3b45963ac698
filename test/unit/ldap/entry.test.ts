/**
 * Entries by the contract (docs/protocol.md, "Entries") from values given as strings and
 * Buffers (the LDIF adapter's way in), attribute descriptions, and the write side: encodeValues
 * and writeAttributes.
 */
import fc from 'fast-check';
import type { Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { attributeIdentity, isBinaryAttribute, withoutBinaryOption } from '../../../src/adapters/directory/description.js';
import { entryJson, losslessEntry, normaliseEntry, valuesOf } from '../../../src/adapters/ldap/entry.js';
import { buildEntry, encodeValues, isBase64, writeAttributes } from '../../../src/adapters/directory/entry.js';
import { ProtocolError } from '../../../src/protocol/index.js';
import { referenceEntry } from './entry-reference.js';

const SEED = 0x10e2;
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

function fails(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error('expected a ProtocolError');
}

describe('normaliseEntry / buildEntry (values given as strings and Buffers)', () => {
  it('scalars become one-element arrays, arrays stay, attributes without values are left out', () => {
    expect(normaliseEntry({ dn: 'uid=a,dc=x', uid: 'a', mail: ['a@x', 'b@x'], description: [], '*': [] })).toEqual({
      dn: 'uid=a,dc=x',
      attributes: { uid: ['a'], mail: ['a@x', 'b@x'] },
    });
  });

  it('text exactly as given (a BOM, NUL, controls), options kept', () => {
    expect(normaliseEntry({ dn: 'cn=Zoë,dc=x', cn: ['\ufeffZoë', 'a\u0000b\u0007'], 'cn;lang-de': 'Zoë' }).attributes).toEqual({
      cn: ['\ufeffZoë', 'a\u0000b\u0007'],
      'cn;lang-de': ['Zoë'],
    });
  });

  it('a Buffer is text when it is UTF-8 and the type is not binary; each other value goes base64 under ;binary', () => {
    const photo = Buffer.from([0xff, 0xd8, 0x00, 0xff]);
    const blob = Buffer.from([0xc3, 0x28]);
    expect(normaliseEntry({ dn: 'x=1', jpegPhoto: photo, someBlob: [blob, utf8('\ufeffok')] }).attributes).toEqual({
      'jpegPhoto;binary': [photo.toString('base64')],
      someBlob: ['\ufeffok'],
      'someBlob;binary': [blob.toString('base64')],
    });
  });

  it('a binary type given as text is base64 of its UTF-8; a name with ;binary is not doubled', () => {
    expect(normaliseEntry({ dn: 'x=1', objectGUID: 'abc', 'userCertificate;binary': Buffer.from([0x30]) }).attributes).toEqual({
      'objectGUID;binary': [utf8('abc').toString('base64')],
      'userCertificate;binary': ['MA=='],
    });
  });

  it('descriptions that differ in case or option order are one attribute, under the first spelling; aliases and other option sets stay apart', () => {
    const e = buildEntry('cn=x', [
      ['cn', ['a']],
      ['commonName', ['alias']],
      ['CN', ['b', Buffer.from([0xff])]],
      ['cn;binary', [Buffer.from([0xfe])]],
      ['cn;lang-de;x-a', ['de']],
      ['CN;X-A;LANG-DE', ['de2']],
      ['cn;lang-de', ['de only']],
    ]);
    expect(e.attributes).toEqual({
      cn: ['a', 'b'],
      'cn;binary': ['/w==', '/g=='],
      commonName: ['alias'],
      'cn;lang-de;x-a': ['de', 'de2'],
      'cn;lang-de': ['de only'],
    });
    expect(Object.keys(e.attributes)).toEqual(['cn', 'cn;binary', 'commonName', 'cn;lang-de;x-a', 'cn;lang-de']);
  });

  it('a DN given as bytes that are not UTF-8: escaped dn plus dn;binary', () => {
    const dn = Buffer.concat([utf8('cn=caf'), Buffer.from([0xe9]), utf8(',dc=x')]);
    expect(buildEntry(dn, [])).toEqual({ dn: 'cn=caf\\E9,dc=x', 'dn;binary': dn.toString('base64'), attributes: {} });
    expect(buildEntry(utf8('cn=café,dc=x'), [])).toEqual({ dn: 'cn=café,dc=x', attributes: {} });
  });

  it('an attribute named like an Object.prototype member stays a plain key', () => {
    const e = normaliseEntry({ dn: 'x=1', constructor: 'c', toString: 't' });
    expect(Object.keys(e.attributes)).toEqual(['constructor', 'toString']);
    expect(e.attributes['constructor']).toEqual(['c']);
  });

  it('Buffers and runs: the same entry the reference gives (property)', () => {
    const name = fc.constantFrom('cn', 'CN', 'cn;binary', 'cn;lang-de', 'CN;Lang-DE', 'mail', 'jpegPhoto', 'JPEGPHOTO;binary', 'objectGUID', '7', '__proto__');
    const value = fc.oneof(
      fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
      fc.string({ unit: 'grapheme', maxLength: 8 }).map(utf8),
    );
    const runs = fc.array(fc.tuple(name.map(utf8), fc.array(value, { maxLength: 3 })), { maxLength: 6 });
    const dn = fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(dn, runs, (d, rs) => {
        const built = buildEntry(
          d,
          rs.map(([n, vs]) => [n.toString('utf8'), vs] as const),
        );
        expect(JSON.stringify(built)).toBe(JSON.stringify(referenceEntry(d, rs)));
      }),
      { numRuns: 1000, seed: SEED },
    );
  });
});

describe('entryJson of entries without bytes', () => {
  it('is JSON.stringify(normaliseEntry(entry)) (property)', () => {
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
      for (const [n, r] of attrs) if (n !== 'dn') e[n] = r as Entry[string];
      return e;
    });
    fc.assert(
      fc.property(entry, (e) => {
        expect(entryJson(e)).toBe(JSON.stringify(normaliseEntry(e)));
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('losslessEntry refuses an entry that was not decoded from its bytes (INTERNAL)', () => {
    expect(fails(() => losslessEntry({ dn: 'cn=x', cn: 'x' })).code).toBe('INTERNAL');
  });

  it('valuesOf: case-insensitive name, text', () => {
    expect(valuesOf({ dn: '', namingContexts: ['dc=a', 'dc=b'] }, 'NAMINGCONTEXTS')).toEqual(['dc=a', 'dc=b']);
    expect(valuesOf({ dn: '', x: utf8('y') }, 'x')).toEqual(['y']);
    expect(valuesOf(undefined, 'x')).toEqual([]);
  });
});

describe('attribute descriptions', () => {
  it('isBinaryAttribute: known types in any case, the ;binary option anywhere', () => {
    expect(isBinaryAttribute('jpegPhoto')).toBe(true);
    expect(isBinaryAttribute('JPEGPHOTO;lang-en')).toBe(true);
    expect(isBinaryAttribute('objectSid')).toBe(true);
    expect(isBinaryAttribute('foo;binary')).toBe(true);
    expect(isBinaryAttribute('foo;BINARY;lang-en')).toBe(true);
    expect(isBinaryAttribute('foo;binaryish')).toBe(false);
    expect(isBinaryAttribute('cn')).toBe(false);
  });

  it('attributeIdentity: case-insensitive, options a set, binary aside', () => {
    expect(attributeIdentity('CN;X-A;Lang-DE')).toBe(attributeIdentity('cn;lang-de;x-a'));
    expect(attributeIdentity('cn;binary')).toBe(attributeIdentity('cn'));
    expect(attributeIdentity('cn;lang-de;lang-de')).toBe(attributeIdentity('cn;lang-de'));
    expect(attributeIdentity('cn;lang-de')).not.toBe(attributeIdentity('cn'));
    expect(attributeIdentity('commonName')).not.toBe(attributeIdentity('cn'));
  });

  it('withoutBinaryOption keeps every other option in order', () => {
    expect(withoutBinaryOption('jpegPhoto;lang-en;binary')).toBe('jpegPhoto;lang-en');
    expect(withoutBinaryOption('x;Binary;lang-en;x-b')).toBe('x;lang-en;x-b');
    expect(withoutBinaryOption('x;binaryish')).toBe('x;binaryish');
  });
});

describe('write side', () => {
  it('encodeValues: only ;binary is removed, every other option kept; certificate types keep ;binary (RFC 4522)', () => {
    expect(encodeValues('cn', ['\ufeffa'])).toEqual({ name: 'cn', values: ['\ufeffa'] });
    expect(encodeValues('jpegPhoto;binary', ['/9j/'])).toEqual({ name: 'jpegPhoto', values: [Buffer.from([0xff, 0xd8, 0xff])] });
    expect(encodeValues('jpegPhoto;lang-en;binary', ['/9j/'])).toEqual({ name: 'jpegPhoto;lang-en', values: [Buffer.from([0xff, 0xd8, 0xff])] });
    expect(encodeValues('cn;binary;lang-de', ['6Q=='])).toEqual({ name: 'cn;lang-de', values: [Buffer.from([0xe9])] });
    expect(encodeValues('userCertificate;binary', ['MAMCAQE='])).toEqual({ name: 'userCertificate;binary', values: [Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])] });
  });

  it('encodeValues: BAD_REQUEST for values that are not base64 under ;binary, and for lone surrogates in text', () => {
    expect(fails(() => encodeValues('jpegPhoto;binary', ['%%%'])).code).toBe('BAD_REQUEST');
    expect(fails(() => encodeValues('cn', ['a\ud800'])).message).toContain('lone UTF-16 surrogate');
  });

  it('writeAttributes: desc and desc;binary of one attribute are ONE attribute (values in key order), different descriptions never merged', () => {
    const attrs = writeAttributes({
      cn: ['a'],
      'jpegPhoto;lang-en;binary': ['/9g='],
      'jpegPhoto;binary': ['/9k='],
      'cn;binary': ['6Q=='],
      'CN;Lang-DE': ['de'],
      'cn;lang-de': ['de2'],
      'userCertificate;binary': ['MA=='],
      mail: ['m@x'],
    });
    expect(attrs.map((a) => [a.type, a.values])).toEqual([
      ['cn', [utf8('a'), Buffer.from([0xe9])]],
      ['jpegPhoto;lang-en', [Buffer.from([0xff, 0xd8])]],
      ['jpegPhoto', [Buffer.from([0xff, 0xd9])]],
      ['CN;Lang-DE', ['de', 'de2']],
      ['userCertificate;binary', [Buffer.from([0x30])]],
      ['mail', ['m@x']],
    ]);
  });

  it('writeAttributes: a certificate type given as text and as ;binary is sent with ;binary', () => {
    expect(writeAttributes({ userCertificate: ['x'], 'userCertificate;binary': ['MA=='] }).map((a) => a.type)).toEqual(['userCertificate;binary']);
    expect(writeAttributes({ userCertificate: ['x'] }).map((a) => a.type)).toEqual(['userCertificate']);
  });

  it('writeAttributes: BAD_REQUEST as encodeValues', () => {
    expect(fails(() => writeAttributes({ 'x;binary': ['not base64'] })).code).toBe('BAD_REQUEST');
    expect(fails(() => writeAttributes({ x: ['\udc00'] })).code).toBe('BAD_REQUEST');
  });

  it('isBase64 is strict', () => {
    expect(isBase64('')).toBe(true);
    expect(isBase64('/9j/')).toBe(true);
    expect(isBase64('MAMCAQE=')).toBe(true);
    expect(isBase64('not base64!')).toBe(false);
    expect(isBase64('abc')).toBe(false);
  });
});
