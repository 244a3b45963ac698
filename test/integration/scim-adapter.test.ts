/**
 * The SCIM adapter against a real SCIM 2.0 service provider (scimmy behind Express,
 * `test/helpers/scim-server.ts`, 250 users, 5 groups): every operation, paging driven by pulls
 * and observed in the server's request log (one GET per pull), writes with versions, the three
 * authentication methods with OAuth token caching and renewal, retries (Retry-After) for
 * idempotent requests only, TLS, a CONNECT proxy, and failures (unreachable, bad credentials,
 * timeouts, oversized responses, cancelled requests). A few provider misbehaviours that scimmy
 * cannot produce (ignoring `count`, empty pages early) come from a small node:http server, and
 * so does RFC 9865 cursor paging (scimmy has none): a provider advertising it in its
 * ServiceProviderConfig, its request sequence, cap, and invalid/expired cursors — and a provider
 * without ETags or sorting, to which a `version` or a `sortBy` is refused before any request
 * that would ignore it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import { asyncScheduler, firstValueFrom, from, lastValueFrom, toArray, type Observable, type SchedulerLike } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DataSourceAdapter, ExportResult, OperationContext, SearchSource } from '../../src/adapter-kit/adapter.js';
import { isJsonBatch } from '../../src/adapter-kit/json-batch.js';
import { ScimDataSourceConfig } from '../../src/adapters/scim/config.js';
import { createScimAdapter, type ScimAdapterOptions, type ScimAttributesResult, type ScimPage, type ScimSchemasResult, type ScimTestResult } from '../../src/adapters/scim/index.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { captureLogs } from '../helpers/log-capture.js';
import { ENTERPRISE, printScimLogOnFailure, startScimServer, type RecordedRequest, type ScimServer } from '../helpers/scim-server.js';

const USERS = 250;
const BASIC = { userName: 'scim-admin', password: 'pässwörd:with colon' };
const OAUTH = { clientId: 'datasync agent', clientSecret: 'cl!ent+secret=' };
const TOKEN = 'static-bearer-token-0123456789';

let server: ScimServer;
let closedPortUrl: string;
const logs = captureLogs('debug');
printScimLogOnFailure(() => server);

beforeAll(async () => {
  server = await startScimServer({ users: USERS, groups: 5, token: TOKEN, basic: BASIC, oauth: OAUTH });
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPortUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/scim/v2`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});
afterAll(async () => {
  await server?.close();
});

const adapters: DataSourceAdapter[] = [];
afterEach(async () => {
  for (const a of adapters.splice(0)) await a.close();
});

function config(over: Record<string, unknown> = {}): ScimDataSourceConfig {
  const r = ScimDataSourceConfig.decode({ type: 'scim', baseUrl: server.url, bearerToken: TOKEN, timeoutMs: 5000, pageSize: 100, operations: ['test', 'get', 'search', 'export'], ...over });
  if (isLeft(r)) throw new Error(`bad test config: ${JSON.stringify(over)}`);
  return r.right;
}

/** Fast retries unless a test says otherwise (the policy itself is unit-tested). */
function adapter(over: Record<string, unknown> = {}, options: ScimAdapterOptions = {}): DataSourceAdapter {
  const a = createScimAdapter('hr', config(over), logs.logger, { retry: { baseDelayMs: 20 }, env: {}, ...options });
  adapters.push(a);
  return a;
}

const ctx: OperationContext = { requestId: 'req-1', dataSource: 'hr', log: logs.logger };

async function failure(p: Promise<unknown>): Promise<ProtocolError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a failure');
}

/** Requests the server received since `from`, optionally only to `path` (relative to /scim/v2). */
function requestsSince(fromIndex: number, path?: string): RecordedRequest[] {
  return server.requests.slice(fromIndex).filter((r) => r.query['marker'] === undefined && (path === undefined || r.path === `/scim/v2${path}`));
}

let markers = 0;
/**
 * A marker request to the provider, from outside the adapter, awaited until the provider has
 * answered it: a request the adapter had started before it has arrived by then (or never will)
 * — what a "no request was made" check awaits instead of a sleep. Not counted by `requestsSince`.
 */
