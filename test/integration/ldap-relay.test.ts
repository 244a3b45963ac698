/**
 * The whole relay against a real OpenLDAP: hub ← agent ← slapd over TLS, every operation
 * through the hub's API, and the backpressure contract observed in slapd's own log (one `SRCH`
 * line per page request).
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import { Subject, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LdapDataSourceConfig } from '../../src/adapters/ldap/config.js';
import { createLdapAdapter, type LdapAdapter } from '../../src/adapters/ldap/index.js';
import type { StreamEvent } from '../../src/hub/request-sinks.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { captureLogs } from '../helpers/log-capture.js';
import { basicAgentYaml, isState, makeEnv, roundTrips, startAgent, startHub, type Env, type RunningHub } from '../helpers/relay-env.js';
import { printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';

let env: Env;
let slapd: Slapd;
let hub: RunningHub;
/** `corp`'s adapter, made here so the tests can reach its search worker thread. */
let corpAdapter: LdapAdapter;
const cleanups: Array<() => unknown> = [];

printSlapdLogOnFailure(() => slapd);

/** Page requests slapd has logged since `from` (each page of a paged search is one SRCH). */
const pageRequests = (from: number) => (slapd.log(from).match(/ SRCH base="ou=people/g) ?? []).length;

let markers = 0;
/**
 * What slapd has logged since `from`, up to a marker: a `get` through hub and agent of a DN
 * that does not exist (NOT_FOUND), awaited until slapd logged its search. Everything the agent
 * sent slapd before it — a page request it should not have made — is in the log by then: the
 * event a "nothing more was requested" check awaits instead of a sleep.
 */
async function slapdLogUntilMarker(from: number): Promise<string> {
  const dn = `uid=marker-${++markers},${people}`;
  await expect(hub.hub.request({ ...corp, op: 'get', params: { dn } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  const line = ` SRCH base="${dn}"`;
  await vi.waitFor(() => expect(slapd.log(from)).toContain(line), { timeout: 30_000, interval: 10 });
  const log = slapd.log(from);
  return log.slice(0, log.indexOf(line));
}
const pageRequestsIn = (log: string): number => (log.match(/ SRCH base="ou=people/g) ?? []).length;

function dataSources(extra = ''): string {
  return `
dataSources:
  corp:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${slapd.adminPassword}
    baseDN: ${slapd.baseDN}
    pageSize: 100
    operations: [test, schema, attributes, get, search, export]
  corp-inthread:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${slapd.adminPassword}
    baseDN: ${slapd.baseDN}
    pageSize: 100
    searchWorkers: 0
  readonly:
    type: ldap
    urls: [ldap://127.0.0.1:1, ${slapd.ldapsUrl}]
    bindDN: ${slapd.readerDN}
    bindPassword: ${slapd.readerPassword}
    baseDN: ou=people,${slapd.baseDN}
    tls: { ca: ${slapd.caFile} }
  badcreds:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.adminDN}
    bindPassword: not-the-password
    baseDN: ${slapd.baseDN}
${extra}`;
}

beforeAll(async () => {
  env = makeEnv();
  slapd = await startSlapd({ entries: 2500 });
  hub = await startHub(env);
  const corpConfig = LdapDataSourceConfig.decode({
    type: 'ldap',
    url: slapd.url,
    bindDN: slapd.adminDN,
    bindPassword: slapd.adminPassword,
    baseDN: slapd.baseDN,
    pageSize: 100,
    operations: ['test', 'schema', 'attributes', 'get', 'search', 'export'],
    searchWorkers: 1,
  });
  if (isLeft(corpConfig)) throw new Error('bad corp config');
  corpAdapter = createLdapAdapter('corp', corpConfig.right, captureLogs('info').logger);
  const a = startAgent(env, basicAgentYaml(env, [hub.url]), dataSources(), { adapters: new Map([['corp', corpAdapter]]) });
  cleanups.push(() => a.agent.close());
  await a.statuses.next(isState('registered'));
}, 120_000);

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await hub.close();
  await slapd.dispose();
  env.cleanup();
});

const subs: Subscription[] = [];
afterEach(() => {
  for (const s of subs.splice(0)) s.unsubscribe();
});

const corp = { tenantId: '1', dataSource: 'corp' };
const people = `ou=people,dc=example,dc=com`;

describe('LDAP through the hub', () => {
  it('test: bind and rootDSE facts, with failover to the second URL', async () => {
    const r = (await hub.hub.request({ ...corp, op: 'test' })) as Record<string, unknown>;
    expect(r['ok']).toBe(true);
    expect(r['namingContexts']).toContain('dc=example,dc=com');
    const ro = (await hub.hub.request({ tenantId: '1', dataSource: 'readonly', op: 'test' })) as Record<string, unknown>;
    expect(ro['url']).toBe(slapd.ldapsUrl);
  });

  it('test with a wrong bind password → UPSTREAM_AUTH_FAILED, not retryable', async () => {
    await expect(hub.hub.request({ tenantId: '1', dataSource: 'badcreds', op: 'test' })).rejects.toMatchObject({
      code: 'UPSTREAM_AUTH_FAILED',
      retryable: false,
    });
  });

  it('schema and attributes come from the subschema entry', async () => {
    const schema = (await hub.hub.request({ ...corp, op: 'schema' })) as { objectClasses: Array<{ names: string[]; must: string[] }> };
    const inet = schema.objectClasses.find((o) => o.names.includes('inetOrgPerson'));
    expect(inet).toBeDefined();
    const attrs = JSON.stringify(await hub.hub.request({ ...corp, op: 'attributes' }));
    expect(attrs).toContain('"uid"');
  });

  it('search streams all 2,500 people with the exact count, entries normalised', async () => {
    const events = await lastValueFrom(
      hub.hub.searchEvents$({ ...corp, params: { base: people, filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'cn', 'mail'] } }).pipe(toArray()),
    );
    const entries = events.flatMap((e) => (e.type === 'items' ? e.items : [])) as Array<{ dn: string; attributes: Record<string, string[]> }>;
    expect(entries).toHaveLength(2500);
    expect(events.at(-1)).toEqual({ type: 'end', count: 2500, truncated: false });
    for (const e of entries.slice(0, 50)) {
      expect(e.dn).toMatch(/^uid=user\d+,ou=people,dc=example,dc=com$/i);
      expect(Array.isArray(e.attributes['uid'])).toBe(true);
    }
  });

  it('searches run in a worker thread (searchWorkers: 1), reused; in the main thread with searchWorkers: 0 — same entries', async () => {
    const params = { base: people, filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'cn', 'mail', 'jpegPhoto'] };
    const entries = async (dataSource: string): Promise<unknown[]> => {
      const events = await lastValueFrom(hub.hub.searchEvents$({ tenantId: '1', dataSource, params }).pipe(toArray()));
      expect(events.at(-1)).toEqual({ type: 'end', count: 2500, truncated: false });
      return events.flatMap((e) => (e.type === 'items' ? e.items : []));
    };
    const threaded = await entries('corp');
    expect(corpAdapter.stats.searchWorkers).toBe(1);
    const worker = corpAdapter.searchThreads?.workers[0];
    expect(await entries('corp')).toHaveLength(2500);
    expect(corpAdapter.searchThreads?.workers).toEqual([worker]);
    expect(threaded).toEqual(await entries('corp-inthread'));
    expect(threaded.filter((e) => JSON.stringify(e).includes('jpegPhoto;binary'))).toHaveLength(250);
  });

  it("the search worker dying mid-stream → the hub's caller gets INTERNAL (retryable), not a hang; the next search works", async () => {
    const demand$ = new Subject<number>();
    const got: StreamEvent[] = [];
    let error: unknown;
    subs.push(
      hub.hub.searchEvents$({ ...corp, params: { base: people } }, { window: 1, demand$ }).subscribe({ next: (e) => got.push(e), error: (e: unknown) => (error = e) }),
    );
    await expect.poll(() => got.length).toBe(1);
    await corpAdapter.searchThreads!.workers[0]!.terminate();
    demand$.next(1000);
    await expect.poll(() => error, { timeout: 10_000 }).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'INTERNAL', retryable: true });
    expect(got.some((e) => e.type === 'end')).toBe(false);
    const n = (await lastValueFrom(hub.hub.search$({ ...corp, params: { base: people, attributes: ['uid'] } }).pipe(toArray()))).length;
    expect(n).toBe(2501); // the people and ou=people itself
  });

  it('a malformed filter → BAD_REQUEST with the parser message; a base outside baseDN → OPERATION_NOT_ALLOWED', async () => {
    const bad = lastValueFrom(hub.hub.search$({ ...corp, params: { filter: '(uid=user1' } }));
    await expect(bad).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const outside = lastValueFrom(hub.hub.search$({ tenantId: '1', dataSource: 'readonly', params: { base: 'ou=groups,dc=example,dc=com' } }));
    await expect(outside).rejects.toMatchObject({ code: 'OPERATION_NOT_ALLOWED' });
  });

  it('export is refused when not in the allow-list (default read-only)', async () => {
    await expect(lastValueFrom(hub.hub.export$({ tenantId: '1', dataSource: 'readonly' }, [{ op: 'delete', dn: `uid=user00001,${people}` }]))).rejects.toMatchObject({
      code: 'OPERATION_NOT_ALLOWED',
    });
  });

  it('the agent itself refuses what its allow-list and baseDN forbid, before any LDAP operation', async () => {
    // Straight to the agent's link: the hub's own check (it knows the allow-list from hello) is bypassed.
    const link = hub.hub.registry.agents('1')[0]!;
    const from = slapd.logSize();
    const spec = { dataSource: 'readonly', params: {}, timeoutMs: 10_000 };
    await expect(lastValueFrom(link.export$({ ...spec, op: 'export' }, [{ op: 'delete', dn: `uid=user00001,${people}` }]))).rejects.toMatchObject({ code: 'OPERATION_NOT_ALLOWED' });
    await expect(lastValueFrom(link.stream$({ ...spec, op: 'search', params: { base: 'dc=example,dc=com' } }))).rejects.toMatchObject({ code: 'OPERATION_NOT_ALLOWED' });
    await expect(lastValueFrom(link.result$({ ...spec, op: 'get', params: { dn: 'cn=admin,dc=example,dc=com' } }))).rejects.toMatchObject({ code: 'OPERATION_NOT_ALLOWED' });
    // Nothing of it reached slapd: no operation at all was logged before the marker's search
    // (the marker's own connection may bind first: only the corp source's BIND, if any).
    const before = await slapdLogUntilMarker(from);
    expect(before.match(/ (SRCH|DEL|ADD|MOD|MODRDN) /g) ?? []).toEqual([]);
    expect(before).not.toContain(slapd.readerDN);
  });

  it('a stalled consumer stops the agent from requesting pages; credit resumes it', async () => {
    const from = slapd.logSize();
    const demand$ = new Subject<number>();
    const got: StreamEvent[] = [];
    subs.push(hub.hub.searchEvents$({ ...corp, params: { base: people } }, { window: 1, demand$ }).subscribe((e) => got.push(e)));
    await expect.poll(() => got.length).toBe(1);
    await roundTrips(hub.hub);
    const stalled = pageRequestsIn(await slapdLogUntilMarker(from));
    expect(stalled).toBeGreaterThanOrEqual(1);
    expect(stalled).toBeLessThanOrEqual(2);
    await roundTrips(hub.hub);
    expect(pageRequestsIn(await slapdLogUntilMarker(from))).toBe(stalled);
    demand$.next(1000);
    await expect.poll(() => got.at(-1)?.type, { timeout: 10_000 }).toBe('end');
    expect(pageRequests(from)).toBeGreaterThanOrEqual(25);
  });

  it('cancel mid-stream: the agent stops issuing page requests', async () => {
    const from = slapd.logSize();
    let n = 0;
    await new Promise<void>((resolve, reject) => {
      const sub = hub.hub.search$({ ...corp, params: { base: people } }).subscribe({
        next: () => {
          if (++n === 300) {
            sub.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
    });
    // The cancel reached the agent and its search worker closed the stream (a page request in
    // flight when the cancel arrived may still have gone out: it is counted in `after`).
    await roundTrips(hub.hub);
    await vi.waitFor(() => expect(corpAdapter.stats.streams).toBe(0), { timeout: 30_000, interval: 10 });
    const after = pageRequestsIn(await slapdLogUntilMarker(from));
    await roundTrips(hub.hub);
    expect(pageRequestsIn(await slapdLogUntilMarker(from))).toBe(after);
    expect(after).toBeLessThan(25);
  });

  it('export: add, modify, rename, upsert, delete — one result per record, the batch goes on after a failure', async () => {
    const dn = `uid=export-test,${people}`;
    const records = [
      { op: 'add', dn, attributes: { objectClass: ['inetOrgPerson'], uid: 'export-test', cn: 'Zoë Export', sn: 'Export' } },
      { op: 'add', dn, attributes: { objectClass: ['inetOrgPerson'], uid: 'export-test', cn: 'dup', sn: 'dup' } },
      { op: 'modify', dn, changes: [{ operation: 'replace', attribute: 'mail', values: ['zoe@example.com'] }] },
      { op: 'upsert', dn, attributes: { objectClass: ['inetOrgPerson'], uid: 'export-test', cn: 'Zoë Export', sn: 'Upserted' } },
      { op: 'delete', dn: `uid=does-not-exist,${people}` },
      { op: 'delete', dn },
    ];
    const results = (await lastValueFrom(hub.hub.export$(corp, records).pipe(toArray<unknown>()))) as Array<{ index: number; ok: boolean; code?: string }>;
    expect(results.map((r) => [r.index, r.ok, r.code])).toEqual([
      [0, true, undefined],
      [1, false, 'ALREADY_EXISTS'],
      [2, true, undefined],
      [3, true, undefined],
      [4, false, 'NOT_FOUND'],
      [5, true, undefined],
    ]);
    await expect(hub.hub.request({ ...corp, op: 'get', params: { dn } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('slapd stopped mid-stream → the subscriber gets UPSTREAM_UNAVAILABLE; later requests succeed once it is back', async () => {
    const demand$ = new Subject<number>();
    let error: unknown;
    const got: StreamEvent[] = [];
    subs.push(
      hub.hub.searchEvents$({ ...corp, params: { base: people } }, { window: 1, demand$ }).subscribe({ next: (e) => got.push(e), error: (e: unknown) => (error = e) }),
    );
    await expect.poll(() => got.length).toBe(1);
    await slapd.kill();
    demand$.next(1000);
    await expect.poll(() => error, { timeout: 15_000 }).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    expect(got.some((e) => e.type === 'end')).toBe(false);
    await slapd.start();
    const r = (await hub.hub.request({ ...corp, op: 'test' })) as Record<string, unknown>;
    expect(r['ok']).toBe(true);
  });
});
