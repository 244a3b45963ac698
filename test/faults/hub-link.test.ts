/**
 * Faults on the agent ↔ hub side, against a real slapd holding 100,000 people: the hub
 * restarted while idle and in the middle of a 100,000-entry stream, the link black-holed, and
 * the link throttled to 200 KB/s under a 20,000-entry stream. Each scenario asserts what the
 * hub's caller and the agent see, and prints one FIGURE line with what it measured. Time bounds
 * are asserted by their mechanism, never by a stopwatch (the machine may be loaded): the
 * reconnect delays the agent chose (`retryInMs`) and the first dial after the hub's return
 * registering; the keep-alive that cut a black-holed link (`KEEPALIVE_TIMEOUT`, the hub's
 * unanswered-ping log). The FIGURE lines give the times.
 */
import { readFileSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HubApiError, HubClient } from '../../src/hub/client.js';
import type { StreamEvent } from '../../src/hub/request-sinks.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { PEOPLE_DN, uidOf } from '../fixtures/ldap/generate.js';
import { API_TOKENS, isState, makeEnv, startHub, type Env, type RunningHub } from '../helpers/relay-env.js';
import { printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';
import { startFaultProxy } from './fault-proxy.js';
import { REGISTRATION_TIMEOUT_MS, closedConnections, figure, fmt, ldapSourceYaml, mb, sampleMemory, startFaultAgent, type AgentSettings, type FaultAgent } from './env.js';

const ENTRIES = 100_000;
const HUB_KEEPALIVE = { keepAliveInterval: 1000, keepAliveTimeout: 1000 };
/** The hub's log line when its keep-alive cuts a silent agent (src/hub/agent-link.ts). */
const HUB_PING_TIMEOUT = 'agent did not answer ping: terminating';
const PEOPLE = { base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'cn'] };

let env: Env;
let slapd: Slapd;
let ca: Buffer;
const cleanups: Array<() => unknown> = [];

printSlapdLogOnFailure(() => slapd);

beforeAll(async () => {
  env = makeEnv();
  ca = readFileSync(env.pki.ca.file);
  slapd = await startSlapd({ entries: ENTRIES });
}, 120_000);

