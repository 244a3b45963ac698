/** search: scopes, scope checks, lazy paging, sizeLimit truncation, attribute selection, binary values. */
import { lastValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Directory } from '../../../src/adapters/ldif/directory.js';
import { SearchCursor } from '../../../src/adapters/ldif/search.js';
import { adapterFor, ctx, dns, exportAll, pullPage, rejection, searchAll, searchOf, SMALL } from './helpers.js';

const people = 'ou=people,dc=example,dc=com';

/** A base entry and `n` people, uid=u0000… */
function many(n: number): string {
  const lines = ['dn: dc=example,dc=com', 'objectClass: domain', '', 'dn: ou=people,dc=example,dc=com', 'objectClass: organizationalUnit', ''];
  for (let i = 0; i < n; i++) {
    const uid = `u${String(i).padStart(4, '0')}`;
    lines.push(`dn: uid=${uid},ou=people,dc=example,dc=com`, 'objectClass: person', `cn: User ${i}`, `sn: ${i % 2 === 0 ? 'even' : 'odd'}`, '');
  }
  return lines.join('\n');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('scopes', () => {
  const adapter = adapterFor(SMALL);

  it('base, one and sub', async () => {
    expect(await dns(adapter, { base: people, scope: 'base' })).toEqual([people]);
    expect(await dns(adapter, { base: people, scope: 'one' })).toEqual([`uid=zoe,${people}`, `uid=bob,${people}`, `uid=carol,${people}`]);
    expect(await dns(adapter, { base: 'dc=example,dc=com', scope: 'one' })).toEqual([people, 'ou=groups,dc=example,dc=com']);
    expect(await dns(adapter, {})).toHaveLength(7);
    expect((await dns(adapter, { base: people }))[0]).toBe(people);
  });

  it('a base DN is matched like a DN (case, spacing)', async () => {
    expect(await dns(adapter, { base: 'OU=People, DC=Example,DC=COM', scope: 'one' })).toHaveLength(3);
  });

  it('a base outside baseDN is OPERATION_NOT_ALLOWED; one that does not exist is NOT_FOUND', async () => {
    expect((await rejection(searchAll(adapter, { base: 'dc=other,dc=com' }))).code).toBe('OPERATION_NOT_ALLOWED');
    expect((await rejection(searchAll(adapter, { base: 'dc=com' }))).code).toBe('OPERATION_NOT_ALLOWED');
    expect((await rejection(searchAll(adapter, { base: `ou=nobody,${people}` }))).code).toBe('NOT_FOUND');
  });

  it('bad parameters are BAD_REQUEST listing every problem', async () => {
    const e = await rejection(searchAll(adapter, { scope: 'deep', sizeLimit: -1, attributes: ['b@d'], filtr: '(a=b)' }));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toContain("scope: expected 'base' | 'one' | 'sub'");
    expect(e.message).toContain('sizeLimit');
    expect(e.message).toContain("unknown key 'filtr'");
  });

  it('a base DN without an entry of its own (a bare naming context) still has children', async () => {
    const bare = adapterFor('dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n');
    expect(await dns(bare, { scope: 'base' })).toEqual([]);
    expect(await dns(bare, { scope: 'one' })).toEqual([people]);
    expect((await rejection(lastValueFrom(bare.get!({ dn: 'dc=example,dc=com' }, ctx)))).code).toBe('NOT_FOUND');
  });
});

describe('paging', () => {
  it('pages of pageSize; the config caps a caller’s pageSize; the last page says last', async () => {
    const adapter = adapterFor(many(25), { pageSize: 10 });
    const all = await searchAll(adapter, { base: people, scope: 'one' });
    expect(all.pages.map((p) => [p.items.length, p.last])).toEqual([
      [10, false],
      [10, false],
      [5, true],
    ]);
    expect(new Set(all.entries.map((e) => e.dn)).size).toBe(25);
    expect((await searchAll(adapter, { base: people, scope: 'one', pageSize: 1000 })).pages).toHaveLength(3);
    expect((await searchAll(adapter, { base: people, scope: 'one', pageSize: 4 })).pages).toHaveLength(7);
  });

  it('lazy: nothing is read before the first pull, and each pull walks only one page (plus one read ahead)', async () => {
    const adapter = adapterFor(many(1000), { pageSize: 10 });
    const walk = Directory.prototype.walk;
    let visited = 0;
    vi.spyOn(Directory.prototype, 'walk').mockImplementation(function* (this: Directory, ...args: Parameters<Directory['walk']>) {
      for (const node of walk.apply(this, args)) {
        visited++;
        yield node;
      }
    });
    const pages = vi.spyOn(SearchCursor.prototype, 'nextPage');
    const source = searchOf(adapter, { base: people, scope: 'one', filter: '(sn=odd)' });
    expect(pages).not.toHaveBeenCalled();
    const first = await pullPage(source);
    expect(first.items).toHaveLength(10);
    expect(pages).toHaveBeenCalledTimes(1);
    // 10 odd matches and the 11th read ahead: 22 people looked at, not 1000.
    expect(visited).toBe(22);
    await pullPage(source);
    expect(visited).toBe(42);
    source.close();
    expect(pages).toHaveBeenCalledTimes(2);
  });

  it('sizeLimit cuts the result short with truncated: true; exactly reaching it is not truncation', async () => {
    const adapter = adapterFor(many(5), { pageSize: 2 });
    const cut = await searchAll(adapter, { base: people, scope: 'one', sizeLimit: 3 });
    expect(cut.pages.map((p) => [p.items.length, p.last, p.truncated])).toEqual([
      [2, false, undefined],
      [1, true, true],
    ]);
    const exact = await searchAll(adapter, { base: people, scope: 'one', sizeLimit: 5 });
    expect(exact.entries).toHaveLength(5);
    expect(exact.pages.at(-1)).toEqual({ items: [expect.anything()], last: true });
    expect((await searchAll(adapter, { base: people, scope: 'one', sizeLimit: 0 })).entries).toHaveLength(5);
  });

  it('an entry read ahead and deleted before its page is not returned', async () => {
    const adapter = adapterFor(many(3), { pageSize: 1 });
    const source = searchOf(adapter, { base: people, scope: 'one' });
    const first = await pullPage(source);
    expect(first.items.map((e) => e.dn)).toEqual([`uid=u0000,${people}`]);
    await exportAll(adapter, [{ op: 'delete', dn: `uid=u0001,${people}` }]);
    const second = await pullPage(source);
    expect(second.items.map((e) => e.dn)).toEqual([`uid=u0002,${people}`]);
    source.close();
  });

  it('a closed source answers CANCELLED; a finished one answers an empty last page', async () => {
    const adapter = adapterFor(many(3), { pageSize: 10 });
    const done = searchOf(adapter, { base: people });
    expect((await pullPage(done)).last).toBe(true);
    const after = await lastValueFrom(done.pull());
    expect([after.items.count, after.last]).toEqual([0, true]);
    const closed = searchOf(adapter, { base: people });
    closed.close();
    expect((await rejection(lastValueFrom(closed.pull()))).code).toBe('CANCELLED');
  });
});

describe('attribute selection and values', () => {
  const adapter = adapterFor(`${SMALL}
dn: uid=dave,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: dave
cn: Dave
sn: D
description:: ${Buffer.from([0xff, 0xfe, 0x00]).toString('base64')}
`);
  const zoe = async (attributes?: string[]): Promise<Record<string, string[]>> =>
    (await searchAll(adapter, { base: `uid=zoe,${people}`, scope: 'base', ...(attributes === undefined ? {} : { attributes }) })).entries[0]?.attributes ?? {};

  it('no list or [] or * = every user attribute, multi-valued as lists, in the order written', async () => {
    const all = await zoe();
    expect(Object.keys(all)).toEqual(['objectClass', 'uid', 'cn', 'cn;lang-sv', 'sn', 'mail', 'employeeNumber', 'telephoneNumber']);
    expect(all['mail']).toEqual(['zoe@example.com', 'Zoe.Angstrom@Mail.Example.com']);
    expect(await zoe([])).toEqual(all);
    expect(await zoe(['*'])).toEqual(all);
  });

  it('names are case-insensitive, a type brings its subtypes, 1.1 alone = none, + = operational', async () => {
    expect(await zoe(['CN', 'Mail'])).toEqual({ cn: ['Zoë Ångström'], 'cn;lang-sv': ['Zoë Ångström på svenska'], mail: ['zoe@example.com', 'Zoe.Angstrom@Mail.Example.com'] });
    expect(await zoe(['cn;lang-sv'])).toEqual({ 'cn;lang-sv': ['Zoë Ångström på svenska'] });
    expect(await zoe(['1.1'])).toEqual({});
    expect(await zoe(['1.1', 'uid'])).toEqual({ uid: ['zoe'] });
    expect(await zoe(['+'])).toEqual({ entryDN: [`uid=zoe,${people}`], hasSubordinates: ['FALSE'] });
    expect(Object.keys(await zoe(['*', '+']))).toHaveLength(10);
    expect(await zoe(['nosuch'])).toEqual({});
  });

  it('binary values travel base64 under name;binary, as the ldap adapter sends them', async () => {
    const carol = (await searchAll(adapter, { base: `uid=carol,${people}`, scope: 'base', attributes: ['jpegPhoto'] })).entries[0];
    expect(carol?.attributes).toEqual({ 'jpegPhoto;binary': ['/9j/4AAQSkZJRg=='] });
    const dave = (await searchAll(adapter, { base: `uid=dave,${people}`, scope: 'base', attributes: ['description;binary'] })).entries[0];
    expect(dave?.attributes).toEqual({ 'description;binary': [Buffer.from([0xff, 0xfe, 0x00]).toString('base64')] });
  });
});
