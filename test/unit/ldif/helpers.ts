/** Shared set-up of the ldif unit tests: an adapter over LDIF text written to a temp dir. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import pino from 'pino';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll } from 'vitest';
import { isBatchSource, type BatchPageSource, type DataSourceAdapter, type ExportResult, type OperationContext, type Page } from '../../../src/adapter-kit/adapter.js';
import { isJsonBatch } from '../../../src/adapter-kit/json-batch.js';
import type { LdapEntry } from '../../../src/adapters/directory/entry.js';
import { LdifDataSourceConfig } from '../../../src/adapters/ldif/config.js';
import { createLdifAdapter } from '../../../src/adapters/ldif/index.js';
import { ProtocolError } from '../../../src/protocol/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ldif-unit-'));
  dirs.push(d);
  return d;
}

/** Writes files (name → content) to a fresh temp dir; returns their paths in order. */
export function writeFiles(files: Record<string, string | Buffer>): string[] {
  const d = tempDir();
  return Object.entries(files).map(([name, content]) => {
    const p = join(d, name);
    writeFileSync(p, content);
    return p;
  });
}

export const silent = pino({ level: 'silent' });
export const ctx: OperationContext = { requestId: 'req-1', dataSource: 'test-ldif', log: silent };

export function config(input: Record<string, unknown>): LdifDataSourceConfig {
  const r = LdifDataSourceConfig.decode({ type: 'ldif', ...input });
  if (isLeft(r)) throw new Error('test config does not decode');
  return r.right;
}

export function adapterFor(ldif: string | Buffer, options: { baseDN?: string; pageSize?: number } = {}): DataSourceAdapter {
  const [file] = writeFiles({ 'data.ldif': ldif });
  return createLdifAdapter('test-ldif', config({ files: file, baseDN: options.baseDN ?? 'dc=example,dc=com', pageSize: options.pageSize ?? 500 }), silent);
}

/** The ldif adapter's search source: each page one `JsonBatch` of the entries' JSON texts (`itemFormat: 'json-batch'`). */
export function searchOf(adapter: DataSourceAdapter, params: Record<string, unknown>): BatchPageSource {
  const source = adapter.search!(params, ctx);
  if (!isBatchSource(source)) throw new Error(`expected JSON batches, got itemFormat ${String(source.itemFormat)}`);
  return source;
}

/** Pulls one page, its batch's JSON texts parsed back into entries. */
export async function pullPage(source: BatchPageSource): Promise<Page<LdapEntry>> {
  const page = await lastValueFrom(source.pull());
  if (!isJsonBatch(page.items)) throw new Error('expected a JsonBatch page');
  return { ...page, items: page.items.texts().map((text) => JSON.parse(text) as LdapEntry) };
}

/** Pulls every page of a search (as the pipeline would, one pull after the other). */
export async function searchAll(adapter: DataSourceAdapter, params: Record<string, unknown>): Promise<{ pages: Array<Page<LdapEntry>>; entries: LdapEntry[] }> {
  const source = searchOf(adapter, params);
  const pages: Array<Page<LdapEntry>> = [];
  try {
    for (;;) {
      const page = await pullPage(source);
      pages.push(page);
      if (page.last) break;
    }
  } finally {
    source.close();
  }
  return { pages, entries: pages.flatMap((p) => [...p.items]) };
}

export async function dns(adapter: DataSourceAdapter, params: Record<string, unknown>): Promise<string[]> {
  return (await searchAll(adapter, params)).entries.map((e) => e.dn);
}

export function get(adapter: DataSourceAdapter, dn: string, attributes?: string[]): Promise<LdapEntry> {
  return lastValueFrom(adapter.get!(attributes === undefined ? { dn } : { dn, attributes }, ctx)) as Promise<LdapEntry>;
}

export function exportAll(adapter: DataSourceAdapter, records: unknown[]): Promise<ExportResult[]> {
  return lastValueFrom(adapter.export!(from(records), ctx).pipe(toArray()));
}

/** The ProtocolError a promise rejects with. */
export async function rejection(p: Promise<unknown>): Promise<ProtocolError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** A small directory: base, two OUs, people with multi-valued and UTF-8 values, a group. */
export const SMALL = `version: 1

dn: dc=example,dc=com
objectClass: top
objectClass: domain
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: uid=zoe,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: zoe
cn: Zoë Ångström
cn;lang-sv: Zoë Ångström på svenska
sn: Ångström
mail: zoe@example.com
mail: Zoe.Angstrom@Mail.Example.com
employeeNumber: 9
telephoneNumber: +46 8 555 0001

dn: uid=bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob   Builder
sn: Builder
mail: bob@example.com
employeeNumber: 10
title: Senior Engineer

dn: uid=carol,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: carol
cn: Carol Cruz
sn: Cruz
employeeNumber: 100
jpegPhoto:: /9j/4AAQSkZJRg==

dn: cn=staff,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: staff
member: uid=zoe,ou=people,dc=example,dc=com
member: UID=Bob, OU=People, DC=Example, DC=Com
`;