async function providerMarker(): Promise<void> {
  const marker = String(++markers);
  const res = await fetch(`${server.url}/ServiceProviderConfig?marker=${marker}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  await res.arrayBuffer();
  await vi.waitFor(() => expect(server.requests.some((r) => r.query['marker'] === marker && r.status !== 0)).toBe(true), { timeout: 30_000, interval: 5 });
}

/** The adapter's retry log lines ('SCIM request failed, retrying') after log line `from`. */
const retriesLogged = (from: number): Array<Record<string, unknown>> =>
  logs.lines.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r['msg'] === 'SCIM request failed, retrying');

/** A page as a caller reads it: the batch's items parsed back into resources. */
type ReadPage = Omit<ScimPage, 'items'> & { readonly items: Array<Record<string, unknown>> };

/** One page; its `JsonBatch` (`itemFormat: 'json-batch'`) checked for the batch layout and parsed back into resources. */
async function pull(s: SearchSource): Promise<ReadPage> {
  expect(s.itemFormat).toBe('json-batch');
  const page = (await firstValueFrom<unknown>(s.pull())) as ScimPage;
  if (!isJsonBatch(page.items)) throw new Error('expected a JsonBatch page');
  const batch = page.items;
  // The batch's layout: items comma-separated, each one compact JSON object on one line.
  expect(batch.bytes.toString('utf8')).toBe(batch.texts().join(','));
  for (const text of batch.texts()) expect(text).toMatch(/^\{[^\n]*\}$/);
  const { items: _, ...rest } = page;
  return { ...rest, items: batch.texts().map((text) => JSON.parse(text) as Record<string, unknown>) };
}

async function drain(s: SearchSource, close = true): Promise<ReadPage[]> {
  const pages: ReadPage[] = [];
  for (;;) {
    const p = await pull(s);
    pages.push(p);
    if (p.last) break;
    if (pages.length > 1000) throw new Error('runaway paging');
  }
  if (close) s.close();
  return pages;
}

const get = (a: DataSourceAdapter, params: Record<string, unknown>): Promise<Record<string, unknown>> => firstValueFrom(a.get!(params, ctx)) as Promise<Record<string, unknown>>;
const exportAll = (a: DataSourceAdapter, records: unknown[]): Promise<ExportResult[]> => lastValueFrom(a.export!(from(records), ctx).pipe(toArray()));
const ok = (r: ExportResult | undefined): { id?: string; version?: string; action?: string } => {
  if (r === undefined || !r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.data as { id?: string; version?: string; action?: string };
};
const user = (userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName,
  name: { givenName: 'Test', familyName: 'User' },
  ...extra,
});

describe('discovery', () => {
  it('test: ServiceProviderConfig, resource types, and an authenticated probe', async () => {
    const from0 = server.requests.length;
    const r = (await firstValueFrom(adapter().test(ctx))) as ScimTestResult;
    expect(r).toMatchObject({
      ok: true,
      baseUrl: server.url,
      patch: true,
      filter: { supported: true, maxResults: 200 },
      sort: true,
      resourceTypes: ['User', 'Group'],
      probe: { endpoint: '/Users', totalResults: USERS },
      pagination: { cursor: false, index: true },
    });
    expect(r.authenticationSchemes).toEqual(['OAuth Bearer Token', 'OAuth 2.0 client credentials', 'HTTP Basic']);
    expect(typeof r.bulk.supported).toBe('boolean');
    expect(typeof r.etag).toBe('boolean');
    expect(typeof r.changePassword).toBe('boolean');
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(requestsSince(from0).map((q) => [q.method, q.path, q.query['count']])).toEqual([
      ['GET', '/scim/v2/ServiceProviderConfig', undefined],
      ['GET', '/scim/v2/ResourceTypes', undefined],
      ['GET', '/scim/v2/Users', '0'],
    ]);
  });

  it('resourceTypes: as the provider defines them, with the enterprise extension', async () => {
    const r = (await firstValueFrom(adapter().resourceTypes!(ctx))) as { resourceTypes: Array<Record<string, unknown>> };
    expect(r.resourceTypes.map((t) => [t['name'], t['endpoint'], t['schema']])).toEqual([
      ['User', '/Users', 'urn:ietf:params:scim:schemas:core:2.0:User'],
      ['Group', '/Groups', 'urn:ietf:params:scim:schemas:core:2.0:Group'],
    ]);
    expect(r.resourceTypes[0]?.['schemaExtensions']).toEqual([expect.objectContaining({ schema: ENTERPRISE })]);
  });

  it('schema: the /Schemas resources, nothing skipped', async () => {
    const r = (await firstValueFrom(adapter().schema!(ctx))) as ScimSchemasResult;
    expect(r.skipped).toBe(0);
    expect(r.schemas.map((s) => s.id)).toEqual(expect.arrayContaining(['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:core:2.0:Group', ENTERPRISE]));
  });

  it('attributes: flat paths per resource type, sub-attributes and extension attributes included', async () => {
    const r = (await firstValueFrom(adapter().attributes!(ctx))) as ScimAttributesResult;
    expect(r.missingSchemas).toBeUndefined();
    const users = new Map(r.attributes.filter((a) => a.resourceType === 'User').map((a) => [a.path, a]));
    const groups = new Map(r.attributes.filter((a) => a.resourceType === 'Group').map((a) => [a.path, a]));
    expect(users.get('userName')).toMatchObject({ type: 'string', required: true, uniqueness: 'server', extension: false });
    expect(users.get('name.givenName')).toMatchObject({ type: 'string' });
    expect(users.get('emails.type')).toMatchObject({ canonicalValues: expect.arrayContaining(['work', 'home']) as unknown });
    expect(users.get('password')).toMatchObject({ returned: 'never' });
    expect(users.get(`${ENTERPRISE}:employeeNumber`)).toMatchObject({ schema: ENTERPRISE, extension: true, type: 'string' });
    expect(users.get(`${ENTERPRISE}:manager.value`)).toBeDefined();
    expect(users.get('externalId')).toBeDefined();
    expect(groups.get('members.value')).toBeDefined();
    expect(groups.has(`${ENTERPRISE}:employeeNumber`)).toBe(false);
  });
});

describe('cold operations', () => {
  it('nothing is sent until subscribed', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    a.test(ctx);
    a.resourceTypes!(ctx);
    a.schema!(ctx);
    a.attributes!(ctx);
    a.get!({ resourceType: 'User', id: 'x' }, ctx);
    a.search!({ resourceType: 'User' }, ctx);
    a.export!(from([{ op: 'delete', resourceType: 'User', id: 'x' }]), ctx);
    await providerMarker();
    expect(requestsSince(from0)).toHaveLength(0);
  });

  it('unsubscribing an export mid-write aborts the write in flight and writes nothing more', async () => {
    const a = adapter();
    server.setLatency(300);
    try {
      const from0 = server.requests.length;
      const seen: ExportResult[] = [];
      const sub = a.export!(from([{ op: 'create', resourceType: '/Users', resource: user('exp.cancel-1') }, { op: 'create', resourceType: '/Users', resource: user('exp.cancel-2') }]), ctx).subscribe((r) => seen.push(r));
      await vi.waitFor(() => expect(requestsSince(from0)).toHaveLength(1), { timeout: 30_000, interval: 5 }); // the first write is in flight
      sub.unsubscribe();
      await providerMarker(); // answered after the latency, like the aborted write would have been
      expect(seen).toEqual([]);
      expect(requestsSince(from0).map((r) => [r.method, r.status])).toEqual([['POST', 0]]);
    } finally {
      server.setLatency(0);
    }
  });
});

describe('get', () => {
  it('one resource by name or endpoint, with projection', async () => {
    const a = adapter();
    const u = server.userByName('user00042')!;
    const byName = await get(a, { resourceType: 'User', id: u.id });
    expect(byName).toMatchObject({ id: u.id, userName: 'user00042', [ENTERPRISE]: { employeeNumber: 'E00042' } });
    const byEndpoint = await get(a, { resourceType: '/Users', id: u.id, attributes: ['userName'] });
    expect(byEndpoint['userName']).toBe('user00042');
    expect(byEndpoint['emails']).toBeUndefined();
    const excluded = await get(a, { resourceType: 'User', id: u.id, excludedAttributes: ['emails'] });
    expect(excluded['emails']).toBeUndefined();
    expect(excluded['displayName']).toBe(u.displayName);
  });

  it('404 → NOT_FOUND with the server detail; an id with / stays one path segment', async () => {
    const a = adapter();
    const e = await failure(get(a, { resourceType: 'User', id: 'no-such-id' }));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('HTTP 404');
    expect(e.context.details).toMatchObject({ httpStatus: 404 });
    const from0 = server.requests.length;
    expect((await failure(get(a, { resourceType: 'User', id: '../Groups' }))).code).toBe('NOT_FOUND');
    expect(requestsSince(from0).map((r) => r.path)).toEqual(['/scim/v2/Users/..%2FGroups']);
  });

  it('bad params → BAD_REQUEST without a request; an unknown resource type names the known ones', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    const e = await failure(get(a, { resourceType: 'User' }));
    expect(e.code).toBe('BAD_REQUEST');
    expect(requestsSince(from0)).toHaveLength(0);
    const unknown = await failure(get(a, { resourceType: 'Device', id: '1' }));
    expect(unknown.code).toBe('BAD_REQUEST');
    expect(unknown.message).toContain('the server has User, Group');
  });
});

describe('search', () => {
  it('pulls exactly ceil(N/pageSize) GETs, one per pull, none before the first pull', async () => {
    const a = adapter();
    const resolve = await firstValueFrom(a.resourceTypes!(ctx)); // warm the resource type cache
    expect(resolve).toBeDefined();
    const from0 = server.requests.length;
    const s = a.search!({ resourceType: 'User', pageSize: 40, sortBy: 'userName' }, ctx);
    await providerMarker();
    expect(requestsSince(from0)).toHaveLength(0);

    const first = await pull(s);
    expect(requestsSince(from0, '/Users')).toHaveLength(1);
    expect(first).toMatchObject({ last: false, totalResults: USERS });
    expect(first.items).toHaveLength(40);
    await providerMarker();
    expect(requestsSince(from0, '/Users')).toHaveLength(1); // nothing read ahead

    const pages = [first, ...(await drain(s, false))];
    const gets = requestsSince(from0, '/Users');
    expect(gets).toHaveLength(Math.ceil(USERS / 40));
    expect(gets.map((g) => g.query['startIndex'])).toEqual(['1', '41', '81', '121', '161', '201', '241']);
    expect(gets.every((g) => g.query['count'] === '40' && g.query['sortBy'] === 'userName' && g.method === 'GET')).toBe(true);
    expect(pages.map((p) => p.items.length)).toEqual([40, 40, 40, 40, 40, 40, 10]);
    expect(pages.map((p) => p.last)).toEqual([false, false, false, false, false, false, true]);
    expect(pages.some((p) => p.truncated === true)).toBe(false);
    const names = pages.flatMap((p) => p.items.map((i) => (i as { userName: string }).userName));
    expect(names).toHaveLength(USERS);
    expect(new Set(names).size).toBe(USERS);
    expect(names[0]).toBe('user00001');
    expect(names[USERS - 1]).toBe(`user00${USERS}`);
    // After the last page: no request, an empty last page.
    expect(await pull(s)).toMatchObject({ items: [], last: true });
    expect(requestsSince(from0, '/Users')).toHaveLength(Math.ceil(USERS / 40));
    s.close();
  });

  it('index paging against scimmy (it advertises cursor: false): ServiceProviderConfig read once per adapter, no cursor sent', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    await drain(a.search!({ resourceType: '/Users', pageSize: 100 }, ctx));
    await drain(a.search!({ resourceType: '/Users', pageSize: 100, count: 150 }, ctx));
    expect(requestsSince(from0, '/ServiceProviderConfig')).toHaveLength(1);
    const gets = requestsSince(from0, '/Users');
    expect(gets.map((g) => [g.query['startIndex'], g.query['count']])).toEqual([
      ['1', '100'],
      ['101', '100'],
      ['201', '100'],
      ['1', '100'],
      ['101', '50'],
    ]);
    expect(gets.some((g) => 'cursor' in g.query)).toBe(false);
  });

  it('N a multiple of pageSize: the last full page is known to be last without another GET', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    const pages = await drain(a.search!({ resourceType: '/Users', pageSize: 50 }, ctx));
    expect(requestsSince(from0, '/Users')).toHaveLength(USERS / 50);
    expect(pages.at(-1)).toMatchObject({ last: true });
    expect(pages.at(-1)?.items).toHaveLength(50);
  });

  it('pageSize is capped at the config pageSize; default is the config pageSize', async () => {
    const a = adapter({ pageSize: 30 });
    const from0 = server.requests.length;
    await pull(a.search!({ resourceType: '/Users', pageSize: 1000 }, ctx));
    await pull(a.search!({ resourceType: '/Users' }, ctx));
    expect(requestsSince(from0, '/Users').map((r) => r.query['count'])).toEqual(['30', '30']);
  });

  it('count caps the total: the last request asks only for what is left; truncated', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    const pages = await drain(a.search!({ resourceType: '/Users', pageSize: 40, count: 95 }, ctx));
    expect(requestsSince(from0, '/Users').map((r) => [r.query['startIndex'], r.query['count']])).toEqual([
      ['1', '40'],
      ['41', '40'],
      ['81', '15'],
    ]);
    expect(pages.map((p) => p.items.length)).toEqual([40, 40, 15]);
    expect(pages.at(-1)).toMatchObject({ last: true, truncated: true, totalResults: USERS });
  });

  it('count ≥ matches is not truncated; count 0 reports totalResults only', async () => {
    const a = adapter();
    const pages = await drain(a.search!({ resourceType: 'User', filter: 'userName sw "user0001"', count: 10, pageSize: 100 }, ctx));
    expect(pages).toHaveLength(1);
    expect(pages[0]?.items.map((i) => (i as { userName: string }).userName).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `user0001${i}`));
    expect(pages[0]?.truncated).toBeUndefined();
    const zero = await drain(a.search!({ resourceType: 'User', count: 0 }, ctx));
    expect(zero).toEqual([{ items: [], last: true, truncated: true, totalResults: USERS, total: USERS }]);
  });

  it('filters, projection and sort order reach the provider', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    const pages = await drain(
      // (scimmy 1.3.5 cannot project extension attributes: `attributes` stays on core ones here.)
      a.search!({ resourceType: 'User', filter: `${ENTERPRISE}:employeeNumber eq "E00007"`, attributes: ['userName', 'name.familyName'], sortBy: 'userName', sortOrder: 'descending' }, ctx),
    );
    expect(pages.flatMap((p) => p.items)).toEqual([{ id: server.userByName('user00007')!.id, userName: 'user00007', name: { familyName: expect.any(String) as unknown } }]);
    expect(requestsSince(from0, '/Users')[0]?.query).toMatchObject({ filter: `${ENTERPRISE}:employeeNumber eq "E00007"`, sortOrder: 'descending', attributes: 'userName,name.familyName' });
    const sorted = await drain(a.search!({ resourceType: 'User', filter: 'userName sw "user0002"', sortBy: 'userName', sortOrder: 'descending', attributes: ['userName'] }, ctx));
    expect(sorted.flatMap((p) => p.items.map((i) => (i as { userName: string }).userName))).toEqual(Array.from({ length: 10 }, (_, i) => `user0002${9 - i}`));
  });

  it('an invalid filter → BAD_REQUEST from the provider (400 invalidFilter)', async () => {
    const e = await failure(pull(adapter().search!({ resourceType: 'User', filter: 'userName eq' }, ctx)));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.context.details).toMatchObject({ httpStatus: 400 });
  });

  it('a short page is not the end while totalResults says more (provider caps count at 200)', async () => {
    const a = adapter({ pageSize: 500 });
    const from0 = server.requests.length;
    const pages = await drain(a.search!({ resourceType: '/Users' }, ctx));
    expect(pages.map((p) => p.items.length)).toEqual([200, 50]);
    expect(requestsSince(from0, '/Users').map((r) => r.query['startIndex'])).toEqual(['1', '201']);
  });

  it('bad params fail the first pull with BAD_REQUEST; close() then pull → CANCELLED', async () => {
    const a = adapter();
    const bad = a.search!({ resourceType: 'User', sortOrder: 'sideways' }, ctx);
    expect((await failure(pull(bad))).code).toBe('BAD_REQUEST');
    const s = a.search!({ resourceType: 'User' }, ctx);
    s.close();
    expect((await failure(pull(s))).code).toBe('CANCELLED');
  });

  it('unsubscribing a pull aborts its HTTP request', async () => {
    const a = adapter();
    await drain(a.search!({ resourceType: '/Users', count: 0 }, ctx)); // read ServiceProviderConfig before the latency
    server.setLatency(300);
    try {
      const from0 = server.requests.length;
      const sub = (a.search!({ resourceType: '/Users', pageSize: 10 }, ctx).pull() as Observable<unknown>).subscribe({ error: () => undefined });
      await vi.waitFor(() => expect(requestsSince(from0, '/Users')).toHaveLength(1), { timeout: 30_000, interval: 5 });
      sub.unsubscribe();
      await providerMarker(); // answered after the latency, like the aborted GET would have been
      // The server never finished a response: the connection was closed under it.
      expect(requestsSince(from0, '/Users')[0]?.status).toBe(0);
    } finally {
      server.setLatency(0);
    }
  });
});

describe('export', () => {
  it('create, replace (If-Match), patch, delete — one result per record, in order', async () => {
    const a = adapter();
    const created = await exportAll(a, [{ op: 'create', resourceType: 'User', resource: user('exp.alice', { externalId: 'x-alice' }) }]);
    const { id, version } = ok(created[0]);
    expect(created[0]?.index).toBe(0);
    expect(id).toBe(server.userByName('exp.alice')?.id);
    expect(version).toBe('W/"1"');

    const from0 = server.requests.length;
    const results = await exportAll(a, [
      { op: 'replace', resourceType: 'User', id, version, resource: user('exp.alice', { displayName: 'Alice A.' }) },
      { op: 'replace', resourceType: 'User', id, version, resource: user('exp.alice', { displayName: 'stale' }) },
      { op: 'patch', resourceType: 'User', id, operations: [{ op: 'replace', path: 'displayName', value: 'Alice P.' }, { op: 'add', path: `${ENTERPRISE}:department`, value: 'QA' }] },
      { op: 'delete', resourceType: 'User', id, version: 'W/"1"' },
      { op: 'delete', resourceType: '/Users', id },
      { op: 'delete', resourceType: '/Users', id },
    ]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(requestsSince(from0)[0]?.path).toBe('/scim/v2/ServiceProviderConfig');
    expect(ok(results[0])).toEqual({ id, version: 'W/"2"' });
    expect(results[1]).toMatchObject({ ok: false, code: 'CONSTRAINT_VIOLATION', retryable: false });
    expect(ok(results[2])).toEqual({ id, version: 'W/"3"' });
    expect(results[3]).toMatchObject({ ok: false, code: 'CONSTRAINT_VIOLATION' });
    expect(ok(results[4])).toEqual({ id });
    expect(results[5]).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    // The first record with a version reads the provider's ServiceProviderConfig (etag.supported: true).
    expect(requestsSince(from0).map((r) => [r.method, r.status])).toEqual([
      ['GET', 200],
      ['PUT', 200],
      ['PUT', 412],
      ['PATCH', 200],
      ['DELETE', 412],
      ['DELETE', 204],
      ['DELETE', 404],
    ]);
  });

  it('a duplicate userName → ALREADY_EXISTS; invalid records → BAD_REQUEST; the batch goes on', async () => {
    const a = adapter();
    const results = await exportAll(a, [
      { op: 'create', resourceType: 'User', resource: user('user00001') },
      { op: 'create', resourceType: 'User' },
      'not a record',
      { op: 'patch', resourceType: 'User', id: 'x', operations: [{ op: 'remove' }] },
      { op: 'create', resourceType: 'Device', resource: {} },
      { op: 'create', resourceType: 'User', resource: user('exp.after-failures') },
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ALREADY_EXISTS', 'BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST', 'ok']);
    expect(results[0]).toMatchObject({ retryable: false });
    expect((results[0] as { message: string }).message).toContain('409');
    expect(server.userByName('exp.after-failures')).toBeDefined();
  });

  it('upsert: creates, then replaces the same resource (filter value quoted and URL-encoded)', async () => {
    const a = adapter();
    // JSON escaping of `"` and `\` is unit-tested: scimmy 1.3.5's filter lexer does not honour `\"`.
    const tricky = "exp.o'brien & co+1 #ü%20";
    const [first] = await exportAll(a, [{ op: 'upsert', resourceType: 'User', match: { attribute: 'userName', value: tricky }, resource: user(tricky, { title: 'one' }) }]);
    const created = ok(first);
    expect(created.action).toBe('created');
    const from0 = server.requests.length;
    const [second] = await exportAll(a, [{ op: 'upsert', resourceType: 'User', match: { attribute: 'userName', value: tricky }, resource: user(tricky, { title: 'two' }) }]);
    expect(ok(second)).toEqual({ id: created.id, version: 'W/"2"', action: 'replaced' });
    expect(server.userByName(tricky)?.['title']).toBe('two');
    const lookup = requestsSince(from0)[0];
    expect(lookup).toMatchObject({ method: 'GET', path: '/scim/v2/Users' });
    expect(lookup?.query['filter']).toBe(`userName eq ${JSON.stringify(tricky)}`);
    expect(requestsSince(from0).map((r) => r.method)).toEqual(['GET', 'PUT']);
  });

  it('upsert with an ambiguous match → CONSTRAINT_VIOLATION, nothing written', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    const [r] = await exportAll(a, [{ op: 'upsert', resourceType: '/Users', match: { attribute: 'name.givenName', value: 'José' }, resource: user('exp.nobody') }]);
    expect(r).toMatchObject({ ok: false, code: 'CONSTRAINT_VIOLATION' });
    expect((r as { message: string }).message).toMatch(/\d+ \/Users resources match name\.givenName eq "José"; expected at most one/);
    expect(requestsSince(from0).map((q) => q.method)).toEqual(['GET']);
    expect(server.userByName('exp.nobody')).toBeUndefined();
  });

  it('patch on groups: add a member', async () => {
    const a = adapter();
    const group = [...server.store.groups.values()][0]!;
    const u = server.userByName('user00003')!;
    const before = group.members?.length ?? 0;
    const [r] = await exportAll(a, [{ op: 'patch', resourceType: 'Group', id: group.id, operations: [{ op: 'add', path: 'members', value: [{ value: u.id }] }] }]);
    expect(ok(r).id).toBe(group.id);
    expect(server.store.groups.get(group.id)?.members?.length).toBe(before + 1);
  });
});

