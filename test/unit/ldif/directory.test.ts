/**
 * The directory's write API stores exactly what it is given: text and bytes as they are, `cn`
 * and `cn;binary` as one attribute, every option but `binary` kept, names with `\XX` escapes
 * (bytes that are not UTF-8) kept as those bytes through adds, renames and moves.
 */
import { describe, expect, it } from 'vitest';
import { Directory } from '../../../src/adapters/ldif/directory.js';
import { selection, toEntry } from '../../../src/adapters/ldif/entry.js';
import { withoutBinaryOption } from '../../../src/adapters/ldif/values.js';
import { adapterFor, exportAll, get } from './helpers.js';

const base = 'dc=example,dc=com';
const people = `ou=people,${base}`;
const b = (...parts: Array<string | number[] | Buffer>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
const b64 = (v: string | Buffer): string => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v).toString('base64');

function directory(): Directory {
  const dir = new Directory(base);
  dir.add(base, undefined, [{ name: 'objectClass', values: ['domain'] }]);
  dir.add(people, undefined, [{ name: 'objectClass', values: ['organizationalUnit'] }]);
  return dir;
}

function entryOf(dir: Directory, dn: string | Buffer, attributes?: string[]) {
  const node = dir.entry(dn);
  if (node === undefined) throw new Error(`no entry ${String(dn)}`);
  return toEntry(node, selection(attributes));
}

describe('withoutBinaryOption', () => {
  it('removes only the binary option, wherever it sits and however it is spelled', () => {
    expect(withoutBinaryOption('cn')).toBe('cn');
    expect(withoutBinaryOption('cn;binary')).toBe('cn');
    expect(withoutBinaryOption('jpegPhoto;BINARY;lang-en')).toBe('jpegPhoto;lang-en');
    expect(withoutBinaryOption('cn;lang-de;binary;x-a')).toBe('cn;lang-de;x-a');
    expect(withoutBinaryOption('cn;x-a;lang-de;Binary')).toBe('cn;x-a;lang-de');
    expect(withoutBinaryOption('cn;binaryx;x-binary')).toBe('cn;binaryx;x-binary');
  });
});

describe('values are stored as given', () => {
  it('strings and Buffers: a BOM, NUL and controls kept; UTF-8 bytes of a text type are that text; other bytes stay bytes', () => {
    const dir = directory();
    dir.add(`uid=a,${people}`, undefined, [
      { name: 'objectClass', values: ['person'] },
      { name: 'uid', values: ['a'] },
      { name: 'description', values: ['\uFEFFbom', 'nul\0', b('\uFEFFbytes'), b([0xff, 0x00]), '\u0001\u001f'] },
      { name: 'jpegPhoto', values: [b([0xff, 0xd8]), 'text given for a binary type'] },
    ]);
    expect(entryOf(dir, `uid=a,${people}`).attributes).toEqual({
      objectClass: ['person'],
      uid: ['a'],
      description: ['\uFEFFbom', 'nul\0', '\uFEFFbytes', '\u0001\u001f'],
      'description;binary': ['/wA='],
      'jpegPhoto;binary': ['/9g=', b64('text given for a binary type')],
    });
  });

  it('desc and desc;binary of one attribute are one attribute (add, modify, upsert); a value twice is refused whichever way it came', () => {
    const dir = directory();
    const dn = `uid=b,${people}`;
    dir.add(dn, undefined, [
      { name: 'objectClass', values: ['person'] },
      { name: 'uid', values: ['b'] },
      { name: 'description', values: ['text'] },
      { name: 'DESCRIPTION;binary', values: [b('Caf', [0xe9]), b('more text')] },
      { name: 'description;lang-de;binary', values: [b('Text')] },
      { name: 'description;LANG-DE', values: ['zwei'] },
    ]);
    expect(entryOf(dir, dn).attributes).toEqual({
      objectClass: ['person'],
      uid: ['b'],
      description: ['text', 'more text'],
      'description;binary': [b64(b('Caf', [0xe9]))],
      'description;lang-de': ['Text', 'zwei'],
    });
    expect(() => dir.modify(dn, undefined, [{ operation: 'add', name: 'description;binary', values: [b('TEXT')] }])).toThrow(/already in/);
    dir.modify(dn, undefined, [{ operation: 'delete', name: 'description;binary', values: [b('more text'), b('Caf', [0xe9])] }]);
    expect(entryOf(dir, dn, ['description']).attributes).toEqual({ description: ['text'], 'description;lang-de': ['Text', 'zwei'] });
    expect(dir.upsert(dn, undefined, [{ name: 'description', values: ['new'] }, { name: 'description;binary', values: [b([0xfe])] }])).toBe('replaced');
    expect(entryOf(dir, dn, ['description']).attributes).toEqual({ description: ['new'], 'description;binary': ['/g=='], 'description;lang-de': ['Text', 'zwei'] });
  });

  it('options other than binary are kept in the order written; binary types with options keep them', () => {
    const dir = directory();
    const dn = `uid=c,${people}`;
    dir.add(dn, undefined, [
      { name: 'objectClass', values: ['person'] },
      { name: 'uid', values: ['c'] },
      { name: 'title;x-foo;lang-en', values: ['one'] },
      { name: 'title;lang-en;binary;x-foo', values: [b('two')] },
      { name: 'jpegPhoto;binary;lang-en', values: [b([1])] },
      { name: 'jpegPhoto;lang-en', values: [b([2])] },
      { name: 'userCertificate;binary', values: [b([3])] },
    ]);
    expect(entryOf(dir, dn).attributes).toEqual({
      objectClass: ['person'],
      uid: ['c'],
      'title;x-foo;lang-en': ['one', 'two'],
      'jpegPhoto;lang-en;binary': ['AQ==', 'Ag=='],
      'userCertificate;binary': ['Aw=='],
    });
  });
});

