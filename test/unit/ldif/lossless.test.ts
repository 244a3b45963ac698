/**
 * The LDIF directory is lossless under the entry contract: hostile-but-valid LDIF (BOMs, NUL and
 * control characters, every script, long values, bytes that are not UTF-8 in values and names,
 * case-variant and repeated descriptions, options in any order, binary types with options)
 * comes back from `get` and `search` exactly as the contract says (reference.ts, written from
 * the contract), and a property test does the same for random records.
 */
import fc from 'fast-check';
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { LdapEntry } from '../../../src/adapters/directory/entry.js';
import { adapterFor, ctx, dns, get, searchAll } from './helpers.js';
import { contractEntry, ldifOf, type Line, type TestRecord } from './reference.js';

const people = 'ou=people,dc=example,dc=com';
const HEAD = `version: 1\n\ndn: dc=example,dc=com\nobjectClass: domain\n\ndn: ${people}\nobjectClass: organizationalUnit\n\n`;
const bytes = (...parts: Array<string | number[] | Buffer>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
const b64 = (v: string | Buffer): string => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v).toString('base64');

/** Exactly the contract's entry, keys in the contract's order. */
function expectContract(actual: LdapEntry | undefined, record: TestRecord): void {
  const expected = contractEntry(record);
  expect(actual).toEqual(expected);
  expect(Object.keys(actual ?? {})).toEqual(Object.keys(expected));
  expect(Object.keys(actual?.attributes ?? {})).toEqual(Object.keys(expected.attributes));
}

const SCRIPTS = 'Ελληνικά Кириллица Հայերեն ქართული العربية עברית हिन्दी বাংলা தமிழ் ไทย ລາວ བོད 中文 日本語 한국어 ᚠᚢᚦ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧 e\u0301 \u200f\u202e ﬁ Ａ';
const LONG = `${'Lorem ipsum dolor sit amet, ünïcödé ✓ '.repeat(3000)}end`;
const CAFE = bytes('Caf', [0xe9]);
const PHOTO = bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF', [0x00, 0x01]);

/** A record with everything the contract has to carry, its name not UTF-8. */
const HOSTILE: TestRecord = {
  dn: bytes('cn=', CAFE, `,${people}`),
  lines: [
    { description: 'objectClass', value: 'person' },
    { description: 'cn', value: '\uFEFFAnna', form: 'plain' },
    { description: 'sn', value: 'x' },
    { description: 'cn', value: CAFE },
    { description: 'CN', value: 'Anna' },
    { description: 'description', value: '\uFEFFa BOM, base64', form: 'base64' },
    { description: 'description', value: 'NUL \0 and controls \u0001\u001b\u007f\t end' },
    { description: 'description', value: SCRIPTS, form: 'plain' },
    { description: 'description', value: Buffer.from([0xff]) },
    { description: 'description', value: bytes([0xed, 0xa0, 0x80]) },
    { description: 'description', value: LONG, form: 'plain' },
    { description: 'description;lang-de', value: 'Beschreibung' },
    { description: 'DESCRIPTION;LANG-DE', value: 'zweite' },
    { description: 'title;x-foo;lang-en', value: 'one' },
    { description: 'title;LANG-EN;X-FOO', value: 'two' },
    { description: 'title;lang-en', value: 'three' },
    { description: 'jpegPhoto;lang-en;binary', value: PHOTO },
    { description: 'jpegPhoto;binary;lang-en', value: bytes('second photo') },
    { description: 'jpegPhoto', value: bytes('plain photo') },
    { description: 'userCertificate;binary', value: bytes([0x30, 0x82, 0x01, 0x0a]) },
    { description: 'cn;binary', value: bytes('Anne') },
    { description: 'telephoneNumber', value: '' },
  ],
};