describe('authentication', () => {
  it('Basic (RFC 7617) with non-ASCII and a colon in the password', async () => {
    const a = adapter({ bearerToken: undefined, userName: BASIC.userName, password: BASIC.password });
    expect(await get(a, { resourceType: 'User', id: server.userByName('user00001')!.id })).toMatchObject({ userName: 'user00001' });
  });

  it('a bad bearer token or Basic password → UPSTREAM_AUTH_FAILED (test and reads)', async () => {
    const bad = adapter({ bearerToken: 'wrong-token' });
    const e = await failure(firstValueFrom(bad.test(ctx)));
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_AUTH_FAILED', false]);
    expect(e.message).toContain('401');
    expect((await failure(pull(bad.search!({ resourceType: '/Users' }, ctx)))).code).toBe('UPSTREAM_AUTH_FAILED');
    const badBasic = adapter({ bearerToken: undefined, userName: BASIC.userName, password: 'nope' });
    expect((await failure(get(badBasic, { resourceType: '/Users', id: 'x' }))).code).toBe('UPSTREAM_AUTH_FAILED');
  });

  it('OAuth client credentials: one token request for many calls (client id/secret form-encoded in Basic)', async () => {
    const a = adapter({ bearerToken: undefined, tokenUrl: server.tokenUrl, clientId: OAUTH.clientId, clientSecret: OAUTH.clientSecret, scope: 'scim.read scim.write' });
    const from0 = server.requests.length;
    await Promise.all([firstValueFrom(a.test(ctx)), get(a, { resourceType: '/Users', id: server.userByName('user00002')!.id }), drain(a.search!({ resourceType: '/Groups' }, ctx))]);
    await get(a, { resourceType: '/Users', id: server.userByName('user00003')!.id });
    const tokenRequests = requestsSince(from0).filter((r) => r.path === '/oauth/token');
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]).toMatchObject({ method: 'POST', status: 200 });
    expect(requestsSince(from0).filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('OAuth: the token is renewed before expires_in ends (clock from the scheduler)', async () => {
    let offset = 0;
    const clock: SchedulerLike = { now: () => Date.now() + offset, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
    const a = adapter({ bearerToken: undefined, tokenUrl: server.tokenUrl, clientId: OAUTH.clientId, clientSecret: OAUTH.clientSecret }, { scheduler: clock });
    const id = server.userByName('user00004')!.id;
    const from0 = server.requests.length;
    await get(a, { resourceType: '/Users', id });
    offset = 3500_000; // 58 min 20 s of the 60: still valid (margin 60 s)
    await get(a, { resourceType: '/Users', id });
    expect(requestsSince(from0).filter((r) => r.path === '/oauth/token')).toHaveLength(1);
    offset = 3545_000; // inside the margin: renewed
    await get(a, { resourceType: '/Users', id });
    expect(requestsSince(from0).filter((r) => r.path === '/oauth/token')).toHaveLength(2);
  });

  it('OAuth: a 401 drops the token; one new token, the request is sent again once', async () => {
    const a = adapter({ bearerToken: undefined, tokenUrl: server.tokenUrl, clientId: OAUTH.clientId, clientSecret: OAUTH.clientSecret });
    const id = server.userByName('user00005')!.id;
    await get(a, { resourceType: '/Users', id });
    const from0 = server.requests.length;
    server.failNext(401, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401', detail: 'token revoked' });
    expect(await get(a, { resourceType: '/Users', id })).toMatchObject({ id });
    expect(requestsSince(from0).map((r) => [r.method, r.path.replace(/\/Users\/.*/, '/Users/{id}'), r.status])).toEqual([
      ['GET', '/scim/v2/Users/{id}', 401],
      ['POST', '/oauth/token', 200],
      ['GET', '/scim/v2/Users/{id}', 200],
    ]);
    // Twice 401: refreshed once only, then UPSTREAM_AUTH_FAILED.
    server.failNext(401);
    server.failNext(401);
    expect((await failure(get(a, { resourceType: '/Users', id }))).code).toBe('UPSTREAM_AUTH_FAILED');
  });

  it('OAuth: a refused client → UPSTREAM_AUTH_FAILED naming the OAuth error, secret not in the message', async () => {
    const a = adapter({ bearerToken: undefined, tokenUrl: server.tokenUrl, clientId: OAUTH.clientId, clientSecret: 'wrong-secret' });
    const e = await failure(firstValueFrom(a.test(ctx)));
    expect(e.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(e.message).toContain('invalid_client');
    expect(e.message).not.toContain('wrong-secret');
  });
});

describe('retries', () => {
  const id = (): string => server.userByName('user00006')!.id;

  it('503 with Retry-After on a GET: waits, then retries', async () => {
    const a = adapter({}, { retry: { baseDelayMs: 5000 } });
    const from0 = server.requests.length;
    server.failNext(503, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '503', detail: 'maintenance' }, { 'Retry-After': '1' });
    const logFrom = logs.lines.length;
    const t = performance.now();
    expect(await get(a, { resourceType: '/Users', id: id() })).toMatchObject({ userName: 'user00006' });
    const waited = performance.now() - t;
    expect(waited).toBeGreaterThanOrEqual(950);
    // The wait the adapter chose came from Retry-After (about 1 s), not its 5 s base delay.
    const retries = retriesLogged(logFrom);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.['delayMs']).toBeGreaterThan(0);
    expect(retries[0]?.['delayMs']).toBeLessThanOrEqual(1000);
    console.info(`[measured] GET after 503 Retry-After: 1: ${waited.toFixed(0)} ms (delay chosen ${String(retries[0]?.['delayMs'])} ms)`);
    expect(requestsSince(from0).map((r) => r.status)).toEqual([503, 200]);
  });

  it('429 on a PUT and a DELETE are retried (idempotent)', async () => {
    const a = adapter();
    const [c] = await exportAll(a, [{ op: 'create', resourceType: 'User', resource: user('exp.retry-put') }]);
    const { id: uid } = ok(c);
    const from0 = server.requests.length;
    server.failNext(429, undefined, { 'Retry-After': '0' });
    const [put] = await exportAll(a, [{ op: 'replace', resourceType: 'User', id: uid, resource: user('exp.retry-put', { title: 't' }) }]);
    expect(put?.ok).toBe(true);
    server.failNext(503);
    const [del] = await exportAll(a, [{ op: 'delete', resourceType: 'User', id: uid }]);
    expect(del?.ok).toBe(true);
    expect(requestsSince(from0).map((r) => [r.method, r.status])).toEqual([
      ['PUT', 429],
      ['PUT', 200],
      ['DELETE', 503],
      ['DELETE', 204],
    ]);
  });

  it('503 on a POST (or PATCH) is not retried: UPSTREAM_UNAVAILABLE, retryable, for the caller to decide', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    server.failNext(503, undefined, { 'Retry-After': '0' });
    server.failNext(503, undefined, { 'Retry-After': '0' });
    const results = await exportAll(a, [
      { op: 'create', resourceType: '/Users', resource: user('exp.no-retry') },
      { op: 'patch', resourceType: '/Users', id: id(), operations: [{ op: 'replace', path: 'title', value: 'x' }] },
    ]);
    expect(results).toMatchObject([
      { index: 0, ok: false, code: 'UPSTREAM_UNAVAILABLE', retryable: true },
      { index: 1, ok: false, code: 'UPSTREAM_UNAVAILABLE', retryable: true },
    ]);
    expect(requestsSince(from0).map((r) => [r.method, r.status])).toEqual([
      ['POST', 503],
      ['PATCH', 503],
    ]);
    expect(server.userByName('exp.no-retry')).toBeUndefined();
  });

  it('bounded: 3 attempts, then the last failure', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    for (let i = 0; i < 3; i++) server.failNext(502);
    const e = await failure(get(a, { resourceType: '/Users', id: id() }));
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    expect(requestsSince(from0).map((r) => r.status)).toEqual([502, 502, 502]);
  });

  it('a Retry-After beyond 30 s is not waited for', async () => {
    const a = adapter();
    const from0 = server.requests.length;
    server.failNext(429, undefined, { 'Retry-After': '120' });
    const logFrom = logs.lines.length;
    const e = await failure(get(a, { resourceType: '/Users', id: id() }));
    expect(retriesLogged(logFrom)).toEqual([]); // no wait was scheduled at all
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    expect(requestsSince(from0)).toHaveLength(1);
  });
});