describe('names with bytes that are not UTF-8', () => {
  const cafe = b('cn=Caf', [0xe9], `,${people}`);

  it('a name given escaped or as bytes is the same entry, with dn;binary; siblings differing in those bytes are others', () => {
    const dir = directory();
    dir.add(`cn=Caf\\e9,${people}`, undefined, [{ name: 'objectClass', values: ['person'] }]);
    dir.add(b('cn=Caf', [0xff], `,${people}`), undefined, [{ name: 'objectClass', values: ['person'] }]);
    dir.add(`cn=Caf\uFFFD,${people}`, undefined, [{ name: 'objectClass', values: ['person'] }]);
    expect(() => dir.add(cafe, undefined, [{ name: 'objectClass', values: ['person'] }])).toThrow(/already exists/);
    const e = entryOf(dir, cafe);
    expect(e).toEqual({ dn: `cn=Caf\\E9,${people}`, 'dn;binary': b64(cafe), attributes: { objectClass: ['person'], 'cn;binary': [b64(b('Caf', [0xe9]))] } });
    expect(entryOf(dir, `cn=Caf\\FF,${people}`)['dn;binary']).toBe(b64(b('cn=Caf', [0xff], `,${people}`)));
    expect(entryOf(dir, `cn=Caf\uFFFD,${people}`)).toEqual({ dn: `cn=Caf\uFFFD,${people}`, attributes: { objectClass: ['person'], cn: ['Caf\uFFFD'] } });
  });

  it('children of such a name, a rename to one and a move below one carry the bytes', () => {
    const dir = directory();
    dir.add(cafe, undefined, [{ name: 'objectClass', values: ['organizationalRole'] }]);
    dir.add(`uid=kid,cn=Caf\\E9,${people}`, undefined, [{ name: 'objectClass', values: ['person'] }]);
    expect(entryOf(dir, `uid=kid,cn=Caf\\E9,${people}`)).toMatchObject({ dn: `uid=kid,cn=Caf\\E9,${people}`, 'dn;binary': b64(b('uid=kid,', cafe)) });
    dir.rename(cafe, undefined, 'cn=\\ED\\A0\\80 x', undefined, true);
    expect(dir.entry(cafe)).toBeUndefined();
    const renamed = b('cn=', [0xed, 0xa0, 0x80], ` x,${people}`);
    expect(entryOf(dir, renamed)).toEqual({ dn: `cn=\\ED\\A0\\80 x,${people}`, 'dn;binary': b64(renamed), attributes: { objectClass: ['organizationalRole'], 'cn;binary': [b64(b([0xed, 0xa0, 0x80], ' x'))] } });
    expect(entryOf(dir, b('uid=kid,', renamed))).toMatchObject({ dn: `uid=kid,cn=\\ED\\A0\\80 x,${people}`, 'dn;binary': b64(b('uid=kid,', renamed)) });
    // Renamed back to text, the subtree's names are UTF-8 again.
    dir.rename(renamed, undefined, 'cn=plain', undefined, true);
    expect(entryOf(dir, `uid=kid,cn=plain,${people}`)).toEqual({ dn: `uid=kid,cn=plain,${people}`, attributes: { objectClass: ['person'], uid: ['kid'] } });
    dir.rename(`uid=kid,cn=plain,${people}`, undefined, 'uid=kid', b('cn=plain,', people), false);
    dir.add(b('ou=', [0xfe], `,${people}`), undefined, [{ name: 'objectClass', values: ['organizationalUnit'] }]);
    dir.rename(`cn=plain,${people}`, undefined, 'cn=plain', `ou=\\FE,${people}`, false);
    expect(entryOf(dir, `uid=kid,cn=plain,ou=\\FE,${people}`)['dn;binary']).toBe(b64(b('uid=kid,cn=plain,ou=', [0xfe], `,${people}`)));
  });

  it('export upsert: name and name;binary replace one attribute together', async () => {
    const adapter = adapterFor(`dn: ${base}\nobjectClass: domain\n\ndn: uid=u,${base}\nobjectClass: person\nuid: u\ndescription: old\n`);
    const upsert = { op: 'upsert', dn: `uid=u,${base}`, attributes: { description: ['\uFEFFtext'], 'description;binary': ['/w=='] } };
    expect(await exportAll(adapter, [upsert])).toEqual([{ index: 0, ok: true, data: { action: 'replaced' } }]);
    expect((await get(adapter, `uid=u,${base}`)).attributes).toEqual({ objectClass: ['person'], uid: ['u'], description: ['\uFEFFtext'], 'description;binary': ['/w=='] });
  });

  it('round trip through the adapter: get → export add (dn with \\XX escapes) → get gives the same entry', async () => {
    const source = adapterFor(`dn: ${base}\nobjectClass: domain\n\ndn: ${people}\nobjectClass: organizationalUnit\n\ndn:: ${b64(cafe)}\nobjectClass: person\ncn:: ${b64(b('Caf', [0xe9]))}\ncn: \uFEFFAnna\ndescription;lang-de:: ${b64(b([0xff]))}\njpegPhoto;binary;lang-en:: /9j/\n`);
    const target = adapterFor(`dn: ${base}\nobjectClass: domain\n\ndn: ${people}\nobjectClass: organizationalUnit\n`);
    const entry = await get(source, `cn=Caf\\E9,${people}`);
    expect(entry.attributes).toEqual({ objectClass: ['person'], 'cn;binary': [b64(b('Caf', [0xe9]))], cn: ['\uFEFFAnna'], 'description;lang-de;binary': ['/w=='], 'jpegPhoto;lang-en;binary': ['/9j/'] });
    expect(await exportAll(target, [{ op: 'add', dn: entry.dn, attributes: entry.attributes }])).toEqual([{ index: 0, ok: true }]);
    const copy = await get(target, entry.dn);
    expect(copy).toEqual(entry);
  });
});

