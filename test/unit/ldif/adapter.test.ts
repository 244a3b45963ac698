/** Config codec, loading (file:line errors, retries), test/get/schema/attributes, error table, demo data. */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isLeft } from 'fp-ts/lib/Either.js';
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { LdifDataSourceConfig, describeLdifTarget, resolveLdifPaths } from '../../../src/adapters/ldif/config.js';
import { FILE_ERRORS, toProtocolError } from '../../../src/adapters/ldif/errors.js';
import { createLdifAdapter, type DerivedSchema, type LdifTestResult } from '../../../src/adapters/ldif/index.js';
import { LdifError } from '../../../src/adapters/ldif/parse-ldif.js';
import { DataSourceConfigCodec } from '../../../src/config/data-source-registry.js';
import { reportErrors } from '../../../src/support/io-ts-report.js';
import { adapterFor, config, ctx, dns, get, rejection, silent, SMALL, tempDir, writeFiles } from './helpers.js';

const problems = (input: unknown): string[] => {
  const r = LdifDataSourceConfig.decode(input);
  return isLeft(r) ? reportErrors(r.left).map((p) => `${p.path.join('.')}: ${p.message}`) : [];
};

describe('config', () => {
  it('defaults: pageSize 500, read-only operations; files may be one path or a list', () => {
    const c = config({ files: 'a.ldif', baseDN: 'dc=x' });
    expect(c).toEqual({ type: 'ldif', files: ['a.ldif'], baseDN: 'dc=x', pageSize: 500, operations: ['test', 'attributes', 'schema', 'get', 'search'] });
    expect(config({ files: ['a.ldif', 'b.ldif'], baseDN: '', pageSize: 20, operations: ['search', 'export'] })).toMatchObject({ files: ['a.ldif', 'b.ldif'], pageSize: 20 });
  });

  it('reports unknown keys, missing keys and bad values', () => {
    expect(problems({ type: 'ldif', file: 'a.ldif', baseDN: 'dc=x' })).toEqual(expect.arrayContaining(["file: unknown key 'file', did you mean 'files'?", ": missing required key 'files'"]));
    expect(problems({ type: 'ldif', files: [], baseDN: 'dc=x' })[0]).toMatch(/^files: expected LDIF file path or a list of them/);
    expect(problems({ type: 'ldif', files: 'a', baseDN: 'dc=x,,dc=y' })[0]).toMatch(/^baseDN: invalid DN/);
    expect(problems({ type: 'ldif', files: 'a', baseDN: 'dc=x', pageSize: 0 })[0]).toMatch(/^pageSize: expected positive integer/);
    expect(problems({ type: 'ldif', files: 'a', baseDN: 'dc=x', persist: true })[0]).toMatch(/unknown key 'persist'/);
  });

  it('is registered: dataSources entries with type ldif decode; paths resolve against the config file', () => {
    const r = DataSourceConfigCodec.decode({ type: 'ldif', files: 'demo/directory.ldif', baseDN: 'dc=demo,dc=example' });
    expect(isLeft(r)).toBe(false);
    const c = config({ files: ['a.ldif', '/abs/b.ldif'], baseDN: 'dc=x' });
    expect(resolveLdifPaths(c, (p) => (p.startsWith('/') ? p : `/etc/agent/${p}`)).files).toEqual(['/etc/agent/a.ldif', '/abs/b.ldif']);
    expect(describeLdifTarget(c)).toBe('a.ldif, /abs/b.ldif (in memory, not written back), base dc=x');
  });
});