describe('a hostile record', () => {
  const adapter = adapterFor(Buffer.concat([Buffer.from('\uFEFF'), ldifOf([HOSTILE], { head: HEAD, width: 76 })]));
  const dn = `cn=Caf\\E9,${people}`;

  it('comes back as the contract says, written out by hand', async () => {
    const e = await get(adapter, dn);
    expect(Object.keys(e)).toEqual(['dn', 'dn;binary', 'attributes']);
    expect(e.dn).toBe(dn);
    expect(e['dn;binary']).toBe(b64(bytes('cn=', CAFE, `,${people}`)));
    expect(e.attributes).toEqual({
      objectClass: ['person'],
      cn: ['\uFEFFAnna', 'Anna', 'Anne'],
      'cn;binary': [b64(CAFE)],
      sn: ['x'],
      description: ['\uFEFFa BOM, base64', 'NUL \0 and controls \u0001\u001b\u007f\t end', SCRIPTS, LONG],
      'description;binary': ['/w==', '7aCA'],
      'description;lang-de': ['Beschreibung', 'zweite'],
      'title;x-foo;lang-en': ['one', 'two'],
      'title;lang-en': ['three'],
      'jpegPhoto;lang-en;binary': [b64(PHOTO), b64('second photo')],
      'jpegPhoto;binary': [b64('plain photo')],
      'userCertificate;binary': ['MIIBCg=='],
      telephoneNumber: [''],
    });
    expect(Object.keys(e.attributes)).toEqual([
      'objectClass',
      'cn',
      'cn;binary',
      'sn',
      'description',
      'description;binary',
      'description;lang-de',
      'title;x-foo;lang-en',
      'title;lang-en',
      'jpegPhoto;lang-en;binary',
      'jpegPhoto;binary',
      'userCertificate;binary',
      'telephoneNumber',
    ]);
  });

  it('get by dn, by dn;binary (which wins over dn), and search give the contract entry', async () => {
    expectContract(await get(adapter, dn), HOSTILE);
    const byBytes = (await lastValueFrom(adapter.get!({ 'dn;binary': b64(HOSTILE.dn), dn: `cn=nobody,${people}` }, ctx))) as LdapEntry;
    expectContract(byBytes, HOSTILE);
    const found = await searchAll(adapter, { base: people, scope: 'one' });
    expect(found.entries).toHaveLength(1);
    expectContract(found.entries[0], HOSTILE);
    expectContract((await searchAll(adapter, { base: dn, scope: 'base' })).entries[0], HOSTILE);
    // Another spelling of the same name finds it; the entry keeps its own.
    expect((await get(adapter, `CN=Caf\\e9, OU=People,dc=example,dc=com`)).dn).toBe(dn);
  });

  it('the name is not U+FFFD: other invalid bytes, or the character U+FFFD, name nothing', async () => {
    for (const other of [`cn=Caf\\FF,${people}`, `cn=Caf\\EF\\BF\\BD,${people}`, `cn=Caf\uFFFD,${people}`, `cn=Caf\\C3\\A9,${people}`]) {
      expect((await searchAll(adapter, { base: other, scope: 'base' }).catch((e: unknown) => e)) as object).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  it('attribute selection keeps both keys of an attribute and brings subtypes', async () => {
    const pick = async (attributes: string[]) => (await get(adapter, dn, attributes)).attributes;
    expect(Object.keys(await pick(['description']))).toEqual(['description', 'description;binary', 'description;lang-de']);
    expect(Object.keys(await pick(['JPEGPHOTO']))).toEqual(['jpegPhoto;lang-en;binary', 'jpegPhoto;binary']);
    expect(Object.keys(await pick(['title;lang-en']))).toEqual(['title;x-foo;lang-en', 'title;lang-en']);
    expect(Object.keys(await pick(['title;x-foo;lang-en']))).toEqual(['title;x-foo;lang-en']);
    expect(await pick(['cn;binary'])).toEqual({ cn: ['\uFEFFAnna', 'Anna', 'Anne'], 'cn;binary': [b64(CAFE)] });
    expect(await pick(['+'])).toEqual({ 'entryDN;binary': [b64(HOSTILE.dn)], hasSubordinates: ['FALSE'] });
  });

  it('filters match exact values sensibly (matching normalises, storage does not)', async () => {
    const find = async (filter: string) => (await dns(adapter, { base: people, scope: 'one', filter })).length;
    expect(await find('(cn=anna)')).toBe(1);
    expect(await find('(cn=\\ef\\bb\\bfAnna)')).toBe(1);
    expect(await find('(cn=Caf\\e9)')).toBe(1);
    expect(await find('(description=\\ff)')).toBe(1);
    expect(await find('(description=\\ed\\a0\\80)')).toBe(1);
    expect(await find('(description=nul \\00 and controls*)')).toBe(1);
    expect(await find('(description=*中文 日本語*)')).toBe(1);
    expect(await find('(description=*ünïcödé ✓*end)')).toBe(1);
    expect(await find('(title=three)')).toBe(1);
    expect(await find('(jpegPhoto=\\ff\\d8\\ff\\e0\\00\\10JFIF\\00\\01)')).toBe(1);
    expect(await find('(entryDN=CN=Caf\\5ce9,ou=people,dc=example,dc=com)')).toBe(1);
    // Bytes that are not UTF-8 compare byte for byte (octetStringMatch): `caf\\E9` is another name.
    expect(await find('(entryDN=cn=caf\\5ce9,ou=people,dc=example,dc=com)')).toBe(0);
    expect(await find('(cn=Cafe)')).toBe(0);
    expect(await find('(description=\\fe)')).toBe(0);
  });
});

describe('values that are equal only to matching are kept apart', () => {
  it('a BOM, a tab and a dotted capital I make values of their own (as OpenLDAP stores them)', async () => {
    const record: TestRecord = {
      dn: `uid=kept,${people}`,
      lines: [
        { description: 'objectClass', value: 'person' },
        { description: 'uid', value: 'kept' },
        { description: 'description', value: 'x' },
        { description: 'description', value: '\uFEFFx' },
        { description: 'description', value: 'a b' },
        { description: 'description', value: 'a\tb' },
        { description: 'description', value: '\u0130' },
        { description: 'description', value: 'i\u0307' },
      ],
    };
    const adapter = adapterFor(ldifOf([record], { head: HEAD }));
    expectContract(await get(adapter, `uid=kept,${people}`), record);
    // Equality still finds them all the way matching rules compare (RFC 4518 §2.2).
    expect(await dns(adapter, { filter: '(description=X)' })).toHaveLength(1);
    expect(await dns(adapter, { filter: '(description=a  b)' })).toHaveLength(1);
    expect(await dns(adapter, { filter: '(description=a\\09b)' })).toHaveLength(1);
  });

  it('values equal to matching in one attribute are refused, as a server refuses them', async () => {
    const adapter = adapterFor(`${HEAD}dn: uid=twice,${people}\nobjectClass: person\ndescription: Anna\ndescription: ANNA\n`);
    expect((await searchAll(adapter, {}).catch((e: unknown) => e)) as object).toMatchObject({ code: 'UPSTREAM_ERROR' });
  });
});

describe('property: random records → LDIF → load → get and search give the contract entries', () => {
  const TYPES = ['cn', 'sn', 'description', 'title', 'jpegPhoto', 'userCertificate', 'photo', 'mail'];
  const OPTIONS = ['lang-de', 'x-foo', 'lang-en'];
  const recase = (s: string, flips: readonly boolean[]) => [...s].map((c, i) => (flips[i % flips.length] === true ? c.toUpperCase() : c.toLowerCase())).join('');

  /** Values a directory could hold: hostile text and arbitrary bytes. */
  const value = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.string({ unit: 'binary', maxLength: 8 }).map((s) => `\uFEFF${s}`),
    fc.constantFrom('\0', '\u0001\t\u001b', ' lead', 'trail ', ':colon', '<angle', '#hash', SCRIPTS, 'x'.repeat(5000), ''),
    fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)),
    fc.constantFrom(bytes([0xed, 0xa0, 0x80]), bytes([0xf8, 0x88, 0x80, 0x80, 0x80]), bytes([0xc0, 0xaf]), bytes('caf', [0xe9]), bytes([0xff])),
  );
  const description = fc
    .record({
      type: fc.constantFrom(...TYPES),
      options: fc.subarray(OPTIONS),
      order: fc.array(fc.integer(), { minLength: 3, maxLength: 3 }),
      binaryAt: fc.option(fc.integer({ min: 0, max: 3 })),
      flips: fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
    })
    .map(({ type, options, order, binaryAt, flips }) => {
      const sorted = [...options].sort((x, y) => (order[OPTIONS.indexOf(x)] ?? 0) - (order[OPTIONS.indexOf(y)] ?? 0));
      if (binaryAt !== null) sorted.splice(Math.min(binaryAt, sorted.length), 0, 'binary');
      return recase([type, ...sorted].join(';'), flips);
    });
  const record = fc.record({
    rdn: value.filter((v) => (typeof v === 'string' ? v : v.toString('latin1')) !== ''),
    rdnSpelling: fc.constantFrom('cn', 'CN', 'Cn'),
    lines: fc.array(fc.record({ description, value, form: fc.constantFrom<Line['form']>(undefined, 'base64') }), { maxLength: 12 }),
    rdnAt: fc.nat(),
  });

  /** What a directory would refuse as the same value twice is left out (more eagerly than the directory). */
  const sameValueKey = (d: string, v: string | Buffer): string => {
    const binaryType = ['jpegphoto', 'usercertificate', 'photo'].includes(d.split(';')[0]?.toLowerCase() ?? '');
    const buf = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    if (binaryType) return `x${buf.toString('hex')}`;
    const text = buf.toString('utf8');
    return buf.equals(Buffer.from(text, 'utf8')) ? `t${text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim()}` : `x${buf.toString('hex')}`;
  };

  /** Attribute identity and value key of a line, for leaving out what the directory would refuse. */
  const lineKey = (l: Line): string =>
    `${l.description.split(';')[0]?.toLowerCase()};${[...new Set(l.description.toLowerCase().split(';').slice(1))].filter((o) => o !== 'binary').sort().join(';')} ${sameValueKey(l.description, l.value)}`;

  /** The record as LDIF writes it: the RDN value among the cn values, bytes escaped as RFC 4514 says. */
  function toRecord(r: { rdn: string | Buffer; rdnSpelling: string; lines: Line[]; rdnAt: number }): { record: TestRecord; name: string } {
    const rdn = typeof r.rdn === 'string' ? Buffer.from(r.rdn, 'utf8') : r.rdn;
    const escaped = Buffer.concat(
      [...rdn].map((x, i) =>
        ',+"\\<>;=\0'.includes(String.fromCharCode(x)) || (i === 0 && (x === 0x20 || x === 0x23)) || (i === rdn.length - 1 && x === 0x20)
          ? Buffer.from(`\\${x.toString(16).padStart(2, '0')}`)
          : Buffer.from([x]),
      ),
    );
    // The RDN's value is kept; other lines a directory would take for one already there are not.
    const rdnLine: Line = { description: r.rdnSpelling, value: rdn };
    const seen = new Set<string>([lineKey(rdnLine)]);
    const lines = r.lines.filter((l) => {
      const key = lineKey(l);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    lines.splice(r.rdnAt % (lines.length + 1), 0, rdnLine);
    return {
      record: { dn: Buffer.concat([Buffer.from('cn='), escaped, Buffer.from(`,${people}`)]), lines: [{ description: 'objectClass', value: 'person' }, ...lines] },
      name: sameValueKey('cn', rdn),
    };
  }

  it('holds for every generated directory (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 5 }), fc.option(fc.integer({ min: 8, max: 80 })), async (raw, width) => {
        // One entry per name (as the directory sees names: case and spaces aside, bytes as bytes).
        const names = new Set<string>();
        const records = raw.map(toRecord).flatMap(({ record: r, name }) => {
          if (names.has(name)) return [];
          names.add(name);
          return [r];
        });
        const adapter = adapterFor(ldifOf(records, { head: HEAD, ...(width === null ? {} : { width }) }));
        const found = await searchAll(adapter, { base: people, scope: 'one' });
        expect(found.entries).toHaveLength(records.length);
        for (const [i, r] of records.entries()) {
          const expected = contractEntry(r);
          expectContract(found.entries[i], r);
          expectContract(await get(adapter, expected.dn), r);
          if (expected['dn;binary'] !== undefined) {
            expectContract((await lastValueFrom(adapter.get!({ 'dn;binary': expected['dn;binary'] }, ctx))) as LdapEntry, r);
          }
        }
      }),
      { seed: 20261205, numRuns: 150 },
    );
  });
});