afterAll(async () => {
  await slapd?.dispose();
  env?.cleanup();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function hubAt(port = 0, keepAlive: typeof HUB_KEEPALIVE = HUB_KEEPALIVE): Promise<RunningHub> {
  const hub = await startHub(env, { port, ...keepAlive });
  cleanups.push(() => hub.close());
  return hub;
}

function agentFor(urls: string[], settings: AgentSettings = {}): FaultAgent {
  const a = startFaultAgent(env, { urls, dataSources: ldapSourceYaml('corp', slapd), settings });
  cleanups.push(() => a.close());
  return a;
}

function clientOf(hub: RunningHub): HubClient {
  const client = new HubClient({ url: `https://127.0.0.1:${hub.port}`, token: API_TOKENS.tenant1, ca });
  cleanups.push(() => client.close());
  return client;
}

/**
 * The bound on re-registering after the hub's return, by its mechanism: every reconnect delay the
 * agent chose since `since` was at most its maxReconnectDelay (fixed delays here), and no dial
 * started after the hub was back failed — at most one that was already under way when it came back.
 */
function expectPromptRedial(a: FaultAgent, since: number, backAt: number, regAt: number): number[] {
  const disconnects = a.statuses.all.filter((e) => e.at >= since && e.at < regAt && e.status.state === 'disconnected');
  const delays = disconnects.map((e) => (e.status.state === 'disconnected' ? e.status.retryInMs : Number.NaN));
  for (const d of delays) expect(d).toBeLessThanOrEqual(a.settings.maxReconnectDelay);
  expect(disconnects.filter((e) => e.at > backAt).length).toBeLessThanOrEqual(1);
  return delays;
}

/** Drains a search over the HTTP API; resolves with the number of entries and the summary line. */
async function drain(client: HubClient, params: Record<string, unknown>): Promise<{ count: number; summary: unknown }> {
  const search = client.search('corp', params);
  let count = 0;
  for await (const _ of search) count += 1;
  return { count, summary: search.summary };
}

describe('hub restart', () => {
  it('while idle: the agent re-registers within reconnectDelay + 1 s of the hub coming back', async () => {
    const first = await hubAt();
    const a = agentFor([first.url]);
    await a.statuses.next(isState('registered'));

    const closedAt = performance.now();
    await first.close();
    const down = await a.statuses.next(isState('disconnected'));
    expect(down.status).toMatchObject({ code: 'CLOSED' });
    // Down for a while: the agent keeps dialling a closed port.
    await a.statuses.next((s) => s.state === 'disconnected' && s.code === 'CONNECT_FAILED');

    const second = await hubAt(first.port);
    const backAt = performance.now();
    const reg = await a.statuses.next(isState('registered'));
    const reregistered = reg.at - backAt;
    expectPromptRedial(a, down.at, backAt, reg.at);

    const client = clientOf(second);
    expect(((await client.agents()) as Array<{ id: string }>).map((x) => x.id)).toEqual(['site-a-1']);
    expect(await client.test('corp')).toMatchObject({ ok: true });
    figure(
      'hub-restart-idle',
      `agent saw CLOSED ${fmt(down.at - closedAt)} ms after the hub closed; re-registered ${fmt(reregistered)} ms after the hub's return (reconnect delay ${a.settings.reconnectDelay} ms); test ok`,
    );
  });

  it('mid-stream: callers get AGENT_DISCONNECTED, the LDAP client is released, the agent comes back, the rerun counts 100,000', async () => {
    const first = await hubAt();
    const a = agentFor([first.url]);
    await a.statuses.next(isState('registered'));
    const pool = a.ldap.get('corp')!;
    const logFrom = slapd.logSize();

    // Caller 1: the hub's Observable API (in the hub's process, it outlives the restart's sockets).
    let observed = 0;
    let observedError: unknown;
    let ended = false;
    const sub: Subscription = first.hub.searchEvents$({ tenantId: '1', dataSource: 'corp', params: PEOPLE }).subscribe({
      next: (e: StreamEvent) => {
        if (e.type === 'items') observed += e.items.length;
        else ended = true;
      },
      error: (err: unknown) => (observedError = err),
    });
    cleanups.push(() => sub.unsubscribe());
    // Caller 2: the HTTP API.
    const client = clientOf(first);
    let httpCount = 0;
    const http = (async () => {
      for await (const _ of client.search('corp', PEOPLE)) httpCount += 1;
    })().then(
      () => 'completed',
      (err: unknown) => err,
    );

    await expect.poll(() => observed, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(30_000);
    expect(pool.stats.streams).toBe(2);
    const closedAt = performance.now();
    const closing = first.close();

    await expect.poll(() => observedError, { timeout: 30_000, interval: 10 }).toBeInstanceOf(ProtocolError);
    expect(observedError).toMatchObject({ code: 'AGENT_DISCONNECTED', retryable: true });
    expect(ended).toBe(false);
    expect(observed).toBeLessThan(ENTRIES);
    // The HTTP caller too: an error line (the hub ends its response before closing connections).
    const httpOutcome = await http;
    expect(httpOutcome).toBeInstanceOf(HubApiError);
    expect(httpOutcome).toMatchObject({ code: 'AGENT_DISCONNECTED', status: 200, retryable: true, count: httpCount });
    await closing;

    // The agent abandons both searches: their dedicated LDAP connections are unbound and closed.
    await expect.poll(() => pool.stats.streams, { timeout: 30_000, interval: 10 }).toBe(0);
    // A search worker reports the stream closed before its connection's unbind has finished.
    await expect.poll(() => pool.stats.openConnections, { timeout: 30_000, interval: 10 }).toBe(0);
    const releasedMs = performance.now() - closedAt;
    await expect.poll(() => closedConnections(slapd, logFrom), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);

    // The hub stays down until the agent has found its port closed at least once.
    const refused = await a.statuses.next((s) => s.state === 'disconnected' && s.code === 'CONNECT_FAILED');
    const second = await hubAt(first.port);
    const backAt = performance.now();
    const reg = await a.statuses.next(isState('registered'));
    const reregistered = reg.at - backAt;
    expectPromptRedial(a, refused.at, backAt, reg.at);

    const rerun = await drain(clientOf(second), PEOPLE);
    expect(rerun.count).toBe(ENTRIES);
    expect(rerun.summary).toEqual({ end: true, count: ENTRIES, truncated: false });
    await expect.poll(() => pool.stats.streams).toBe(0);

    figure(
      'hub-restart-stream',
      `callers got AGENT_DISCONNECTED after ${fmt(observed)} (Observable API) and ${fmt(httpCount)} (HTTP error line) of ${fmt(ENTRIES)} entries; both LDAP stream clients released ${fmt(releasedMs)} ms after the hub closed; re-registered ${fmt(reregistered)} ms after the hub's return (reconnect delay ${a.settings.reconnectDelay} ms); rerun ${fmt(rerun.count)}/${fmt(ENTRIES)}`,
    );
  });
});

describe('link faults', () => {
  it('black hole: both ends detect it within keepAliveInterval + keepAliveTimeout, the caller gets AGENT_DISCONNECTED, the agent reconnects once the link is back', async () => {
    const hub = await hubAt();
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: hub.port });
    cleanups.push(() => proxy.close());
    const a = agentFor([`wss://${proxy.address}/agent`]);
    await a.statuses.next(isState('registered'));
    const client = clientOf(hub);

    proxy.blackhole();
    const holedAt = performance.now();
    // A request sent into the black hole: the hub must not leave its caller hanging.
    const pending = client.test('corp').then(
      () => undefined,
      (err: unknown) => ({ err, at: performance.now() }),
    );
    const dead = await a.statuses.next(isState('disconnected'));
    const agentDetect = dead.at - holedAt;
    expect(dead.status).toMatchObject({ code: 'KEEPALIVE_TIMEOUT' });
    const agentBound = a.settings.keepAliveInterval + a.settings.keepAliveTimeout;

    const failed = await pending;
    expect(failed?.err).toBeInstanceOf(HubApiError);
    expect(failed?.err).toMatchObject({ code: 'AGENT_DISCONNECTED', status: 503 });
    const hubDetect = failed!.at - holedAt;
    const hubBound = HUB_KEEPALIVE.keepAliveInterval + HUB_KEEPALIVE.keepAliveTimeout;
    // The hub's side of the mechanism: its own ping went unanswered and it cut the link.
    await vi.waitFor(() => expect(hub.logs.records().some((r) => r['msg'] === HUB_PING_TIMEOUT)).toBe(true), { timeout: 30_000, interval: 10 });
    expect(hub.hub.registry.agents('1')).toHaveLength(0);

    // Redials while black-holed go nowhere (the handshake times out); once the link is back one succeeds.
    await a.statuses.next((s) => s.state === 'disconnected' && s.code === 'CONNECT_FAILED', 10_000);
    proxy.pass();
    const backAt = performance.now();
    const reg = await a.statuses.next(isState('registered'), 15_000);
    const reconnected = reg.at - backAt;
    // A dial that started into the black hole first runs out its registration timeout (printed, not bounded).
    expect(await client.test('corp')).toMatchObject({ ok: true });
    figure(
      'blackhole',
      `agent detected in ${fmt(agentDetect)} ms (bound ${agentBound}), hub in ${fmt(hubDetect)} ms (bound ${hubBound}; caller got 503 AGENT_DISCONNECTED then); re-registered ${fmt(reconnected)} ms after the link came back (registration timeout ${REGISTRATION_TIMEOUT_MS} ms + reconnect delay ${a.settings.reconnectDelay} ms)`,
    );
  });

  it('throttled to 200 KB/s: a 20,000-entry stream completes with the exact count, read-ahead and memory stay bounded', async () => {
    // Both ends' keep-alives are sized for the slow link (see below): a 1 s hub deadline would cut
    // an agent whose next message waits behind seconds of queued data, or whose process a loaded
    // machine did not schedule for a second (close 1006 at the agent).
    const hub = await hubAt(0, { keepAliveInterval: 2000, keepAliveTimeout: 20_000 });
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: hub.port });
    cleanups.push(() => proxy.close());
    // At 200 KB/s a ping waits behind what the writer has queued (its 1 MiB mark plus the
    // kernel's buffers: several seconds), so the keep-alive is sized for that link, as an
    // operator would for a slow uplink; the 500 ms default of these tests would declare it dead.
    const a = agentFor([`wss://${proxy.address}/agent`], { keepAliveInterval: 2000, keepAliveTimeout: 20_000 });
    await a.statuses.next(isState('registered'));
    const client = clientOf(hub);

    // user00001…user09999 and user10000…user19999 plus user100000: exactly 20,000 of the 100,000.
    const filter = '(|(uid=user0*)(uid=user1*))';
    const expected = Array.from({ length: ENTRIES }, (_, i) => uidOf(i + 1)).filter((u) => /^user[01]/.test(u)).length;
    expect(expected).toBe(20_000);
    // Warm up the whole path first (TLS sessions, JIT, buffers), so the memory baseline is a warm process.
    expect((await drain(client, { base: PEOPLE_DN, filter: '(uid=user00*)', attributes: ['uid', 'cn'] })).count).toBe(999);
    const RATE = 200 * 1024;
    proxy.throttle(RATE);
    const pageSize = 500;

    const wireBefore = proxy.bytes.up;
    const memory = sampleMemory();
    let count = 0;
    let bytes = 0;
    let maxAhead = 0;
    const t0 = performance.now();
    const search = client.search('corp', { base: PEOPLE_DN, filter, attributes: ['uid', 'cn'] });
    const pulledBefore = a.pulled('corp');
    // Read-ahead, at each entry the caller takes (an event, not a timer's sample).
    for await (const entry of search) {
      maxAhead = Math.max(maxAhead, a.pulled('corp') - pulledBefore - count);
      count += 1;
      bytes += JSON.stringify(entry).length + 1;
    }
    const took = performance.now() - t0;
    const mem = memory.stop();
    expect(count).toBe(expected);
    expect(a.pulled('corp') - pulledBefore).toBe(expected);
    expect(search.summary).toEqual({ end: true, count: expected, truncated: false });
    // The link stayed up all along (no keep-alive false alarm behind the queued data).
    expect(a.statuses.all.filter((s) => s.status.state === 'disconnected')).toEqual([]);
    const wire = proxy.bytes.up - wireBefore;
    const rate = wire / (took / 1000);
    expect(rate).toBeLessThanOrEqual(RATE * 1.1);
    // Memory is bounded by credit, not by the stream: the agent never read more than its window
    // of chunks plus a page ahead of the caller (slapd could have served all 20,000 in ~1 s), so
    // at most that many entries' bytes were ever buffered between slapd and the caller.
    expect(maxAhead).toBeLessThanOrEqual(8 * pageSize);
    const aheadBytes = maxAhead * (bytes / count);
    expect(aheadBytes).toBeLessThan(bytes / 4);
    // Process memory (hub, agent and caller share this process; GC makes it noisy): generous bound.
    expect(mem.rssGrowth).toBeLessThan(100 * 1024 * 1024);
    figure(
      'throttle-200KBps',
      `${fmt(count)}/${fmt(expected)} entries (${mb(bytes)} NDJSON, ${mb(wire)} on the wire) in ${(took / 1000).toFixed(1)} s at ${fmt(rate / 1024)} KB/s, no disconnect; upstream read-ahead max ${fmt(maxAhead)} entries (${mb(aheadBytes)} of the ${mb(bytes)} stream); in-process heap growth ${mb(mem.heapGrowth)}, RSS growth ${mb(mem.rssGrowth)} (bound 100 MB, ${mem.samples} samples)`,
    );
  });
});
