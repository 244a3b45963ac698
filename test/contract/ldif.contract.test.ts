/**
 * The shipped data-source contract (src/contract) against the `ldif` adapter, on the same
 * generated directory the ldap contract loads into slapd (test/fixtures/ldap/generate.ts: 1,200
 * people, UTF-8 names as base64, binary jpegPhoto values, groups), written to a temporary LDIF file.
 *
 * What the suite's upstream cases mean for a file:
 * - unreachable: the file does not exist (UPSTREAM_UNAVAILABLE, retryable: it may appear);
 * - bad credentials: a file has none of its own; the agent's OS identity is what the file
 *   system checks, and a file it may not read (EACCES) is UPSTREAM_AUTH_FAILED (errors.ts).
 *   The file is made unreadable with chmod 000. Root ignores permission bits, so when the
 *   tests run as root the file system is told to answer that one path with the EACCES the
 *   kernel gives any other user (everything else reads the real disk).
 * - upstream requests: page reads from the in-memory directory (`SearchCursor.nextPage`).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, vi } from 'vitest';
import { ldifDataSource } from '../../src/adapters/ldif/definition.js';
import { dataSourceContract } from '../../src/contract/index.js';
import { generateLdif, PEOPLE_DN } from '../fixtures/ldap/generate.js';

const denied = vi.hoisted(() => new Set<string>());

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const refuse = (path: unknown): Promise<never> | undefined =>
    typeof path === 'string' && denied.has(path)
      ? Promise.reject(Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES', errno: -13, syscall: 'open', path }))
      : undefined;
  // The loader opens the file and reads it in chunks; `:<` URL values use readFile.
  const readFile = ((...args: Parameters<typeof actual.readFile>) => refuse(args[0]) ?? actual.readFile(...args)) as typeof actual.readFile;
  const open = ((...args: Parameters<typeof actual.open>) => refuse(args[0]) ?? actual.open(...args)) as typeof actual.open;
  return { ...actual, readFile, open, default: { ...actual, readFile, open } };
});

// The built-in sources were registered (test/helpers/register-builtins.ts) before this file's
// mock existed: the adapter's modules are loaded afresh, so they read through the mocked
// file system. The definition keeps the registered one's codec (the suite decodes with it) and
// creates its adapters with the fresh modules.
vi.resetModules();
const { createLdifAdapter } = await import('../../src/adapters/ldif/adapter.js');
const { SearchCursor } = await import('../../src/adapters/ldif/search.js');
const definition: typeof ldifDataSource = { ...ldifDataSource, create: (name, config, log) => createLdifAdapter(name, config, log) };

const dir = mkdtempSync(join(tmpdir(), 'ldif-contract-'));
const file = join(dir, 'directory.ldif');
writeFileSync(file, generateLdif({ entries: 1200, readerPassword: 'reader-secret' }));
const unreadable = join(dir, 'unreadable.ldif');
writeFileSync(unreadable, 'dn: dc=example,dc=com\nobjectClass: domain\n');
chmodSync(unreadable, 0o000);
if (process.getuid?.() === 0) denied.add(unreadable);
const pages = vi.spyOn(SearchCursor.prototype, 'nextPage');

const entry = (files: string) => ({
  type: 'ldif',
  files,
  baseDN: 'dc=example,dc=com',
  pageSize: 200,
  operations: ['test', 'schema', 'attributes', 'get', 'search', 'export'],
});

const suite = dataSourceContract({
  definition,
  settings: (kind) => entry(kind === 'ok' ? file : kind === 'badCredentials' ? unreadable : join(dir, 'missing.ldif')),
  search: { params: { base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'cn'] }, count: 1200 },
  get: {
    params: { dn: `uid=user00042,${PEOPLE_DN}` },
    matches: (r) => typeof r === 'object' && r !== null && /uid=user00042/i.test((r as { dn?: string }).dn ?? ''),
  },
  export: {
    records: () => [
      { op: 'add', dn: `uid=contract-1,${PEOPLE_DN}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'contract-1', cn: 'Contract One', sn: 'One' } },
      { op: 'add', dn: `uid=user00001,${PEOPLE_DN}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'user00001', cn: 'Duplicate', sn: 'Dup' } },
      { op: 'delete', dn: `uid=contract-1,${PEOPLE_DN}` },
    ],
    failingIndex: 1,
  },
  upstreamRequests: () => pages.mock.calls.length,
  close: () => {
    pages.mockRestore();
    denied.clear();
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  },
});

describe('data-source contract: ldif (in-memory directory from a generated LDIF file)', () => {
  beforeAll(() => suite.setup());
  afterAll(() => suite.teardown());
  for (const check of suite.checks) it(check.name, () => check.run());
});