describe('names are kept as written (stored as the part in front of the parent when they end with its DN)', () => {
  const person = (uid: string) => [
    { name: 'objectClass', values: ['person'] },
    { name: 'uid', values: [uid] },
  ];

  it('a child spelled like its parent, one spelled otherwise, an escaped comma, spaces: each dn exactly as written', () => {
    const dir = directory();
    const written = [
      `uid=same,${people}`,
      `UID=Other,OU=People,DC=Example,DC=com`,
      `uid=a\\,b,${people}`,
      `uid=sp ace ,${people}`,
      `uid=a long name well past thirteen characters,${people}`,
    ];
    for (const dn of written) dir.add(dn, undefined, person(dn.slice(dn.indexOf('=') + 1, dn.search(/(?<!\\),/)).replace('\\,', ',')));
    expect(written.map((dn) => entryOf(dir, dn).dn)).toEqual(written);
    expect(entryOf(dir, 'uid=other,ou=people,dc=example,dc=com').dn).toBe('UID=Other,OU=People,DC=Example,DC=com');
    expect(entryOf(dir, `uid=a\\2Cb,${people}`, ['uid']).attributes).toEqual({ uid: ['a,b'] });
  });

  it('a renamed container takes its subtree along: every name below follows, on get, search and entryDN', () => {
    const dir = directory();
    dir.add(`ou=team,${people}`, undefined, [{ name: 'objectClass', values: ['organizationalUnit'] }]);
    dir.add(`uid=x,ou=team,${people}`, undefined, person('x'));
    dir.add(`UID=Y,OU=Team,${people}`, undefined, person('Y'));
    dir.rename(`ou=team,${people}`, undefined, 'ou=crew', base, true);
    expect(dir.entry(`uid=x,ou=team,${people}`)).toBeUndefined();
    expect(entryOf(dir, `uid=x,ou=crew,${base}`, ['entryDN']).attributes).toEqual({ entryDN: [`uid=x,ou=crew,${base}`] });
    // A name spelled otherwise is formatted from its RDN below the new parent, as the ldap adapter's server would.
    expect(entryOf(dir, `uid=y,ou=crew,${base}`).dn).toBe(`UID=Y,ou=crew,${base}`);
    const root = dir.lookup(base);
    if (root === undefined) throw new Error('no base');
    expect([...dir.walk(root, 'sub')].map((n) => n.dn)).toEqual([base, people, `ou=crew,${base}`, `uid=x,ou=crew,${base}`, `UID=Y,ou=crew,${base}`]);
  });
});