describe('loading', () => {
  const load = (files: Record<string, string>, baseDN = 'dc=example,dc=com') => {
    const a = createLdifAdapter('t', config({ files: writeFiles(files), baseDN }), silent);
    return { adapter: a, result: lastValueFrom(a.test(ctx)) as Promise<LdifTestResult> };
  };

  it('records in any order, over several files, parents first', async () => {
    const { adapter, result } = load({
      'people.ldif': 'dn: uid=a,ou=people,dc=example,dc=com\nobjectClass: person\n\ndn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n',
      'base.ldif': 'dn: dc=example,dc=com\nobjectClass: domain\n',
    });
    expect(await result).toMatchObject({ ok: true, baseDN: 'dc=example,dc=com', entries: 3 });
    expect(await dns(adapter, {})).toEqual(['dc=example,dc=com', 'ou=people,dc=example,dc=com', 'uid=a,ou=people,dc=example,dc=com']);
  });

  it.each([
    ['an entry outside baseDN', { 'x.ldif': 'dn: dc=example,dc=com\nobjectClass: domain\n\ndn: dc=other,dc=com\nobjectClass: domain\n' }, 'x.ldif', 4, "is outside the data source's baseDN"],
    ['a duplicate DN (any spelling)', { 'a.ldif': 'dn: dc=example,dc=com\nobjectClass: domain\n', 'b.ldif': '\n\ndn: DC=Example, DC=Com\nobjectClass: domain\n' }, 'b.ldif', 3, 'duplicate entry'],
    ['a missing parent', { 'x.ldif': 'dn: uid=a,ou=gone,dc=example,dc=com\nobjectClass: person\n' }, 'x.ldif', 1, 'the parent of'],
    ['a value twice', { 'x.ldif': 'dn: dc=example,dc=com\nobjectClass: domain\nobjectClass: DOMAIN\n' }, 'x.ldif', 3, 'objectClass: value "DOMAIN" is already in dc=example,dc=com'],
    ['no objectClass', { 'x.ldif': 'dn: dc=example,dc=com\ndc: example\n' }, 'x.ldif', 1, 'needs an objectClass'],
    ['a syntax error', { 'x.ldif': 'dn: dc=example,dc=com\nobjectClass domain\n' }, 'x.ldif', 2, "expected 'attribute: value'"],
  ])('%s is UPSTREAM_ERROR naming file:line', async (_what, files, file, line, message) => {
    const e = await rejection(load(files).result);
    expect(e.code).toBe('UPSTREAM_ERROR');
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(new RegExp(`/${file.replace('.', '\\.')}:${line}: `));
    expect(e.message).toContain(message);
    expect(e.context.details).toMatchObject({ line });
  });

  it('the duplicate error says where the first one is', async () => {
    const e = await rejection(load({ 'a.ldif': 'dn: dc=example,dc=com\nobjectClass: domain\n', 'b.ldif': 'dn: dc=example,dc=com\nobjectClass: domain\n' }).result);
    expect(e.message).toMatch(/b\.ldif:1: duplicate entry "dc=example,dc=com" \(first at .*a\.ldif:1\)/);
  });

  it('file:// URL values are read (text if UTF-8, else bytes)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'note.txt'), 'Grüße');
    writeFileSync(join(dir, 'blob.bin'), Buffer.from([0xff, 0x00]));
    const url = (f: string): string => pathToFileURL(join(dir, f)).href;
    const a = adapterFor(`dn: dc=example,dc=com\nobjectClass: domain\ndescription:< ${url('note.txt')}\nseeAlso:< ${url('blob.bin')}\n`);
    expect((await get(a, 'dc=example,dc=com')).attributes).toMatchObject({ description: ['Grüße'], 'seeAlso;binary': ['/wA='] });
  });

  it('a missing file is UPSTREAM_UNAVAILABLE (retryable), and the next operation loads it once it is there', async () => {
    const file = join(tempDir(), 'later.ldif');
    const a = createLdifAdapter('t', config({ files: file, baseDN: 'dc=example,dc=com' }), silent);
    const e = await rejection(lastValueFrom(a.test(ctx)));
    expect(e).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    expect(e.message).toContain(`${file}: file not found (ENOENT)`);
    writeFileSync(file, SMALL);
    expect(await lastValueFrom(a.test(ctx))).toMatchObject({ ok: true, entries: 7, files: [file] });
  });
});

describe('error table', () => {
  const fsError = (code: string): Error => Object.assign(new Error(`${code}: open '/data/x.ldif'`), { code, path: '/data/x.ldif' });

  // A real unreadable file cannot be made for root (CI runs as root); the mapping is checked
  // here and through the adapter in test/contract/ldif.contract.test.ts.
  it('file-system codes map as documented (permission → UPSTREAM_AUTH_FAILED; missing → retryable UPSTREAM_UNAVAILABLE)', () => {
    expect(toProtocolError(fsError('EACCES'))).toMatchObject({ code: 'UPSTREAM_AUTH_FAILED', retryable: false, message: '/data/x.ldif: permission denied to the agent (EACCES)' });
    expect(toProtocolError(fsError('EPERM'))).toMatchObject({ code: 'UPSTREAM_AUTH_FAILED', retryable: false });
    expect(toProtocolError(fsError('ENOENT'))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    expect(toProtocolError(fsError('EISDIR'))).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: false });
    for (const [code, m] of Object.entries(FILE_ERRORS)) expect(toProtocolError(fsError(code))).toMatchObject({ code: m.code, retryable: m.retryable });
  });

  it('LdifError → UPSTREAM_ERROR with file and line; anything else is INTERNAL without its message', () => {
    expect(toProtocolError(new LdifError('a.ldif', 7, 'bad'))).toMatchObject({ code: 'UPSTREAM_ERROR', message: 'a.ldif:7: bad', context: { details: { file: 'a.ldif', line: 7 } } });
    const internal = toProtocolError(new TypeError('x is undefined'), {}, { operation: 'search' });
    expect(internal).toMatchObject({ code: 'INTERNAL', message: 'search: internal error in the ldif adapter' });
  });
});