describe('transport', () => {
  it('an unreachable port → UPSTREAM_UNAVAILABLE, retryable', async () => {
    const a = adapter({ baseUrl: closedPortUrl });
    const e = await failure(firstValueFrom(a.test(ctx)));
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    expect(e.message).toContain('ECONNREFUSED');
    const [r] = await exportAll(a, [{ op: 'delete', resourceType: '/Users', id: 'x' }]);
    expect(r).toMatchObject({ ok: false, code: 'UPSTREAM_UNAVAILABLE', retryable: true });
  });

  it('a server slower than timeoutMs → UPSTREAM_UNAVAILABLE (timed out), not retried', async () => {
    // undici runs headers/body timeouts on its ~1 s resolution "fast timers".
    const a = adapter({ timeoutMs: 200 });
    server.setLatency(2500);
    try {
      const from0 = server.requests.length;
      const e = await failure(get(a, { resourceType: '/Users', id: 'x' }));
      expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
      expect(e.message).toContain('timed out after 200 ms');
      expect(requestsSince(from0)).toHaveLength(1);
    } finally {
      server.setLatency(0);
    }
  });

  it('a response over maxResponseBytes → SIZE_LIMIT_EXCEEDED', async () => {
    const a = adapter({}, { maxResponseBytes: 4096 });
    const e = await failure(pull(a.search!({ resourceType: '/Users', pageSize: 50 }, ctx)));
    expect(e.code).toBe('SIZE_LIMIT_EXCEEDED');
    expect(e.message).toContain('4096 bytes');
  });

  it('unknown options are refused at creation', () => {
    expect(() => createScimAdapter('hr', config(), logs.logger, { maxResponseBytes: 10 })).toThrow(RangeError);
    expect(() => createScimAdapter('hr', config(), logs.logger, { retry: { maxAttempts: 0 } })).toThrow(RangeError);
  });

  describe('through an HTTP CONNECT proxy', () => {
    let proxy: ConnectProxy;
    beforeAll(async () => {
      proxy = await startConnectProxy({ auth: { username: 'px', password: 'px pass' } });
    });
    afterAll(async () => {
      await proxy?.close();
    });

    it('config proxy with credentials: every request tunnels through it', async () => {
      const a = adapter({ proxy: proxy.authUrl });
      const n = proxy.connects.length;
      expect(await get(a, { resourceType: '/Users', id: server.userByName('user00008')!.id })).toMatchObject({ userName: 'user00008' });
      expect(proxy.connects.slice(n)).toEqual([expect.objectContaining({ target: `127.0.0.1:${server.port}`, status: 200 })]);
    });

    it('HTTP_PROXY from the environment; NO_PROXY exempts the host', async () => {
      const viaEnv = adapter({}, { env: { HTTP_PROXY: proxy.authUrl } });
      const n = proxy.connects.length;
      await firstValueFrom(viaEnv.test(ctx));
      expect(proxy.connects.length).toBeGreaterThan(n);
      const exempt = adapter({}, { env: { HTTP_PROXY: proxy.authUrl, NO_PROXY: '127.0.0.1' } });
      const m = proxy.connects.length;
      await firstValueFrom(exempt.test(ctx));
      expect(proxy.connects.length).toBe(m);
    });

    it('wrong proxy credentials → UPSTREAM_AUTH_FAILED (407)', async () => {
      const a = adapter({ proxy: proxy.url });
      const e = await failure(get(a, { resourceType: '/Users', id: 'x' }));
      expect(e.code).toBe('UPSTREAM_AUTH_FAILED');
      expect(e.message).toContain('407');
    });
  });

  describe('https', () => {
    let dir: string;
    let pki: TestPki;
    let tlsServer: ScimServer;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'scim-adapter-tls-'));
      pki = makeTestPki(dir);
      tlsServer = await startScimServer({ users: 3, groups: 1, tls: pki.server, token: TOKEN });
    });
    afterAll(async () => {
      await tlsServer?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('tls.ca: trusted; without it: UPSTREAM_UNAVAILABLE, not retryable', async () => {
      const trusting = adapter({ baseUrl: tlsServer.url, tls: { ca: pki.ca.file } });
      expect(await firstValueFrom(trusting.test(ctx))).toMatchObject({ ok: true, probe: { totalResults: 3 } });
      const untrusting = adapter({ baseUrl: tlsServer.url });
      const e = await failure(firstValueFrom(untrusting.test(ctx)));
      expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', false]);
      expect(e.message).toContain('TLS');
    });

    it('insecureSkipVerify: connects, and warns once at creation', async () => {
      const before = logs.records().filter((r) => String(r['msg']).includes('insecureSkipVerify')).length;
      const a = adapter({ baseUrl: tlsServer.url, tls: { insecureSkipVerify: true } });
      await firstValueFrom(a.test(ctx));
      await firstValueFrom(a.test(ctx));
      const warnings = logs.records().filter((r) => String(r['msg']).includes('insecureSkipVerify'));
      expect(warnings.length - before).toBe(1);
      expect(warnings.at(-1)?.['level']).toBe(40);
    });

    it('a missing CA file fails adapter creation, naming the file', () => {
      expect(() => createScimAdapter('hr', config({ baseUrl: tlsServer.url, tls: { ca: join(dir, 'nope.pem') } }), logs.logger)).toThrow(/tls\.ca .*nope\.pem/);
    });
  });
});

