/** Request parameters and export records, decoded at the adapter's edge. */
import { isLeft } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { LdapDataSourceConfig } from '../../../src/adapters/ldap/config.js';
import { decodeRecord } from '../../../src/adapters/directory/export-records.js';
import { checkFilter, decodeOrThrow, GetParams, requireWithin, targetDn } from '../../../src/adapters/directory/params.js';
import { planSearch } from '../../../src/adapters/ldap/search.js';
import { ProtocolError } from '../../../src/protocol/index.js';

const decoded = LdapDataSourceConfig.decode({ type: 'ldap', url: 'ldap://dc1', baseDN: 'dc=example,dc=com', pageSize: 200 });
if (isLeft(decoded)) throw new Error('bad config');
const config = decoded.right;

function fails(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error('expected a ProtocolError');
}

describe('planSearch', () => {
  it('defaults: base = baseDN, sub, (objectClass=*), page size from config', () => {
    expect(planSearch({}, config)).toEqual({ base: 'dc=example,dc=com', scope: 'sub', filter: '(objectClass=*)', sizeLimit: 0, pageSize: 200 });
  });

  it('caps pageSize at the config; asks one entry more than sizeLimit to detect truncation', () => {
    expect(planSearch({ pageSize: 5000 }, config).pageSize).toBe(200);
    expect(planSearch({ pageSize: 50 }, config).pageSize).toBe(50);
    expect(planSearch({ sizeLimit: 10 }, config)).toMatchObject({ sizeLimit: 10, pageSize: 11 });
    expect(planSearch({ sizeLimit: 1000 }, config).pageSize).toBe(200);
  });

  it('lists every problem in one BAD_REQUEST', () => {
    const e = fails(() => planSearch({ scope: 'deep', pageSize: 0, sizeLimit: 'x', attributes: ['ok', 'b@d'], filtr: '(a=b)' }, config));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toContain("scope: expected 'base' | 'one' | 'sub', got \"deep\"");
    expect(e.message).toContain('pageSize: expected positive integer');
    expect(e.message).toContain('sizeLimit: expected non-negative integer');
    expect(e.message).toContain('attributes.1: expected attribute name');
    expect(e.message).toContain("unknown key 'filtr'");
    expect(e.context.details?.['problems']).toHaveLength(5);
  });

  it('base outside baseDN → OPERATION_NOT_ALLOWED', () => {
    expect(fails(() => planSearch({ base: 'dc=other,dc=com' }, config)).code).toBe('OPERATION_NOT_ALLOWED');
  });
});

describe('get parameters: dn or dn;binary', () => {
  const surrogateDn = Buffer.concat([Buffer.from('cn='), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(',ou=people,dc=example,dc=com')]);
  const get = (p: unknown): GetParams => decodeOrThrow(GetParams, p, 'get parameters');

  it('dn as given; dn;binary (base64 of the bytes) becomes the escaped DN and wins over dn', () => {
    expect(get({ dn: 'uid=a,dc=example,dc=com', attributes: ['cn'] })).toEqual({ dn: 'uid=a,dc=example,dc=com', attributes: ['cn'] });
    expect(get({ 'dn;binary': surrogateDn.toString('base64') })).toEqual({ dn: 'cn=\\ED\\A0\\80,ou=people,dc=example,dc=com' });
    expect(get({ dn: 'cn=other,dc=example,dc=com', 'dn;binary': surrogateDn.toString('base64') }).dn).toBe('cn=\\ED\\A0\\80,ou=people,dc=example,dc=com');
    expect(requireWithin(get({ 'dn;binary': surrogateDn.toString('base64') }).dn, 'dc=example,dc=com', 'dn')).toHaveLength(4);
  });

  it.each([
    [{}, "missing required key 'dn' (or 'dn;binary')"],
    [{ 'dn;binary': 'not base64!' }, 'dn;binary: expected base64 of a distinguished name'],
    [{ 'dn;binary': Buffer.from('no equals sign').toString('base64') }, 'dn;binary: invalid DN'],
    [{ dn: 'nonsense' }, 'dn: invalid DN'],
  ])('%j → BAD_REQUEST mentioning %j', (params, text) => {
    const e = fails(() => get(params));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toContain(text);
  });

  it('targetDn for export records: dn;binary wins, else dn; BAD_REQUEST without either', () => {
    expect(targetDn({ dn: 'uid=a,dc=x' })).toBe('uid=a,dc=x');
    expect(targetDn({ dn: 'uid=a,dc=x', 'dn;binary': Buffer.from([0x63, 0x6e, 0x3d, 0xe9]).toString('base64') })).toBe('cn=\\E9');
    expect(fails(() => targetDn({})).code).toBe('BAD_REQUEST');
  });
});