describe('operations', () => {
  const adapter = adapterFor(SMALL);

  it('test reports entries, base, files and latency', async () => {
    const r = (await lastValueFrom(adapter.test(ctx))) as LdifTestResult;
    expect(r).toMatchObject({ ok: true, baseDN: 'dc=example,dc=com', entries: 7 });
    expect(r.files).toHaveLength(1);
    expect(typeof r.latencyMs).toBe('number');
    expect(Number.isNaN(Date.parse(r.loadedAt))).toBe(false);
  });

  it('get: by DN in any spelling, with attribute selection; NOT_FOUND, OPERATION_NOT_ALLOWED, BAD_REQUEST', async () => {
    expect(await get(adapter, 'UID=Bob,OU=People,DC=Example,DC=Com', ['uid', 'sn'])).toEqual({ dn: 'uid=bob,ou=people,dc=example,dc=com', attributes: { uid: ['bob'], sn: ['Builder'] } });
    expect((await rejection(get(adapter, 'uid=nobody,ou=people,dc=example,dc=com'))).code).toBe('NOT_FOUND');
    expect((await rejection(get(adapter, 'uid=bob,dc=other'))).code).toBe('OPERATION_NOT_ALLOWED');
    expect((await rejection(lastValueFrom(adapter.get!({ dn: 'uid=bob', extra: 1 }, ctx)))).code).toBe('BAD_REQUEST');
  });

  it('schema and attributes are derived from the data and say so', async () => {
    const s = (await lastValueFrom(adapter.schema!(ctx))) as DerivedSchema;
    expect(s.derived).toBe(true);
    expect(s.entries).toBe(7);
    const attr = (name: string) => s.attributeTypes.find((a) => a.name === name);
    expect(attr('mail')).toEqual({ name: 'mail', entries: 2, values: 3, singleValue: false, binary: false, operational: false });
    expect(attr('uid')).toMatchObject({ entries: 3, singleValue: true });
    expect(attr('jpegPhoto')).toMatchObject({ binary: true });
    expect(attr('cn;lang-sv')).toMatchObject({ entries: 1 });
    expect(attr('entryDN')).toMatchObject({ operational: true });
    expect(s.objectClasses).toEqual([
      { name: 'domain', entries: 1 },
      { name: 'groupOfNames', entries: 1 },
      { name: 'inetOrgPerson', entries: 3 },
      { name: 'organizationalUnit', entries: 2 },
      { name: 'top', entries: 1 },
    ]);
    const list = (await lastValueFrom(adapter.attributes!(ctx))) as { derived: boolean; attributes: Array<{ name: string }> };
    expect(list.derived).toBe(true);
    expect(list.attributes.map((a) => a.name)).toEqual(s.attributeTypes.map((a) => a.name));
  });

  it('operations are cold: nothing is read until subscribed', async () => {
    const file = join(tempDir(), 'absent.ldif');
    const a = createLdifAdapter('t', config({ files: file, baseDN: 'dc=example,dc=com' }), silent);
    const test$ = a.test(ctx);
    const source = a.search!({}, ctx);
    writeFileSync(file, SMALL);
    expect(await lastValueFrom(test$)).toMatchObject({ entries: 7 });
    source.close();
  });
});

describe('the demo directory (config/demo/directory.ldif)', () => {
  const file = join(dirname(fileURLToPath(import.meta.url)), '../../../config/demo/directory.ldif');
  const demo = createLdifAdapter('demo', config({ files: file, baseDN: 'dc=demo,dc=example' }), silent);

  it('loads: 50 people, groups, UTF-8 names, multi-valued mail and phone numbers', async () => {
    expect(await lastValueFrom(demo.test(ctx))).toMatchObject({ ok: true, entries: 57 });
    expect(await dns(demo, { base: 'ou=people,dc=demo,dc=example', scope: 'one', filter: '(objectClass=inetOrgPerson)' })).toHaveLength(50);
    expect((await dns(demo, { base: 'ou=groups,dc=demo,dc=example', scope: 'one', filter: '(objectClass=groupOfNames)' })).length).toBeGreaterThanOrEqual(3);
    expect(await dns(demo, { filter: '(cn=zoë ångström)' })).toEqual(['uid=zangstrom,ou=people,dc=demo,dc=example']);
    expect(await dns(demo, { filter: '(&(mail=*@mail.demo.example)(telephoneNumber=+46 70*))' })).not.toHaveLength(0);
  });

  it('every member and manager names an entry that exists', async () => {
    const all = await dns(demo, {});
    const known = new Set(all.map((d) => d.toLowerCase()));
    const refs = (await Promise.all(all.map((d) => get(demo, d, ['member', 'manager'])))).flatMap((e) => [...(e.attributes['member'] ?? []), ...(e.attributes['manager'] ?? [])]);
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((r) => !known.has(r.toLowerCase()))).toEqual([]);
  });
});
