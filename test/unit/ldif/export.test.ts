/** export: the ldap adapter's record types applied to the in-memory directory, with LDAP's result codes. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ExportResult } from '../../../src/adapter-kit/adapter.js';
import { createLdifAdapter } from '../../../src/adapters/ldif/index.js';
import { adapterFor, config, dns, exportAll, get, rejection, silent, SMALL, writeFiles } from './helpers.js';

const people = 'ou=people,dc=example,dc=com';
const person = (uid: string, extra: Record<string, unknown> = {}) => ({
  op: 'add',
  dn: `uid=${uid},${people}`,
  attributes: { objectClass: ['inetOrgPerson'], uid, cn: `Person ${uid}`, sn: uid, ...extra },
});
const failure = (r: ExportResult | undefined): { code?: string; details?: unknown } => (r !== undefined && !r.ok ? { code: r.code } : {});

describe('add', () => {
  it('adds an entry that search and get then see; RDN values are added if missing (RFC 4511 §4.7)', async () => {
    const a = adapterFor(SMALL);
    expect(await exportAll(a, [{ op: 'add', dn: `uid=eve,${people}`, attributes: { objectClass: 'inetOrgPerson', cn: 'Eve', sn: 'E' } }])).toEqual([{ index: 0, ok: true }]);
    expect((await get(a, `uid=eve,${people}`)).attributes).toEqual({ objectClass: ['inetOrgPerson'], cn: ['Eve'], sn: ['E'], uid: ['eve'] });
    expect(await dns(a, { filter: '(uid=eve)' })).toEqual([`uid=eve,${people}`]);
  });

  it.each([
    ['an existing DN (any spelling)', { ...person('x'), dn: `UID=Zoe, ${people}` }, 'ALREADY_EXISTS'],
    ['a missing parent', { ...person('x'), dn: `uid=x,ou=nowhere,dc=example,dc=com` }, 'NOT_FOUND'],
    ['outside baseDN', { ...person('x'), dn: 'uid=x,dc=other,dc=com' }, 'OPERATION_NOT_ALLOWED'],
    ['no objectClass', { op: 'add', dn: `uid=x,${people}`, attributes: { cn: 'X' } }, 'CONSTRAINT_VIOLATION'],
    ['a value twice (case-insensitively)', person('x', { mail: ['x@example.com', 'X@Example.COM'] }), 'CONSTRAINT_VIOLATION'],
    ['a malformed record', { op: 'add', dn: `uid=x,${people}` }, 'BAD_REQUEST'],
    ['a malformed DN', { ...person('x'), dn: 'uid=x,,dc=example,dc=com' }, 'BAD_REQUEST'],
  ])('refuses %s', async (_what, record, code) => {
    const a = adapterFor(SMALL);
    const [r] = await exportAll(a, [record]);
    expect(failure(r).code).toBe(code);
    expect(await dns(a, { base: people, scope: 'one' })).toHaveLength(3);
  });

  it('reports the LDAP result code in details, like the ldap adapter', async () => {
    const a = adapterFor(SMALL);
    const [r] = await exportAll(a, [{ ...person('zoe') }]);
    expect(r).toMatchObject({ index: 0, ok: false, code: 'ALREADY_EXISTS', retryable: false });
    expect(r !== undefined && !r.ok ? r.message : '').toMatch(/entryAlreadyExists \(68\)/);
  });

  it('name;binary values are base64 and come back the same way', async () => {
    const a = adapterFor(SMALL);
    const photo = Buffer.from([0xff, 0xd8, 0x00, 0x01]).toString('base64');
    expect((await exportAll(a, [person('pic', { 'jpegPhoto;binary': photo })]))[0]?.ok).toBe(true);
    expect((await get(a, `uid=pic,${people}`, ['jpegPhoto'])).attributes).toEqual({ 'jpegPhoto;binary': [photo] });
  });
});

describe('modify', () => {
  it('add, delete (values or all), replace — in order', async () => {
    const a = adapterFor(SMALL);
    const results = await exportAll(a, [
      {
        op: 'modify',
        dn: `uid=zoe,${people}`,
        changes: [
          { operation: 'add', attribute: 'mail', values: ['zoe@new.example'] },
          { operation: 'delete', attribute: 'mail', values: ['ZOE@EXAMPLE.COM'] },
          { operation: 'delete', attribute: 'telephoneNumber' },
          { operation: 'replace', attribute: 'sn', values: ['Angstrom'] },
          { operation: 'replace', attribute: 'title', values: [] },
          { operation: 'add', attribute: 'title', values: ['Lead'] },
        ],
      },
    ]);
    expect(results).toEqual([{ index: 0, ok: true }]);
    const zoe = (await get(a, `uid=zoe,${people}`)).attributes;
    expect(zoe['mail']).toEqual(['Zoe.Angstrom@Mail.Example.com', 'zoe@new.example']);
    expect(zoe['telephoneNumber']).toBeUndefined();
    expect(zoe['sn']).toEqual(['Angstrom']);
    expect(zoe['title']).toEqual(['Lead']);
  });

  it.each([
    ['adding a value that is there', [{ operation: 'add', attribute: 'mail', values: ['zoe@example.com'] }], 'CONSTRAINT_VIOLATION', 'attributeOrValueExists (20)'],
    ['deleting a value that is not there', [{ operation: 'delete', attribute: 'mail', values: ['nobody@example.com'] }], 'CONSTRAINT_VIOLATION', 'noSuchAttribute (16)'],
    ['deleting an attribute that is not there', [{ operation: 'delete', attribute: 'title' }], 'CONSTRAINT_VIOLATION', 'noSuchAttribute (16)'],
    ['removing the RDN value', [{ operation: 'replace', attribute: 'uid', values: ['zoe2'] }], 'CONSTRAINT_VIOLATION', 'notAllowedOnRDN (67)'],
    ['deleting the RDN attribute', [{ operation: 'delete', attribute: 'UID' }], 'CONSTRAINT_VIOLATION', 'notAllowedOnRDN (67)'],
    ['removing every objectClass', [{ operation: 'delete', attribute: 'objectClass' }], 'CONSTRAINT_VIOLATION', 'objectClassViolation (65)'],
  ])('refuses %s, and applies none of the record’s changes', async (_what, failing, code, name) => {
    const a = adapterFor(SMALL);
    const before = (await get(a, `uid=zoe,${people}`)).attributes;
    const [r] = await exportAll(a, [{ op: 'modify', dn: `uid=zoe,${people}`, changes: [{ operation: 'replace', attribute: 'sn', values: ['Changed'] }, ...failing] }]);
    expect(r).toMatchObject({ ok: false, code });
    expect(r !== undefined && !r.ok ? r.message : '').toContain(name);
    expect((await get(a, `uid=zoe,${people}`)).attributes).toEqual(before);
  });

  it('an entry that does not exist is NOT_FOUND', async () => {
    const a = adapterFor(SMALL);
    const [r] = await exportAll(a, [{ op: 'modify', dn: `uid=nobody,${people}`, changes: [{ operation: 'replace', attribute: 'sn', values: ['x'] }] }]);
    expect(failure(r).code).toBe('NOT_FOUND');
  });
});

describe('delete', () => {
  it('deletes a leaf; a non-leaf is CONSTRAINT_VIOLATION; a missing entry NOT_FOUND', async () => {
    const a = adapterFor(SMALL);
    const results = await exportAll(a, [
      { op: 'delete', dn: `uid=bob,${people}` },
      { op: 'delete', dn: people },
      { op: 'delete', dn: `uid=bob,${people}` },
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'CONSTRAINT_VIOLATION', 'NOT_FOUND']);
    expect(results[1]?.ok === false ? results[1].message : '').toContain('notAllowedOnNonLeaf (66)');
    expect(await dns(a, { base: people, scope: 'one' })).toEqual([`uid=zoe,${people}`, `uid=carol,${people}`]);
  });
});

describe('rename', () => {
  it('new RDN in place: the old RDN value goes (deleteOldRdn default true), the new one is added', async () => {
    const a = adapterFor(SMALL);
    expect(await exportAll(a, [{ op: 'rename', dn: `uid=bob,${people}`, newRdn: 'uid=robert' }])).toEqual([{ index: 0, ok: true }]);
    expect((await get(a, `uid=robert,${people}`)).attributes['uid']).toEqual(['robert']);
    expect((await rejection(get(a, `uid=bob,${people}`))).code).toBe('NOT_FOUND');
  });

  it('deleteOldRdn: false keeps the old value; a new RDN of another type works too', async () => {
    const a = adapterFor(SMALL);
    expect((await exportAll(a, [{ op: 'rename', dn: `uid=bob,${people}`, newRdn: 'cn=Bobby', deleteOldRdn: false }]))[0]?.ok).toBe(true);
    const bobby = (await get(a, `cn=Bobby,${people}`)).attributes;
    expect(bobby['uid']).toEqual(['bob']);
    expect(bobby['cn']).toEqual(['Bob   Builder', 'Bobby']);
  });

  it('newSuperior moves the entry and its whole subtree', async () => {
    const a = adapterFor(SMALL);
    const results = await exportAll(a, [
      { op: 'add', dn: 'ou=archive,dc=example,dc=com', attributes: { objectClass: 'organizationalUnit' } },
      { op: 'rename', dn: people, newRdn: 'ou=former', newSuperior: 'ou=archive,dc=example,dc=com' },
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    const moved = await dns(a, { base: 'ou=archive,dc=example,dc=com' });
    expect(moved).toEqual([
      'ou=archive,dc=example,dc=com',
      'ou=former,ou=archive,dc=example,dc=com',
      'uid=zoe,ou=former,ou=archive,dc=example,dc=com',
      'uid=bob,ou=former,ou=archive,dc=example,dc=com',
      'uid=carol,ou=former,ou=archive,dc=example,dc=com',
    ]);
    expect((await get(a, 'uid=zoe,ou=former,ou=archive,dc=example,dc=com')).attributes['uid']).toEqual(['zoe']);
    expect((await rejection(dns(a, { base: people }))).code).toBe('NOT_FOUND');
  });

  it('a new superior given as the base in another spelling is inside', async () => {
    const a = adapterFor(SMALL);
    expect(await exportAll(a, [{ op: 'rename', dn: `uid=bob,${people}`, newRdn: 'uid=bob', newSuperior: 'DC=Example, dc=\\63om' }])).toEqual([{ index: 0, ok: true }]);
    expect((await get(a, 'uid=bob,dc=example,dc=com')).attributes['uid']).toEqual(['bob']);
  });

  it.each([
    ['onto an existing entry', { newRdn: 'uid=zoe' }, 'ALREADY_EXISTS'],
    ['below itself', { dn: people, newRdn: 'ou=p2', newSuperior: `uid=zoe,${people}` }, 'CONSTRAINT_VIOLATION'],
    ['to a missing parent', { newRdn: 'uid=bob', newSuperior: 'ou=nowhere,dc=example,dc=com' }, 'NOT_FOUND'],
    ['to a parent outside baseDN', { newRdn: 'uid=bob', newSuperior: 'dc=other,dc=com' }, 'OPERATION_NOT_ALLOWED'],
    ['the base entry (its new name would be outside)', { dn: 'dc=example,dc=com', newRdn: 'dc=renamed' }, 'OPERATION_NOT_ALLOWED'],
    ['the base entry to ou=escaped', { dn: 'dc=example,dc=com', newRdn: 'ou=escaped' }, 'OPERATION_NOT_ALLOWED'],
    ['the base entry spelled in upper case with spaces', { dn: 'DC=Example ,  DC=COM', newRdn: 'dc=renamed' }, 'OPERATION_NOT_ALLOWED'],
    ['the base entry spelled with hex escapes', { dn: 'dc=\\65xample,dc=c\\6Fm', newRdn: 'dc=renamed' }, 'OPERATION_NOT_ALLOWED'],
    ['the base entry under a new superior inside itself', { dn: 'dc=example,dc=com', newRdn: 'dc=renamed', newSuperior: people }, 'OPERATION_NOT_ALLOWED'],
    ['to a parent that only looks like the base', { newRdn: 'uid=bob', newSuperior: 'dc=example,dc=comX' }, 'OPERATION_NOT_ALLOWED'],
    ['a missing entry', { dn: `uid=nobody,${people}`, newRdn: 'uid=somebody' }, 'NOT_FOUND'],
    ['a newRdn of several RDNs', { newRdn: 'uid=a,ou=b' }, 'BAD_REQUEST'],
  ])('refuses a rename %s', async (_what, fields, code) => {
    const a = adapterFor(SMALL);
    const [r] = await exportAll(a, [{ op: 'rename', dn: `uid=bob,${people}`, ...fields }]);
    expect(failure(r).code).toBe(code);
    expect(await dns(a, {})).toHaveLength(7);
  });
});

describe('upsert and batches', () => {
  it('upsert adds, then replaces only the attributes given', async () => {
    const a = adapterFor(SMALL);
    const results = await exportAll(a, [
      { op: 'upsert', dn: `uid=fay,${people}`, attributes: { objectClass: 'inetOrgPerson', cn: 'Fay', sn: 'F', mail: 'fay@example.com' } },
      { op: 'upsert', dn: `uid=fay,${people}`, attributes: { mail: ['fay@new.example', 'f@new.example'] } },
    ]);
    expect(results).toEqual([
      { index: 0, ok: true, data: { action: 'added' } },
      { index: 1, ok: true, data: { action: 'replaced' } },
    ]);
    expect((await get(a, `uid=fay,${people}`)).attributes).toEqual({ objectClass: ['inetOrgPerson'], cn: ['Fay'], sn: ['F'], mail: ['fay@new.example', 'f@new.example'], uid: ['fay'] });
  });

  it('one result per record, in order; the batch goes on after failures', async () => {
    const a = adapterFor(SMALL);
    const results = await exportAll(a, [person('n1'), { op: 'explode' }, person('n1'), { op: 'delete', dn: `uid=n1,${people}` }, person('n2')]);
    expect(results.map((r) => [r.index, r.ok ? 'ok' : r.code])).toEqual([
      [0, 'ok'],
      [1, 'BAD_REQUEST'],
      [2, 'ALREADY_EXISTS'],
      [3, 'ok'],
      [4, 'ok'],
    ]);
  });

  it('writes stay in memory: the file is not written, a new adapter on it sees the original data', async () => {
    const [file = ''] = writeFiles({ 'data.ldif': SMALL });
    const cfg = config({ files: file, baseDN: 'dc=example,dc=com', operations: ['search', 'export'] });
    const a = createLdifAdapter('a', cfg, silent);
    await exportAll(a, [{ op: 'delete', dn: `uid=bob,${people}` }]);
    expect(await dns(a, { base: people, scope: 'one' })).toHaveLength(2);
    expect(readFileSync(file, 'utf8')).toBe(SMALL);
    const b = createLdifAdapter('b', cfg, silent);
    expect(await dns(b, { base: people, scope: 'one' })).toHaveLength(3);
  });
});