describe('checkFilter', () => {
  it('accepts RFC 4515 filters (UTF-8, escapes) and wraps a bare one', () => {
    expect(checkFilter('(&(objectClass=person)(cn=Zoë*)(!(sn=\\28x\\29)))')).toBe('(&(objectClass=person)(cn=Zoë*)(!(sn=\\28x\\29)))');
    expect(checkFilter(' uid=jdoe ')).toBe('(uid=jdoe)');
  });

  it.each(['(cn=foo', '(&(cn=a)(sn=b)', '(cn=a))', '(cn=a)(sn=b)', '((cn=a)', ''])('rejects %j with BAD_REQUEST', (bad) => {
    const e = fails(() => checkFilter(bad));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toContain('invalid filter');
  });
});

describe('export records', () => {
  it('decodes each op; a single value stands for a list', () => {
    expect(decodeRecord({ op: 'add', dn: 'uid=a,dc=x', attributes: { uid: 'a', mail: ['a@x', 'b@x'] } })).toEqual({
      op: 'add',
      dn: 'uid=a,dc=x',
      attributes: { uid: ['a'], mail: ['a@x', 'b@x'] },
    });
    expect(decodeRecord({ op: 'rename', dn: 'uid=a,dc=x', newRdn: 'uid=b', deleteOldRdn: false })).toMatchObject({ op: 'rename', deleteOldRdn: false });
    expect(decodeRecord({ op: 'modify', dn: 'uid=a,dc=x', changes: [{ operation: 'delete', attribute: 'mail' }] })).toMatchObject({ op: 'modify' });
    expect(decodeRecord({ op: 'delete', dn: 'uid=a,dc=x' })).toEqual({ op: 'delete', dn: 'uid=a,dc=x' });
    expect(decodeRecord({ op: 'upsert', dn: 'uid=a,dc=x', attributes: { 'jpegPhoto;binary': '/9j/' } })).toMatchObject({ op: 'upsert' });
  });

  it.each([
    [{ dn: 'uid=a,dc=x' }, 'op: expected one of add | modify | delete | rename | upsert'],
    [{ op: 'add', dn: 'uid=a,dc=x', attributes: {} }, 'attributes: expected mapping of attribute names to values'],
    [{ op: 'add', dn: 'uid=a,dc=x', attributes: { 'bad name': 'x' } }, 'invalid attribute name "bad name"'],
    [{ op: 'add', dn: 'uid=a,dc=x', attributes: { mail: [] } }, 'no values for mail'],
    [{ op: 'add', dn: 'uid=a,dc=x', attributes: { 'jpegPhoto;binary': '%%%' } }, 'values of jpegPhoto;binary must be base64'],
    [{ op: 'modify', dn: 'uid=a,dc=x', changes: [] }, 'changes: expected list of changes (at least one)'],
    [{ op: 'modify', dn: 'uid=a,dc=x', changes: [{ operation: 'add', attribute: 'mail' }] }, "an 'add' change needs at least one value"],
    [{ op: 'modify', dn: 'uid=a,dc=x', changes: [{ operation: 'merge', attribute: 'mail', values: ['x'] }] }, 'operation'],
    [{ op: 'delete', dn: 'not a dn' }, 'dn: invalid DN'],
    [{ op: 'delete', dn: 'uid=a,dc=x', extra: 1 }, "unknown key 'extra'"],
    [{ op: 'rename', dn: 'uid=a,dc=x' }, "missing required key 'newRdn'"],
  ])('%j → BAD_REQUEST mentioning %j', (record, text) => {
    const e = fails(() => decodeRecord(record));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toContain(text);
  });
});