describe('providers that misbehave (node:http)', () => {
  let fake: Server;
  let fakeUrl: string;
  let handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void = () => undefined;
  const seen: URL[] = [];
  beforeAll(async () => {
    fake = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(url);
      handler(req, res, url);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/scim/v2/`;
  });
  afterAll(async () => {
    fake.closeAllConnections();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/scim+json' }).end(JSON.stringify(body));
  };
  const list = (total: number, from: number, n: number): unknown => ({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
    totalResults: total,
    Resources: Array.from({ length: n }, (_, i) => ({ id: String(from + i), userName: `u${from + i}` })),
  });

  it('ignores count and returns everything: delivered once, no further request', async () => {
    seen.length = 0;
    handler = (_req, res, url) => {
      const start = Number(url.searchParams.get('startIndex'));
      json(res, 200, list(25, start, 26 - start));
    };
    const a = adapter({ baseUrl: fakeUrl });
    const pages = await drain(a.search!({ resourceType: '/Users', pageSize: 10 }, ctx));
    expect(pages.map((p) => [p.items.length, p.last])).toEqual([[25, true]]);
    // (Each adapter reads /ServiceProviderConfig once; this one decodes as "no pagination": index.)
    const users = (): URL[] => seen.filter((u) => u.pathname.endsWith('/Users'));
    expect(users()).toHaveLength(1);
    // …and with a count cap, the surplus is cut and the stream marked truncated.
    const capped = await drain(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users', pageSize: 10, count: 12 }, ctx));
    expect(capped.map((p) => [p.items.length, p.last, p.truncated])).toEqual([[12, true, true]]);
    expect(users()).toHaveLength(2);
  });

  it('an empty page before totalResults → last page marked truncated', async () => {
    handler = (_req, res, url) => {
      const start = Number(url.searchParams.get('startIndex'));
      json(res, 200, start === 1 ? list(30, 1, 10) : list(30, start, 0));
    };
    const pages = await drain(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users', pageSize: 10 }, ctx));
    expect(pages.map((p) => [p.items.length, p.last, p.truncated])).toEqual([
      [10, false, undefined],
      [0, true, true],
    ]);
  });

  it('a list response that does not decode → UPSTREAM_ERROR naming the problem', async () => {
    handler = (_req, res) => json(res, 200, { Resources: [] });
    const e = await failure(pull(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users' }, ctx)));
    expect(e.code).toBe('UPSTREAM_ERROR');
    expect(e.message).toContain('totalResults');
  });

  describe('resources as the provider wrote them (JsonBatch pages, no re-serialisation)', () => {
    const resources = Array.from({ length: 7 }, (_, i) => ({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      id: `id-${i}`,
      userName: `u ${i}\n"quoted"\t`,
      name: { givenName: 'Zoë', familyName: '漢字 😀' },
      emails: [{ value: `u${i}@example.com`, primary: i % 2 === 0 }],
      ratio: i / 3,
      nothing: null,
    }));
    const body = (n: number, total = n): Record<string, unknown> => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: total, itemsPerPage: n, startIndex: 1, Resources: resources.slice(0, n) });
    const raw = async (s: SearchSource): Promise<ScimPage> => (await firstValueFrom<unknown>(s.pull())) as ScimPage;

    it('an indented body: every resource compact on one line, byte-identical to JSON.stringify of the value, equal by value', async () => {
      for (const indent of [2, '\t', '\r\n  ']) {
        handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/scim+json' }).end(JSON.stringify(body(7), null, indent));
        const page = await raw(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users' }, ctx));
        expect(isJsonBatch(page.items)).toBe(true);
        expect(page.items.texts()).toEqual(resources.map((r) => JSON.stringify(r)));
        expect(page.items.bytes.includes(0x0a)).toBe(false);
        expect(page.items.texts().map((t) => JSON.parse(t) as unknown)).toEqual(resources);
        expect(page).toMatchObject({ last: true, totalResults: 7, total: 7 });
      }
    });

    it('a compact body: the bytes as sent, byte-identical to what the adapter wrote before', async () => {
      handler = (_req, res) => json(res, 200, body(7));
      const page = await raw(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users' }, ctx));
      expect(page.items.bytes.toString('utf8')).toBe(resources.map((r) => JSON.stringify(r)).join(','));
    });

    it('spellings a provider may use (1.0, 1E2, escapes, a key twice) pass through as sent; JSON.parse gives the value it gave before', async () => {
      const text = '{"totalResults":1,"Resources":[{"id":"1","n":1.0,"e":1E2,"s":"\\u0041\\/","k":1,"k":2}]}';
      handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/scim+json' }).end(text);
      const page = await raw(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users' }, ctx));
      expect(page.items.texts()).toEqual(['{"id":"1","n":1.0,"e":1E2,"s":"\\u0041\\/","k":1,"k":2}']);
      expect(JSON.parse(page.items.text(0))).toEqual({ id: '1', n: 1, e: 100, s: 'A/', k: 2 });
    });

    it('Resources holding a non-object is refused as before (UPSTREAM_ERROR naming Resources)', async () => {
      for (const bad of [[{ id: '1' }, 5], [null], ['x'], [[{ id: '1' }]]]) {
        handler = (_req, res) => json(res, 200, { totalResults: bad.length, Resources: bad });
        const e = await failure(pull(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users' }, ctx)));
        expect(e.code).toBe('UPSTREAM_ERROR');
        expect(e.message).toContain('Resources');
      }
    });

    it('count cuts the batch to the caller\'s limit, compact or indented body, index and cursor paging', async () => {
      for (const indent of [undefined, 2]) {
        handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/scim+json' }).end(JSON.stringify(body(7, 20), null, indent));
        const page = await raw(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users', count: 3 }, ctx));
        expect(page.items.count).toBe(3);
        expect(page.items.bytes.toString('utf8')).toBe(resources.slice(0, 3).map((r) => JSON.stringify(r)).join(','));
        expect(page).toMatchObject({ last: true, truncated: true, totalResults: 20 });
      }
      handler = (_req, res, url) => {
        if (url.pathname.endsWith('/ServiceProviderConfig')) return json(res, 200, { pagination: { cursor: true, index: false } });
        res.writeHead(200, { 'content-type': 'application/scim+json' }).end(JSON.stringify({ ...body(7, 20), nextCursor: 'c2' }, null, 1));
      };
      const page = await raw(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users', count: 4 }, ctx));
      expect(page.items.texts()).toEqual(resources.slice(0, 4).map((r) => JSON.stringify(r)));
      expect(page).toMatchObject({ last: true, truncated: true });
    });

    it('a body that is not valid UTF-8 is read as before (bad bytes → U+FFFD), never passed on raw', async () => {
      const bytes = Buffer.concat([Buffer.from('{"totalResults":1,"Resources":[{"id":"1","userName":"a'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]);
      handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/scim+json' }).end(bytes);
      const page = await raw(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users' }, ctx));
      expect(page.items.texts()).toEqual(['{"id":"1","userName":"a\ufffd("}']);
    });
  });

  it('a non-JSON 200 → UPSTREAM_ERROR; an HTML 502 from a gateway → UPSTREAM_UNAVAILABLE with its text', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login page</html>');
    expect((await failure(get(adapter({ baseUrl: fakeUrl }), { resourceType: '/Users', id: '1' }))).code).toBe('UPSTREAM_ERROR');
    handler = (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html><h1>Bad Gateway</h1></html>');
    const e = await failure(get(adapter({ baseUrl: fakeUrl }, { retry: { maxAttempts: 1 } }), { resourceType: '/Users', id: '1' }));
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.message).toContain('Bad Gateway');
  });

  it('a redirect (e.g. to a login page) is not followed → UPSTREAM_ERROR naming it', async () => {
    seen.length = 0;
    handler = (_req, res) => res.writeHead(302, { location: 'https://sso.example/login' }).end();
    const e = await failure(get(adapter({ baseUrl: fakeUrl }), { resourceType: '/Users', id: '1' }));
    expect(e.code).toBe('UPSTREAM_ERROR');
    expect(e.message).toContain('redirect to https://sso.example/login not followed');
    expect(seen).toHaveLength(1);
  });

  it('no /ResourceTypes (404): User and Group still resolve to /Users and /Groups', async () => {
    seen.length = 0;
    handler = (_req, res, url) => (url.pathname.endsWith('/ResourceTypes') ? json(res, 404, { status: '404', detail: 'no such endpoint' }) : json(res, 200, { id: '7', userName: 'u7' }));
    expect(await get(adapter({ baseUrl: fakeUrl }), { resourceType: 'User', id: '7' })).toEqual({ id: '7', userName: 'u7' });
    expect(seen.map((u) => u.pathname)).toEqual(['/scim/v2/ResourceTypes', '/scim/v2/Users/7']);
  });

  it('sends Accept and Content-Type application/scim+json, a JSON body, and If-Match', async () => {
    const headers: Array<Record<string, string | string[] | undefined>> = [];
    const bodies: string[] = [];
    handler = (req, res, url) => {
      // No ServiceProviderConfig: nothing says If-Match is unsupported, so it is sent.
      if (url.pathname.endsWith('/ServiceProviderConfig')) return json(res, 404, { status: '404', detail: 'no such endpoint' });
      headers.push(req.headers);
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString('utf8')));
      req.on('end', () => {
        bodies.push(b);
        res.writeHead(200, { 'content-type': 'application/scim+json', etag: 'W/"9"' }).end(JSON.stringify({ id: 'p1' }));
      });
    };
    const [r] = await exportAll(adapter({ baseUrl: fakeUrl }), [{ op: 'patch', resourceType: '/Users', id: 'p1', version: 'W/"8"', operations: [{ op: 'Replace', path: 'active', value: false }] }]);
    expect(ok(r)).toEqual({ id: 'p1', version: 'W/"9"' });
    expect(headers[0]).toMatchObject({ accept: 'application/scim+json', 'content-type': 'application/scim+json', 'if-match': 'W/"8"', authorization: `Bearer ${TOKEN}` });
    expect(JSON.parse(bodies[0]!)).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
  });
});

describe('cursor paging (RFC 9865, node:http provider)', () => {
  // scimmy has no cursor paging: this provider advertises it and serves 250 users by opaque
  // cursors (base64, so `+`, `/`, `=` must survive the query string), honouring `count` up to
  // its maxPageSize 100. Unknown cursors → 400 invalidCursor; `expire` makes the next
  // continuation 400 expiredCursor.
  const TOTAL = 250;
  let fake: Server;
  let fakeUrl: string;
  let pagination: Record<string, unknown> = {};
  let expire = false;
  let stuck = false;
  /** Every request's path and raw query, as received. */
  const seen: string[] = [];
  const issued = new Map<string, number>();
  const token = (offset: number): string => Buffer.from(`>>offset ${offset}??`).toString('base64');
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/scim+json' }).end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, scimType: string): void =>
    json(res, 400, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType, detail: `cursor refused (${scimType})` });
  /** A marker request answered by the fake (then dropped from `seen`): what a "nothing was requested" check awaits. */
  const fakeMarker = async (): Promise<void> => {
    await (await fetch(`${fakeUrl}/Marker`)).arrayBuffer();
    const i = seen.indexOf('/scim/v2/Marker');
    if (i >= 0) seen.splice(i, 1);
  };

  beforeAll(async () => {
    fake = createServer((req, res) => {
      seen.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.endsWith('/ServiceProviderConfig')) return json(res, 200, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'], pagination });
      if (!url.pathname.endsWith('/Users')) return json(res, 404, { status: '404', detail: 'not here' });
      const cursor = url.searchParams.get('cursor');
      if (cursor === null) return json(res, 400, { status: '400', scimType: 'invalidValue', detail: 'this provider pages by cursor only' });
      let offset = 0;
      if (cursor !== '') {
        if (expire) return error(res, 'expiredCursor');
        const known = issued.get(cursor);
        if (known === undefined) return error(res, 'invalidCursor');
        offset = known;
      }
      const count = Math.min(Number(url.searchParams.get('count') ?? 100), 100);
      const n = Math.max(0, Math.min(count, TOTAL - offset));
      const next = stuck ? cursor : offset + n < TOTAL ? token(offset + n) : undefined;
      if (next !== undefined && next !== '') issued.set(next, offset + n);
      json(res, 200, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: TOTAL,
        itemsPerPage: n,
        ...(offset > 0 ? { previousCursor: 'ignored-previous' } : {}),
        ...(next === undefined ? {} : { nextCursor: next }),
        Resources: Array.from({ length: n }, (_, i) => ({ id: String(offset + i + 1), userName: `c${offset + i + 1}` })),
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/scim/v2`;
  });
  afterAll(async () => {
    fake.closeAllConnections();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });
  afterEach(() => {
    seen.length = 0;
    pagination = {};
    expire = false;
    stuck = false;
  });

  const usersSeen = (): string[] => seen.filter((u) => u.startsWith('/scim/v2/Users'));
  const q = (cursor: string, count: number): string => `/scim/v2/Users?cursor=${encodeURIComponent(cursor)}&count=${count}`;

  it('cursor preferred: cursor= first, then each nextCursor; one GET per pull; total reported', async () => {
    pagination = { cursor: true, index: true, defaultPaginationMethod: 'cursor', maxPageSize: 100 };
    const a = adapter({ baseUrl: fakeUrl });
    const s = a.search!({ resourceType: '/Users', pageSize: 100 }, ctx);
    await fakeMarker();
    expect(seen).toHaveLength(0); // nothing before the first pull, not even discovery

    const first = await pull(s);
    expect(seen).toEqual(['/scim/v2/ServiceProviderConfig', '/scim/v2/Users?cursor=&count=100']);
    expect(first).toMatchObject({ last: false, totalResults: TOTAL, total: TOTAL });
    await fakeMarker();
    expect(usersSeen()).toHaveLength(1); // nothing read ahead

    const pages = [first, ...(await drain(s, false))];
    expect(usersSeen()).toEqual([q('', 100), q(token(100), 100), q(token(200), 100)]);
    expect(token(100)).toMatch(/[+/=]/); // the opaque cursor needed URL encoding
    expect(pages.map((p) => [p.items.length, p.last, p.truncated, p.total])).toEqual([
      [100, false, undefined, TOTAL],
      [100, false, undefined, TOTAL],
      [50, true, undefined, TOTAL],
    ]);
    const ids = pages.flatMap((p) => p.items.map((i) => (i as { id: string }).id));
    expect(ids).toEqual(Array.from({ length: TOTAL }, (_, i) => String(i + 1)));
    // After the last page: no request.
    expect(await pull(s)).toMatchObject({ items: [], last: true });
    expect(usersSeen()).toHaveLength(3);
    s.close();

    // The ServiceProviderConfig is read once per adapter.
    await drain(a.search!({ resourceType: '/Users', pageSize: 100, filter: 'userName sw "c"' }, ctx));
    expect(seen.filter((u) => u.endsWith('/ServiceProviderConfig'))).toHaveLength(1);
    expect(usersSeen().at(3)).toBe(`/scim/v2/Users?filter=${encodeURIComponent('userName sw "c"')}&cursor=&count=100`);
  });

  it('index: false → cursor even when defaultPaginationMethod says index; count cap truncates', async () => {
    pagination = { cursor: true, index: false, defaultPaginationMethod: 'index' };
    const pages = await drain(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users', pageSize: 100, count: 130 }, ctx));
    expect(usersSeen()).toEqual([q('', 100), q(token(100), 30)]);
    expect(pages.map((p) => [p.items.length, p.last, p.truncated])).toEqual([
      [100, false, undefined],
      [30, true, true],
    ]);
    expect(pages.at(-1)).toMatchObject({ totalResults: TOTAL, total: TOTAL });
  });

  it('count 0 reports totalResults only; count ≥ matches is not truncated', async () => {
    pagination = { cursor: true, index: false };
    const a = adapter({ baseUrl: fakeUrl });
    expect(await drain(a.search!({ resourceType: '/Users', count: 0 }, ctx))).toEqual([{ items: [], last: true, truncated: true, totalResults: TOTAL, total: TOTAL }]);
    const all = await drain(a.search!({ resourceType: '/Users', pageSize: 100, count: 500 }, ctx));
    expect(all.map((p) => [p.items.length, p.truncated])).toEqual([
      [100, undefined],
      [100, undefined],
      [50, undefined],
    ]);
  });

  it('cursor advertised but index preferred (or no preference) → index paging', async () => {
    pagination = { cursor: true, index: true, defaultPaginationMethod: 'index' };
    // This provider refuses startIndex paging: the 400 shows index paging was used.
    const e = await failure(pull(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users', pageSize: 10 }, ctx)));
    expect(e.code).toBe('BAD_REQUEST');
    expect(usersSeen()).toEqual(['/scim/v2/Users?startIndex=1&count=10']);
  });

  it('400 invalidCursor → BAD_REQUEST; 400 expiredCursor → UPSTREAM_ERROR, retryable, not re-sent', async () => {
    pagination = { cursor: true, defaultPaginationMethod: 'cursor' };
    const a = adapter({ baseUrl: fakeUrl });
    const s = a.search!({ resourceType: '/Users', pageSize: 100 }, ctx);
    await pull(s);
    issued.clear(); // the provider forgets its cursors
    const invalid = await failure(pull(s));
    expect(invalid.code).toBe('BAD_REQUEST');
    expect(invalid.retryable).toBe(false);
    expect(invalid.context.details).toMatchObject({ httpStatus: 400, scimType: 'invalidCursor' });
    expect(invalid.message).toContain('cursor refused (invalidCursor)');

    const s2 = a.search!({ resourceType: '/Users', pageSize: 100 }, ctx);
    await pull(s2);
    expire = true;
    const before = usersSeen().length;
    const expired = await failure(pull(s2));
    expect(expired.code).toBe('UPSTREAM_ERROR');
    expect(expired.retryable).toBe(true);
    expect(expired.context.details).toMatchObject({ httpStatus: 400, scimType: 'expiredCursor' });
    expect(usersSeen()).toHaveLength(before + 1);
  });

  it('a provider that returns the same nextCursor again ends the stream truncated, no loop', async () => {
    pagination = { cursor: true, index: false };
    stuck = true;
    const pages = await drain(adapter({ baseUrl: fakeUrl }).search!({ resourceType: '/Users', pageSize: 100 }, ctx));
    // First page: nextCursor '' (the cursor sent) → no progress possible.
    expect(pages.map((p) => [p.items.length, p.last, p.truncated])).toEqual([[100, true, true]]);
    expect(usersSeen()).toHaveLength(1);
    expect(logs.text()).toContain('did not advance its cursor');
  });
});

describe('conditions honoured or refused (node:http provider without ETags or sorting)', () => {
  // An independent provider as found in the wild: its ServiceProviderConfig says
  // `etag.supported: false` and `sort.supported: false` (both optional in RFC 7644), and it
  // really ignores If-Match and sortBy: every write it receives is applied.
  let fake: Server;
  let fakeUrl: string;
  const seen: Array<{ method: string; path: string; ifMatch: string | undefined; sortBy: string | null }> = [];
  const applied: string[] = [];
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/scim+json' }).end(JSON.stringify(body));
  };
  beforeAll(async () => {
    fake = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const method = req.method ?? 'GET';
      const ifMatch = req.headers['if-match'];
      seen.push({ method, path: url.pathname, ifMatch: typeof ifMatch === 'string' ? ifMatch : undefined, sortBy: url.searchParams.get('sortBy') });
      req.resume();
      req.on('end', () => {
        if (url.pathname.endsWith('/ServiceProviderConfig')) {
          return json(res, 200, {
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
            patch: { supported: true },
            bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
            filter: { supported: true, maxResults: 100 },
            changePassword: { supported: false },
            sort: { supported: false },
            etag: { supported: false },
            authenticationSchemes: [],
          });
        }
        if (!url.pathname.startsWith('/scim/v2/Users')) return json(res, 404, { status: '404', detail: 'not here' });
        if (method === 'GET') return json(res, 200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 2, Resources: [{ id: 'b', userName: 'b' }, { id: 'a', userName: 'a' }] });
        applied.push(`${method} ${url.pathname}`);
        if (method === 'DELETE') return res.writeHead(204).end();
        return json(res, method === 'POST' ? 201 : 200, { id: url.pathname.split('/')[4] ?? 'new', userName: 'x' });
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/scim/v2`;
  });
  afterAll(async () => {
    fake.closeAllConnections();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });

  const versioned = [
    { op: 'replace', resourceType: '/Users', id: 'u1', version: 'W/"bogus"', resource: user('u1') },
    { op: 'patch', resourceType: '/Users', id: 'u1', version: 'W/"bogus"', operations: [{ op: 'replace', path: 'active', value: false }] },
    { op: 'delete', resourceType: '/Users', id: 'u1', version: 'W/"bogus"' },
  ];

  it('a record with a version is refused (BAD_REQUEST, not retryable) before any write: zero write requests', async () => {
    seen.length = 0;
    applied.length = 0;
    const results = await exportAll(adapter({ baseUrl: fakeUrl }), versioned);
    expect(results.map((r) => [r.index, r.ok ? 'ok' : r.code, r.ok ? undefined : r.retryable])).toEqual([
      [0, 'BAD_REQUEST', false],
      [1, 'BAD_REQUEST', false],
      [2, 'BAD_REQUEST', false],
    ]);
    for (const r of results) expect(r.ok ? '' : r.message).toContain('etag.supported: false');
    // One read of the ServiceProviderConfig (cached for the adapter), and nothing else.
    expect(seen.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /scim/v2/ServiceProviderConfig']);
    expect(applied).toEqual([]);
  });

  it('the batch goes on: records without a version are written (unconditionally, as asked)', async () => {
    seen.length = 0;
    applied.length = 0;
    const results = await exportAll(adapter({ baseUrl: fakeUrl }), [
      versioned[0],
      { op: 'create', resourceType: '/Users', resource: user('u2') },
      { op: 'replace', resourceType: '/Users', id: 'u1', resource: user('u1') },
      versioned[2],
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['BAD_REQUEST', 'ok', 'ok', 'BAD_REQUEST']);
    expect(applied).toEqual(['POST /scim/v2/Users', 'PUT /scim/v2/Users/u1']);
    expect(seen.filter((q) => q.ifMatch !== undefined)).toEqual([]);
  });

  it('a sortBy is refused (BAD_REQUEST) at the first pull, before any search request; without sortBy the search runs', async () => {
    seen.length = 0;
    const a = adapter({ baseUrl: fakeUrl });
    const e = await failure(pull(a.search!({ resourceType: '/Users', sortBy: 'userName' }, ctx)));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('sort.supported: false');
    expect(seen.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /scim/v2/ServiceProviderConfig']);
    const pages = await drain(a.search!({ resourceType: '/Users' }, ctx));
    expect(pages.map((p) => p.items.length)).toEqual([2]);
    expect(seen.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /scim/v2/ServiceProviderConfig', 'GET /scim/v2/Users']);
    expect(seen.every((q) => q.sortBy === null)).toBe(true);
  });
});

describe('secrets', () => {
  it('no token, password or client secret in any log line', () => {
    const text = logs.text();
    expect(text.length).toBeGreaterThan(0);
    for (const secret of [TOKEN, BASIC.password, OAUTH.clientSecret, Buffer.from(`${BASIC.userName}:${BASIC.password}`).toString('base64')]) {
      expect(text).not.toContain(secret);
    }
  });
});
