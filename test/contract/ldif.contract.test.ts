/**
 * The data-source contract against the `ldif` adapter, on the same generated directory the
 * ldap contract loads into slapd (test/fixtures/ldap/generate.ts: 1,200 people, UTF-8 names as
 * base64, binary jpegPhoto values, groups), written to a temporary LDIF file.
 *
 * What the suite's upstream cases mean for a file:
 * - unreachable: the file does not exist (UPSTREAM_UNAVAILABLE, retryable: it may appear);
 * - bad credentials: a file has none of its own; the agent's OS identity is what the file
 *   system checks, and a file it may not read (EACCES) is UPSTREAM_AUTH_FAILED (errors.ts).
 *   The file is made unreadable with chmod 000. Root ignores permission bits, so when the
 *   tests run as root the file system is told to answer that one path with the EACCES the
 *   kernel gives any other user (everything else reads the real disk).
 * - upstream search requests: page reads from the in-memory directory (`SearchCursor.nextPage`).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { SearchCursor } from '../../src/adapters/ldif/search.js';
import { generateLdif, PEOPLE_DN } from '../fixtures/ldap/generate.js';
import { dataSourceContract } from './suite.js';

const denied = vi.hoisted(() => new Set<string>());

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const readFile = ((...args: Parameters<typeof actual.readFile>) => {
    const [path] = args;
    if (typeof path === 'string' && denied.has(path)) {
      return Promise.reject(Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', errno: -13, syscall: 'open', path }));
    }
    return actual.readFile(...args);
  }) as typeof actual.readFile;
  // The loader opens the file and reads it in chunks; `:<` URL values use readFile.
  const open = ((...args: Parameters<typeof actual.open>) => {
    const [path] = args;
    if (typeof path === 'string' && denied.has(path)) {
      return Promise.reject(Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', errno: -13, syscall: 'open', path }));
    }
    return actual.open(...args);
  }) as typeof actual.open;
  return { ...actual, readFile, open, default: { ...actual, readFile, open } };
});

dataSourceContract('ldif (in-memory directory from a generated LDIF file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ldif-contract-'));
  const file = join(dir, 'directory.ldif');
  writeFileSync(file, generateLdif({ entries: 1200, readerPassword: 'reader-secret' }));
  const unreadable = join(dir, 'unreadable.ldif');
  writeFileSync(unreadable, 'dn: dc=example,dc=com\nobjectClass: domain\n');
  chmodSync(unreadable, 0o000);
  if (process.getuid?.() === 0) denied.add(unreadable);
  const pages = vi.spyOn(SearchCursor.prototype, 'nextPage');

  const entry = (path: string, operations: string) => `    type: ldif
    files: ${path}
    baseDN: dc=example,dc=com
    pageSize: 200
    operations: ${operations}`;
  const all = '[test, schema, attributes, get, search, export]';
  return Promise.resolve({
    dataSource: (kind) =>
      kind === 'ok'
        ? entry(file, all)
        : kind === 'badCredentials'
          ? entry(unreadable, all)
          : kind === 'unreachable'
            ? entry(join(dir, 'missing.ldif'), all)
            : entry(file, '[test, schema, attributes, get, search]'),
    searchParams: { base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'cn'] },
    searchCount: 1200,
    getParams: { dn: `uid=user00042,${PEOPLE_DN}` },
    isGetResult: (r) => typeof r === 'object' && r !== null && /uid=user00042/i.test((r as { dn?: string }).dn ?? ''),
    exportRecords: () => [
      { op: 'add', dn: `uid=contract-1,${PEOPLE_DN}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'contract-1', cn: 'Contract One', sn: 'One' } },
      { op: 'add', dn: `uid=user00001,${PEOPLE_DN}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'user00001', cn: 'Duplicate', sn: 'Dup' } },
      { op: 'delete', dn: `uid=contract-1,${PEOPLE_DN}` },
    ],
    failingIndex: 1,
    upstreamSearchRequests: () => pages.mock.calls.length,
    close: () => {
      pages.mockRestore();
      denied.clear();
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
});
