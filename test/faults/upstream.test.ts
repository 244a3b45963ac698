/**
 * Faults on the agent ↔ slapd side and under load, through the hub's HTTP API: the LDAP link
 * cut mid-stream and slapd stopped mid-export, 500 concurrent searches against small agent
 * limits, and SIGTERM (graceful shutdown) in the middle of an export. Each scenario asserts
 * what the caller and the agent see, and prints one FIGURE line with what it measured.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client } from 'ldapts';
import { Agent as UndiciAgent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HubApiError, HubClient, type ExportResultLine } from '../../src/hub/client.js';
import { PEOPLE_DN, personDn, uidOf } from '../fixtures/ldap/generate.js';
import { API_TOKENS, isState, makeEnv, startHub, type Env, type RunningHub } from '../helpers/relay-env.js';
import { printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { figure, fmt, ldapSourceYaml, startFaultAgent, type AgentSettings, type FaultAgent } from './env.js';

const ENTRIES = 10_000;

let env: Env;
let slapd: Slapd;
let ca: Buffer;
let hub: RunningHub;
const cleanups: Array<() => unknown> = [];

printSlapdLogOnFailure(() => slapd);

beforeAll(async () => {
  env = makeEnv();
  ca = readFileSync(env.pki.ca.file);
  slapd = await startSlapd({ entries: ENTRIES });
  // Keep-alive as in production (seconds): the load scenario starves this one process's event loop.
  hub = await startHub(env, { keepAliveInterval: 5000, keepAliveTimeout: 5000 });
}, 120_000);

afterAll(async () => {
  await hub?.close();
  await slapd?.dispose();
  env?.cleanup();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An agent whose LDAP data source `corp` reaches slapd through a fault proxy. */
async function proxiedAgent(settings: AgentSettings = {}): Promise<{ agent: FaultAgent; proxy: FaultProxy; client: HubClient }> {
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: slapd.port });
  cleanups.push(() => proxy.close());
  const agent = startFaultAgent(env, { urls: [hub.url], dataSources: ldapSourceYaml('corp', slapd, `ldap://${proxy.address}`, 100), settings });
  cleanups.push(() => agent.close());
  await agent.statuses.next(isState('registered'));
  const client = patientClient();
  cleanups.push(() => client.close());
  return { agent, proxy, client };
}

/**
 * An API client whose connections may take a minute to open: the load test opens 500 TLS
 * connections at once, and on a loaded 2-core machine their handshakes outlast undici's 10 s
 * connect timeout (a client-side limit, not what the test is about).
 */
function patientClient(): HubClient {
  const dispatcher = new UndiciAgent({ headersTimeout: 60_000, bodyTimeout: 0, connect: { ca, timeout: 60_000 } });
  cleanups.push(() => dispatcher.close());
  return new HubClient({ url: `https://127.0.0.1:${hub.port}`, token: API_TOKENS.tenant1, dispatcher });
}

/** Runs an export over the HTTP API; resolves with the result lines and how it ended. */
async function exportAll(client: HubClient, records: AsyncIterable<unknown> | Iterable<unknown>, onResult?: (n: number) => void) {
  const stream = client.export('corp', records);
  const results: ExportResultLine[] = [];
  let failure: HubApiError | undefined;
  try {
    for await (const r of stream) {
      results.push(r);
      onResult?.(results.length);
    }
  } catch (err) {
    if (!(err instanceof HubApiError)) throw err;
    failure = err;
  }
  return { results, summary: stream.summary, failure };
}

/** uids under ou=people starting with `prefix`, read directly from slapd. */
async function uidsInSlapd(prefix: string): Promise<Set<string>> {
  const c = new Client({ url: slapd.url });
  try {
    await c.bind(slapd.adminDN, slapd.adminPassword);
    const { searchEntries } = await c.search(PEOPLE_DN, { filter: `(uid=${prefix}*)`, attributes: ['uid'], sizeLimit: 0, paged: { pageSize: 1000 } });
    return new Set(searchEntries.map((e) => String(e['uid'])));
  } finally {
    await c.unbind();
  }
}

const addRecord = (uid: string) => ({
  op: 'add',
  dn: `uid=${uid},${PEOPLE_DN}`,
  attributes: { objectClass: ['inetOrgPerson'], uid, cn: `Fault ${uid}`, sn: 'Fault' },
});

describe('slapd faults', () => {
  it('LDAP link cut mid-stream: the caller gets an UPSTREAM_UNAVAILABLE error line; the next search succeeds, same agent', async () => {
    const { agent, proxy, client } = await proxiedAgent();
    const pool = agent.ldap.get('corp')!;
    const search = client.search('corp', { base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)' });
    let count = 0;
    let streamsAtCut = -1;
    const outcome = await (async () => {
      for await (const _ of search) {
        if (++count === 1000) {
          streamsAtCut = pool.stats.streams;
          proxy.cut();
        }
      }
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    // The cut hit a running stream (its dedicated LDAP client was still leased).
    expect(streamsAtCut).toBe(1);
    expect(outcome).toBeInstanceOf(HubApiError);
    const err = outcome as HubApiError;
    expect([err.code, err.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    expect(err.count).toBe(count);
    expect(count).toBeLessThan(ENTRIES);
    expect(search.summary).toBeUndefined();
    await expect.poll(() => pool.stats.streams).toBe(0);

    const again = client.search('corp', { base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)', attributes: ['uid'] });
    let n = 0;
    for await (const _ of again) n += 1;
    expect(n).toBe(ENTRIES);
    expect(agent.statuses.all.filter((s) => s.status.state === 'registered')).toHaveLength(1);
    figure('slapd-cut-stream', `caller got UPSTREAM_UNAVAILABLE (retryable) after ${fmt(count)} of ${fmt(ENTRIES)} entries; next search ${fmt(n)}/${fmt(ENTRIES)} on the same agent session`);
  });

  it('slapd stopped mid-export: the records it could not write get UPSTREAM_UNAVAILABLE, the batch completes, a retry after restart writes them', async () => {
    const { agent, client } = await proxiedAgent();
    const pool = agent.ldap.get('corp')!;
    // slapd commits each add to disk (~5-10 ms here): a small batch keeps the scenario short.
    const N = 1000;
    const uids = Array.from({ length: N }, (_, i) => `stop-${String(i).padStart(5, '0')}`);
    let stopping: Promise<void> | undefined;
    const t0 = performance.now();
    const first = await exportAll(client, uids.map(addRecord), (n) => {
      if (n === 200) stopping = slapd.stop();
    });
    await stopping;
    const took = performance.now() - t0;
    expect(first.failure).toBeUndefined();
    expect(first.results).toHaveLength(N);
    const ok = first.results.filter((r) => r.ok);
    const failed = first.results.filter((r) => !r.ok);
    expect(first.summary).toEqual({ end: true, count: N, ok: ok.length, failed: failed.length });
    expect(ok.length).toBeGreaterThanOrEqual(200);
    expect(failed.length).toBeGreaterThan(0);
    expect(new Set(failed.map((r) => (r.ok ? '' : r.code)))).toEqual(new Set(['UPSTREAM_UNAVAILABLE']));

    await slapd.start();
    const inSlapd = await uidsInSlapd('stop-');
    // Every ok result is in the directory; at most the record in flight when slapd went down
    // was written without its answer (its result says UPSTREAM_UNAVAILABLE: retry with upsert).
    for (const r of ok) expect(inSlapd.has(uids[r.index]!)).toBe(true);
    expect(inSlapd.size - ok.length).toBeGreaterThanOrEqual(0);
    expect(inSlapd.size - ok.length).toBeLessThanOrEqual(1);

    const retry = await exportAll(
      client,
      failed.map((r) => ({ ...addRecord(uids[r.index]!), op: 'upsert' })),
    );
    expect(retry.summary).toMatchObject({ count: failed.length, ok: failed.length, failed: 0 });
    expect((await uidsInSlapd('stop-')).size).toBe(N);
    await expect.poll(() => pool.stats.streams).toBe(0);
    figure(
      'slapd-stop-export',
      `${fmt(ok.length)} ok before slapd stopped, ${fmt(failed.length)} UPSTREAM_UNAVAILABLE after (batch of ${fmt(N)} completed in ${fmt(took)} ms); ${inSlapd.size - ok.length} written without an ok; retry after restart ${fmt(retry.summary?.ok ?? 0)}/${fmt(failed.length)} ok, same agent`,
    );
  });
});

describe('load', () => {
  const N = 500;
  const TIMEOUT_MS = 30_000;
  const ALLOWED = new Set(['complete', '503 BUSY', '429 TOO_MANY_REQUESTS']);

  /** N one-entry searches at once, each with its own deadline (a hang shows as an abort). */
  async function storm(client: HubClient): Promise<{ tally: Map<string, number>; ms: number; slowest: number }> {
    const t0 = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const started = performance.now();
        const search = client.search('corp', { base: PEOPLE_DN, filter: `(uid=${uidOf((i % ENTRIES) + 1)})`, attributes: ['uid'] }, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        try {
          let n = 0;
          for await (const _ of search) n += 1;
          return { kind: n === 1 && search.summary?.count === 1 ? 'complete' : `short:${n}`, ms: performance.now() - started };
        } catch (err) {
          return { kind: err instanceof HubApiError ? `${err.status} ${err.code}` : `hang/other: ${String(err)}`, ms: performance.now() - started };
        }
      }),
    );
    const tally = new Map<string, number>();
    for (const o of outcomes) tally.set(o.kind, (tally.get(o.kind) ?? 0) + 1);
    return { tally, ms: performance.now() - t0, slowest: Math.max(...outcomes.map((o) => o.ms)) };
  }

  const describeTally = (t: Map<string, number>): string => [...t.entries()].map(([k, v]) => `${fmt(v)} ${k}`).join(', ');

  it('500 concurrent searches against maxConcurrentRequests 4 / maxQueuedRequests 8: every one answered, nothing leaks', async () => {
    const { agent, proxy, client } = await proxiedAgent({ maxConcurrentRequests: 4, maxQueuedRequests: 8, keepAliveInterval: 5000, keepAliveTimeout: 5000 });
    const pool = agent.ldap.get('corp')!;
    // One short operation first: its shared client is the pool's idle state (1 open connection).
    expect(await client.get('corp', { dn: personDn(1) })).toMatchObject({ dn: personDn(1) });
    const idle = { shared: pool.stats.shared, open: pool.stats.openConnections };
    expect(idle).toEqual({ shared: 1, open: 1 });

    // Round 1, a burst: with the 500 connections open first (their TLS handshakes take seconds of
    // CPU here), the searches reach the hub at once — the hub's per-tenant bound (256) and the
    // agent's (4 running + 8 queued) both answer.
    await Promise.all(Array.from({ length: N }, () => client.agents()));
    const burst = await storm(client);
    // Round 2, a wave: a fresh client, so the searches arrive as handshakes complete and many run.
    const cold = patientClient();
    cleanups.push(() => cold.close());
    const wave = await storm(cold);

    for (const round of [burst, wave]) {
      expect([...round.tally.keys()].filter((k) => !ALLOWED.has(k))).toEqual([]);
      // A search still running at TIMEOUT_MS is aborted and tallied as a hang, which ALLOWED refuses.
      expect(round.tally.get('complete') ?? 0).toBeGreaterThanOrEqual(4 + 8);
    }
    expect(burst.tally.get('429 TOO_MANY_REQUESTS') ?? 0).toBeGreaterThan(0);
    expect(burst.tally.get('503 BUSY') ?? 0).toBeGreaterThan(0);
    // The load did not cost the agent its hub connection.
    expect(agent.statuses.all.filter((s) => s.status.state !== 'registered' && s.status.state !== 'connecting')).toEqual([]);

    // Afterwards: nothing in flight on either side, stream clients released, sockets back to the pool.
    const agents = (await client.agents()) as Array<{ inFlight: number }>;
    expect(agents.map((a) => a.inFlight)).toEqual([0]);
    await expect.poll(() => pool.stats).toMatchObject({ streams: 0, sharedInFlight: 0, shared: idle.shared });
    await expect.poll(() => proxy.connections).toBe(pool.stats.openConnections);
    const sockets = execFileSync('ss', ['-Htn', 'state', 'established', 'dst', `127.0.0.1:${proxy.port}`], { encoding: 'utf8' }).split('\n').filter((l) => l.trim()).length;
    expect(sockets).toBe(idle.open);
    figure(
      'concurrent-500',
      `burst: ${describeTally(burst.tally)} in ${fmt(burst.ms)} ms (slowest ${fmt(burst.slowest)} ms); wave: ${describeTally(wave.tally)} in ${fmt(wave.ms)} ms (slowest ${fmt(wave.slowest)} ms); no hang; afterwards inFlight 0, pool streams 0, LDAP sockets ${sockets} = idle pool ${idle.open}; ${fmt(proxy.accepted)} LDAP connections made in all`,
    );
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM mid-export: every record applied has a result, the stream ends with a counted error line, slapd holds exactly the ok records', async () => {
    const { agent, client } = await proxiedAgent();
    const N = 5000;
    const uids = Array.from({ length: N }, (_, i) => `term-${String(i).padStart(5, '0')}`);
    let shutdown: Promise<boolean> | undefined;
    let shutdownAt = 0;
    const first = await exportAll(client, uids.map(addRecord), (n) => {
      if (n !== 500) return;
      shutdownAt = performance.now();
      shutdown = agent.agent.shutdown(200);
    });
    const clean = await shutdown;
    const shutdownMs = performance.now() - shutdownAt;
    expect(clean).toBe(false);
    const ok = first.results.filter((r) => r.ok);
    const inSlapd = await uidsInSlapd('term-');
    // Results come in order, one per record: index i is the i-th line.
    expect(first.results.map((r) => r.index)).toEqual(first.results.map((_, i) => i));
    // 5,000 adds cannot finish in 200 ms: the stream ends with an error line counting the results.
    expect(first.summary).toBeUndefined();
    expect(first.failure).toMatchObject({ code: 'CANCELLED', retryable: true, count: first.results.length });
    // Every entry written has an ok result, and every ok result is an entry: nothing in between.
    const answered = new Set(ok.map((r) => uids[r.index]!));
    const withoutResult = [...inSlapd].filter((u) => !answered.has(u));
    expect(withoutResult).toEqual([]);
    expect(inSlapd.size).toBe(ok.length);
    expect(agent.ldap.get('corp')!.stats).toMatchObject({ streams: 0, openConnections: 0 });
    figure(
      'sigterm-export',
      `shutdown(200 ms) after 500 results of ${fmt(N)}: grace ran out, caller got a ${first.failure?.code ?? '?'} error line with count ${fmt(first.failure?.count ?? -1)} = results received (${fmt(ok.length)} ok); slapd holds ${fmt(inSlapd.size)} of the records, ${withoutResult.length} without a result; shutdown took ${fmt(shutdownMs)} ms`,
    );
  });
});
