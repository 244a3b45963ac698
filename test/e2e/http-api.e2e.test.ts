/**
 * The hub's HTTP API end to end, every component a real process: `datasync-hub` (TLS, a hashed
 * API token) and `datasync-agent`s spawned from `dist/`, a private slapd with 20,000 people, and
 * the SCIM test server in a process of its own. Everything is driven over HTTP only, the way a
 * cloud app and an orchestrator would: NDJSON search and export on the hub, /readyz and
 * /metrics on the agents' status listeners; what happened inside is read from the outside —
 * slapd's page requests (`SRCH` lines), the SCIM server's request lines, the daemons' logs.
 *
 * Each test starts its own hub and agents (and stops them); slapd and the SCIM server are
 * shared. Figures worth quoting are printed as one `[e2e http-api] …` line per scenario.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'ldapts';
import type { Agent as UndiciAgent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HubApiError, type ExportResultLine, type HubClient } from '../../src/hub/client.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import type { Daemon } from '../helpers/cli.js';
import { apiDispatcher, ndjsonCall, type Ending, type NdjsonCall } from '../helpers/e2e/ndjson-call.js';
import { contractFigures } from '../helpers/e2e/openapi-contract.js';
import { contractAt } from '../helpers/e2e/openapi-curl.js';
import { metricsText, pageRequests, settled, statusGet } from '../helpers/e2e/observe.js';
import { printScimOutputOnFailure, startScimProcess, type ScimProcess } from '../helpers/e2e/scim-process.js';
import {
  AGENT_PASSWORD,
  API_TOKEN,
  hubClient,
  ldapSource,
  requestLogs,
  scimSource,
  secretHashes,
  startAgentProcess,
  startHubProcess,
  writeHubConfig,
  type AgentProcess,
  type HubProcess,
  type StackEnv,
} from '../helpers/e2e/stack.js';
import { sampleOr0 } from '../helpers/metrics.js';
import { freePort, printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';

const PEOPLE = 'ou=people,dc=example,dc=com';
const IMPORTS = 'ou=imports,dc=example,dc=com';
const DRAIN = 'ou=drain,dc=example,dc=com';
const BASELINE = 'ou=baseline,dc=example,dc=com';
const ENTRIES = 20_000;
const PAGE_SIZE = 200;
const PAGES = ENTRIES / PAGE_SIZE;
const SCIM_USERS = 300;
const SCIM_PAGE_SIZE = 100;
/** Each test streams tens of MB through four processes on a shared 2-core machine: room to be slow. */
const TEST_TIMEOUT_MS = 120_000;
/**
 * Every person, RFC 2696-paged at PAGE_SIZE: exactly PAGES full pages. With the operational
 * attributes (`+`: entryUUID, timestamps, …) an entry is ~0.8 KB and the stream ~16 MB, well
 * over what the kernel's socket buffers on the way can hold (loopback TCP autotuning reached
 * ~5 MB here), so a paused reader stalls slapd long before the last page.
 */
const ALL_PEOPLE = { base: PEOPLE, scope: 'sub', filter: '(objectClass=inetOrgPerson)', attributes: ['*', '+'], pageSize: PAGE_SIZE };
/** Containers for what the exports write, so searches of ou=people keep their count. */
const EXTRA_OUS = `dn: ${IMPORTS}
objectClass: organizationalUnit
ou: imports

dn: ${DRAIN}
objectClass: organizationalUnit
ou: drain

dn: ${BASELINE}
objectClass: organizationalUnit
ou: baseline
`;

let dir: string;
let pki: TestPki;
let env: StackEnv;
let slapd: Slapd;
let scim: ScimProcess;
let dispatcher: UndiciAgent;

printSlapdLogOnFailure(() => slapd, 100);
printScimOutputOnFailure(() => scim);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-e2e-api-'));
  pki = makeTestPki(join(dir, 'pki'));
  env = { dir, pki };
  dispatcher = apiDispatcher(pki.ca.certPem);
  [slapd, scim] = await Promise.all([startSlapd({ entries: ENTRIES, ldif: [EXTRA_OUS] }), startScimProcess({ users: SCIM_USERS }), secretHashes()]);
  // mdb syncs every write transaction to disk: ~190 adds/s on this kind of VM, which would make
  // the export measure the disk, not the relay. A throw-away test directory needs no
  // durability: `dbnosync` (slapd-mdb(5)) in the database section, which ends slapd.conf.
  appendFileSync(join(slapd.dir, 'slapd.conf'), 'dbnosync\n');
  await slapd.stop();
  await slapd.start();
}, 120_000);

afterAll(async () => {
  // Every answer received (HubClient, raw NDJSON calls, curl) was checked against the hub's
  // OpenAPI document as it arrived; a violation failed its test.
  const figures = contractFigures();
  console.log(`[e2e http-api] OpenAPI contract: ${figures.responses} answers, ${figures.jsonBodies} JSON bodies, ${figures.ndjsonLines} NDJSON lines checked, ${figures.violations} violations`);
  expect(figures.violations).toBe(0);
  await dispatcher?.close();
  await scim?.stop();
  await slapd?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Stopped after each test, last started first. */
const cleanups: Array<() => unknown> = [];
/** Daemons of the running test and the exit code each must end with (SIGTERM → 0). */
const daemons: Array<{ daemon: Daemon; name: string; exit: number | null }> = [];
afterEach(async () => {
  const exits = [];
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const d of daemons.splice(0).reverse()) exits.push({ ...d, code: await d.daemon.stop('SIGTERM') });
  // Whatever a scenario did, every process ends as expected and logs nothing at error level.
  expect(exits.map((e) => `${e.name}: exit ${e.code}`)).toEqual(exits.map((e) => `${e.name}: exit ${e.exit}`));
  const errors = exits.flatMap((e) => e.daemon.logs.filter((r) => (r['level'] as number) >= 50).map((r) => `${e.name}: ${JSON.stringify(r)}`));
  expect(errors).toEqual([]);
  // Secrets travel in files and the environment only; no log line may carry one.
  const secrets = [API_TOKEN, AGENT_PASSWORD, slapd.adminPassword, scim.token];
  for (const e of exits) {
    const output = JSON.stringify(e.daemon.logs) + e.daemon.stderr();
    expect(secrets.filter((secret) => output.includes(secret)), e.name).toEqual([]);
  }
});
/** Stops `daemon` with SIGTERM after the test (if still running) and checks its exit code. */
const stopLater = (daemon: Daemon, name: string, exit: number | null = 0): void => void daemons.push({ daemon, name, exit });

/** Secrets reach the agent through its environment only. */
const agentEnv = (): NodeJS.ProcessEnv => ({ E2E_LDAP_PASSWORD: slapd.adminPassword, E2E_SCIM_TOKEN: scim.token });
const corpSource = (): string => ldapSource('corp', slapd, PAGE_SIZE);

/** A hub and one agent offering `corp` (slapd) and `hr` (SCIM). */
async function startStack(agentId = 'site-a-1', agentExtra = ''): Promise<{ hub: HubProcess; agent: AgentProcess; client: HubClient }> {
  const hub = await startHubProcess(await writeHubConfig(env));
  stopLater(hub.daemon, 'hub');
  const agent = await startAgentProcess(env, {
    id: agentId,
    hubs: [hub],
    dataSources: corpSource() + scimSource('hr', scim.url, SCIM_PAGE_SIZE),
    env: agentEnv(),
    extra: agentExtra,
  });
  stopLater(agent.daemon, agentId);
  const client = hubClient(hub, pki);
  cleanups.push(() => client.close());
  return { hub, agent, client };
}

const url = (hub: HubProcess, dataSource: string, op: 'search' | 'export'): string => `${hub.apiUrl}/v1/data-sources/${dataSource}/${op}`;

/** Starts a raw NDJSON search; the stream has begun (200) when this resolves. */
async function search(hub: HubProcess, requestId: string, params: Record<string, unknown> = ALL_PEOPLE): Promise<NdjsonCall> {
  const call = await ndjsonCall(url(hub, 'corp', 'search'), { dispatcher, requestId, body: JSON.stringify(params) });
  // A test that fails mid-stream must not leave a paused stream holding up the agent's drain.
  cleanups.push(() => call.abort());
  expect(call.status, requestId).toBe(200);
  expect(call.headers['content-type']).toMatch(/^application\/x-ndjson/);
  return call;
}

/** Adds `n` entries under ou=baseline straight to slapd with ldapts, sequentially; records/s. */
async function directAdds(n: number): Promise<number> {
  const client = new Client({ url: slapd.url });
  try {
    await client.bind(slapd.adminDN, slapd.adminPassword);
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const uid = `base${String(i).padStart(5, '0')}`;
      await client.add(`uid=${uid},${BASELINE}`, { objectClass: ['inetOrgPerson'], uid, cn: `Baseline Nº ${i}`, sn: 'Baseline', mail: `${uid}@example.com` });
    }
    return n / ((performance.now() - started) / 1000);
  } finally {
    await client.unbind();
  }
}

const summaryOf = (count: number): Ending => ({ kind: 'summary', line: { end: true, count, truncated: false } });
const report = (line: string): void => console.log(`[e2e http-api] ${line}`);

/** Resolves with the exit code once `daemon` exits (without signalling it). */
const exitOf = (daemon: Daemon): Promise<number | null> =>
  daemon.child.exitCode !== null || daemon.child.signalCode !== null
    ? Promise.resolve(daemon.child.exitCode)
    : new Promise((resolve) => daemon.child.once('exit', (code) => resolve(code)));

describe('NDJSON search from slapd', () => {
  it('1. a slow reader: slapd gets no page requests while it pauses; resumed, it gets every entry and the summary', async () => {
    const { hub } = await startStack();
    const from = slapd.logSize();
    const call = await search(hub, 'e2e-slow-reader');
    const dns = new Set<string>();
    for (const e of await call.read(1000)) dns.add(e['dn'] as string);
    const atPause = pageRequests(slapd, from, PEOPLE);

    // The reader stops. Pages keep coming until every buffer on the way is full (agent credit,
    // hub response, TLS and TCP); then the agent has no credit and asks slapd for nothing.
    const filled = await settled(() => pageRequests(slapd, from, PEOPLE), { quietMs: 2000, timeoutMs: 30_000 });
    await sleep(3000);
    const duringPause = pageRequests(slapd, from, PEOPLE) - filled;
    expect(duringPause).toBe(0);
    expect(filled).toBeLessThan(PAGES);

    const ending = await call.finish((e) => dns.add(e['dn'] as string));
    expect(ending).toEqual(summaryOf(ENTRIES));
    expect(call.items).toBe(ENTRIES);
    expect(dns.size).toBe(ENTRIES);
    const total = pageRequests(slapd, from, PEOPLE);
    expect(total).toBe(PAGES);
    report(
      `slow reader: ${ENTRIES} entries, pageSize ${PAGE_SIZE}; slapd page requests: ${atPause} when the reader paused after 1000 lines, ` +
        `${filled} once the buffers were full, ${duringPause} during the next 3 s of pause, ${total} in total (expected ${PAGES}); summary count ${call.items}`,
    );
  }, TEST_TIMEOUT_MS);
});

describe('NDJSON export into slapd', () => {
  it('2. 10,000 add records in, 10,000 ok results out in order, a summary; a search through the API counts them', async () => {
    const { client } = await startStack();
    const n = 10_000;
    const uid = (i: number): string => `imp${String(i).padStart(5, '0')}`;
    const records = (function* () {
      for (let i = 0; i < n; i++) {
        yield { op: 'add', dn: `uid=${uid(i)},${IMPORTS}`, attributes: { objectClass: ['inetOrgPerson'], uid: uid(i), cn: `Import Nº ${i}`, sn: 'Import', mail: `${uid(i)}@example.com` } };
      }
    })();
    const started = performance.now();
    const stream = client.export('corp', records, { requestId: 'e2e-export-10k' });
    const indexes: number[] = [];
    let failed = 0;
    for await (const r of stream) {
      indexes.push(r.index);
      if (!r.ok) failed += 1;
    }
    const seconds = (performance.now() - started) / 1000;
    expect(failed).toBe(0);
    expect(indexes).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(stream.summary).toEqual({ end: true, count: n, ok: n, failed: 0 });

    const check = client.search<{ dn: string }>('corp', { base: IMPORTS, scope: 'one', filter: '(objectClass=inetOrgPerson)', attributes: ['uid'] });
    let found = 0;
    for await (const _ of check) found += 1;
    expect(found).toBe(n);
    expect(check.summary).toEqual({ end: true, count: n, truncated: false });

    // Baseline in the same run: the same adds straight from this process to slapd, one at a time.
    const direct = await directAdds(1000);
    report(
      `export: ${n} LDAP add records in ${seconds.toFixed(1)} s = ${Math.round(n / seconds)} records/s (HubClient.export → hub → agent → slapd, TLS); ` +
        `baseline, sequential ldapts adds from the test process: ${Math.round(direct)} records/s; search of ${IMPORTS} counts ${found}`,
    );
  }, TEST_TIMEOUT_MS);
});

describe('curl, as an operator would', () => {
  it('8. curl runs a search and an export against slapd through the hub and the agent', async () => {
    const { hub } = await startStack();
    const curl = (args: string[], input?: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = execFile('curl', ['-sS', '-N', '--cacert', pki.ca.file, '-H', `Authorization: Bearer ${API_TOKEN}`, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) =>
          err ? reject(new Error(`curl failed: ${err.message}`)) : resolve(stdout),
        );
        child.stdin?.end(input ?? '');
      });
    const lines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // curl's output is checked against the hub's OpenAPI document as a 200 NDJSON answer.
    const contract = await contractAt(hub.apiUrl, pki.ca.certPem);
    const checked = (path: string, text: string): string => {
      contract.text('POST', path, 200, text);
      return text;
    };

    const found = lines(checked('/v1/data-sources/corp/search', await curl(['-H', 'Content-Type: application/json', '-d', JSON.stringify({ base: PEOPLE, filter: '(uid=*)', attributes: ['uid'] }), url(hub, 'corp', 'search')])));
    expect(found.at(-1)).toEqual({ end: true, count: ENTRIES, truncated: false });
    expect(found).toHaveLength(ENTRIES + 1);

    const records = ['curl1', 'curl2'].map((u) => JSON.stringify({ op: 'add', dn: `uid=${u},${BASELINE}`, attributes: { objectClass: ['inetOrgPerson'], uid: u, cn: u, sn: 'Curl' } }));
    records.push(JSON.stringify({ op: 'add', dn: `uid=curl1,${BASELINE}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'curl1', cn: 'again', sn: 'Curl' } }));
    const results = lines(checked('/v1/data-sources/corp/export', await curl(['-H', 'Content-Type: application/x-ndjson', '--data-binary', '@-', url(hub, 'corp', 'export')], `${records.join('\n')}\n`)));
    expect(results.slice(0, 2)).toEqual([{ index: 0, ok: true }, { index: 1, ok: true }]);
    expect(results[2]).toMatchObject({ index: 2, ok: false, code: 'ALREADY_EXISTS' });
    expect(results[3]).toEqual({ end: true, count: 3, ok: 2, failed: 1 });
  }, TEST_TIMEOUT_MS);
});

describe('a client that goes away', () => {
  it('3. a client that disconnects mid-stream: the agent cancels the request, slapd gets no more page requests, the next search is served', async () => {
    const { hub, agent } = await startStack();
    const cancelled = { op: 'search', data_source: 'corp', code: 'CANCELLED' };
    const cancelledBefore = sampleOr0(await metricsText(agent.statusPort), 'datasync_agent_requests_total', cancelled);
    const from = slapd.logSize();
    const call = await search(hub, 'e2e-disconnect');
    expect(await call.read(1000)).toHaveLength(1000);
    call.abort();

    // The agent ends the request (its log and its metrics say so) and pulls no more pages.
    await agent.daemon.waitForLog((r) => r['msg'] === 'request finished' && r['requestId'] === 'e2e-disconnect', 30_000);
    await expect
      .poll(async () => sampleOr0(await metricsText(agent.statusPort), 'datasync_agent_requests_total', cancelled), { timeout: 15_000 })
      .toBe(cancelledBefore + 1);
    const stopped = await settled(() => pageRequests(slapd, from, PEOPLE), { quietMs: 1500, timeoutMs: 30_000 });
    await sleep(1500);
    expect(pageRequests(slapd, from, PEOPLE)).toBe(stopped);
    expect(stopped).toBeLessThan(PAGES);
    const hubLine = await hub.daemon.waitForLog((r) => r['msg'] === 'API request' && r['requestId'] === 'e2e-disconnect');
    expect(hubLine['completed']).toBe(false);

    const fromNext = slapd.logSize();
    const next = await search(hub, 'e2e-after-disconnect', { ...ALL_PEOPLE, attributes: ['uid'] });
    expect(await next.finish()).toEqual(summaryOf(ENTRIES));
    expect(pageRequests(slapd, fromNext, PEOPLE)).toBe(PAGES);
    report(
      `client disconnect: read 1000 lines, then closed; slapd page requests of the cancelled search: ${stopped} (of ${PAGES}), +0 in the 1.5 s after they stopped; ` +
        `agent requests_total{code=CANCELLED} +1; next search: ${next.items} entries + summary`,
    );
  }, TEST_TIMEOUT_MS);
});

describe('agent shutdown', () => {
  it('4. SIGTERM during a search and an export: the agent drains both (complete streams with summaries), refuses new work, exits 0', async () => {
    const { hub, agent, client } = await startStack('site-drain', 'shutdownGracePeriod: 30000');
    const exited = exitOf(agent.daemon);

    // A search held by a paused reader, and an export whose body waits for a gate.
    const searchCall = await search(hub, 'e2e-drain-search');
    expect(await searchCall.read(1000)).toHaveLength(1000);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const uid = (i: number): string => `drain${String(i).padStart(4, '0')}`;
    const records = (async function* () {
      for (let i = 0; i < 2000; i++) {
        if (i === 1000) await gate;
        yield { op: 'add', dn: `uid=${uid(i)},${DRAIN}`, attributes: { objectClass: ['inetOrgPerson'], uid: uid(i), cn: uid(i), sn: 'Drain' } };
      }
    })();
    const exportStream = client.export('corp', records, { requestId: 'e2e-drain-export' });
    const exported: boolean[] = [];
    const exportDone = (async () => {
      for await (const r of exportStream) exported.push(r.ok);
    })();
    await expect.poll(() => exported.length, { timeout: 30_000 }).toBe(1000);

    agent.daemon.child.kill('SIGTERM');
    const draining = await agent.daemon.waitForLog((r) => r['msg'] === 'draining: no new requests, waiting for those in flight');
    expect(draining['inFlight']).toBe(2);
    const ready = await statusGet(agent.statusPort, '/readyz');
    expect(ready).toMatchObject({ status: 503, body: { status: 'not ready', detail: { draining: true } } });
    // New work is refused while draining (the hub has no other agent for it).
    const refused = await client.test('corp').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(HubApiError);
    expect([(refused as HubApiError).status, (refused as HubApiError).code, (refused as HubApiError).retryable]).toEqual([503, 'BUSY', true]);

    // Both finish in full during the grace period.
    open();
    expect(await searchCall.finish()).toEqual(summaryOf(ENTRIES));
    await exportDone;
    expect(exported).toHaveLength(2000);
    expect(exported.every((ok) => ok)).toBe(true);
    expect(exportStream.summary).toEqual({ end: true, count: 2000, ok: 2000, failed: 0 });

    expect(await exited).toBe(0);
    expect(agent.daemon.logs.some((r) => r['msg'] === 'grace period over: abandoning requests still in flight')).toBe(false);
    for (const id of ['e2e-drain-search', 'e2e-drain-export']) {
      const line = await hub.daemon.waitForLog((r) => r['msg'] === 'API request' && r['requestId'] === id);
      expect(line['completed'], id).toBe(true);
    }
    const drainedAt = draining['time'] as number;
    const exitedAt = agent.daemon.logs.at(-1)?.['time'] as number;
    report(
      `SIGTERM drain: 2 requests in flight at SIGTERM; search ${searchCall.items}/${ENTRIES} entries + summary, export 2000/2000 ok + summary; ` +
        `test during the drain → 503 BUSY; agent exit code 0, ${((exitedAt - drainedAt) / 1000).toFixed(1)} s from SIGTERM to its last log line (grace 30 s)`,
    );
  }, TEST_TIMEOUT_MS);
});

describe('agent readiness follows the hub', () => {
  it('5. /readyz: 200 while registered, 503 with the URL\'s state after the hub stops, 200 again when it is back on the same port', async () => {
    const port = await freePort();
    const file = await writeHubConfig(env, { port, status: true });
    const hub = await startHubProcess(file);
    stopLater(hub.daemon, 'hub');
    const agent = await startAgentProcess(env, { id: 'site-ready', hubs: [hub], dataSources: corpSource(), env: agentEnv() });
    stopLater(agent.daemon, 'site-ready');
    const readyz = () => statusGet(agent.statusPort, '/readyz');

    const healthy = { corp: { status: 'healthy', internalErrors: 0, unhandledRejections: 0, workerCrashes: 0 } };
    const connection = (state: string) => ({ draining: false, connections: [expect.objectContaining({ url: hub.agentUrl, state })], dataSources: healthy });
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready', detail: connection('registered') } });
    const hubStatus = await hub.daemon.waitForLog((r) => typeof r['msg'] === 'string' && r['msg'].startsWith('status listener up'));
    expect(await statusGet(hubStatus['port'] as number, '/readyz')).toEqual({ status: 200, body: { status: 'ready', detail: { agents: { acme: 1 } } } });

    expect(await hub.daemon.stop('SIGTERM')).toBe(0);
    await expect.poll(async () => (await readyz()).status, { timeout: 15_000 }).toBe(503);
    const notReady = await readyz();
    expect(notReady.body).toMatchObject({ status: 'not ready', detail: { draining: false, connections: [{ url: hub.agentUrl }] } });
    const state = (notReady.body as { detail: { connections: Array<{ state: string }> } }).detail.connections[0]!.state;
    expect(['disconnected', 'connecting']).toContain(state);

    const again = await startHubProcess(file);
    stopLater(again.daemon, 'hub (restarted)');
    expect(again.port).toBe(port);
    await expect.poll(async () => (await readyz()).status, { timeout: 30_000 }).toBe(200);
    expect((await readyz()).body).toEqual({ status: 'ready', detail: connection('registered') });
    const registrations = agent.daemon.logs.filter((r) => r['msg'] === 'registered with hub').length;
    expect(registrations).toBe(2);
    report(`readyz: 200 registered → hub SIGTERM (exit 0) → 503 "${state}" for ${hub.agentUrl} → hub restarted on port ${port} → 200 registered (${registrations} registrations)`);
  }, TEST_TIMEOUT_MS);
});

describe('two agents of one tenant', () => {
  it('6. kill -9 of one agent: its streams end with an AGENT_DISCONNECTED error line, never short; new requests go to the other agent', async () => {
    const hub = await startHubProcess(await writeHubConfig(env));
    stopLater(hub.daemon, 'hub');
    const [a1, a2] = await Promise.all(
      ['site-k1', 'site-k2'].map((id) => startAgentProcess(env, { id, hubs: [hub], dataSources: corpSource(), env: agentEnv() })),
    );
    stopLater(a1!.daemon, 'site-k1 (kill -9)', null);
    stopLater(a2!.daemon, 'site-k2');
    const client = hubClient(hub, pki);
    cleanups.push(() => client.close());
    await expect.poll(async () => (await client.dataSources()).find((d) => d.name === 'corp')?.agents, { timeout: 15_000 }).toEqual(['site-k1', 'site-k2']);

    // Four full searches, each paused after 500 lines: the hub spreads them over both agents.
    const ids = [0, 1, 2, 3].map((i) => `e2e-kill-${i}`);
    const calls = await Promise.all(ids.map((id) => search(hub, id)));
    for (const c of calls) expect(await c.read(500)).toHaveLength(500);
    const servedBy = (id: string): string[] => [a1!, a2!].filter((a) => requestLogs(a.daemon, id).some((r) => r['msg'] === 'request started')).map((a) => a.id);
    await expect.poll(() => ids.map((id) => servedBy(id).length), { timeout: 15_000 }).toEqual([1, 1, 1, 1]);
    const onKilled = ids.filter((id) => servedBy(id)[0] === 'site-k1');
    expect(onKilled.length).toBeGreaterThanOrEqual(1);
    expect(onKilled.length).toBeLessThan(ids.length);

    a1!.daemon.child.kill('SIGKILL');
    expect(await exitOf(a1!.daemon)).toBeNull();

    const endings = await Promise.all(calls.map((c) => c.finish()));
    const outcome: string[] = [];
    endings.forEach((ending, i) => {
      const id = ids[i]!;
      const call = calls[i]!;
      if (onKilled.includes(id)) {
        expect(ending.kind, id).toBe('error-line');
        const line = (ending as Extract<Ending, { kind: 'error-line' }>).line;
        expect(line.error).toMatchObject({ code: 'AGENT_DISCONNECTED', retryable: true });
        expect(line.requestId).toBe(id);
        expect(line.count).toBe(call.items);
        expect(call.items).toBeLessThan(ENTRIES);
        outcome.push(`${id}@site-k1: error line AGENT_DISCONNECTED after ${call.items}`);
      } else {
        expect(ending, id).toEqual(summaryOf(ENTRIES));
        outcome.push(`${id}@site-k2: summary ${call.items}`);
      }
    });

    // New requests: the hub has dropped site-k1 and sends everything to site-k2.
    await expect.poll(async () => (await client.agents()).map((a) => (a as { id: string }).id), { timeout: 15_000 }).toEqual(['site-k2']);
    const after = ['e2e-after-kill-0', 'e2e-after-kill-1', 'e2e-after-kill-2'];
    const small = { base: PEOPLE, filter: '(uid=user1*)', pageSize: PAGE_SIZE, attributes: ['uid'] };
    const afterEndings = await Promise.all(after.map(async (id) => (await search(hub, id, small)).finish()));
    expect(afterEndings).toEqual(after.map(() => summaryOf(10_000)));
    for (const id of after) expect(servedBy(id)).toEqual(['site-k2']);
    report(`kill -9: 4 searches in flight (${onKilled.length} on the killed agent): ${outcome.join('; ')}; afterwards 3/3 searches of 10000 complete on site-k2`);
  }, TEST_TIMEOUT_MS);
});

describe('SCIM through the API', () => {
  it('7. search users (count = the seeded users, one GET per page) and export creates', async () => {
    const { client } = await startStack();
    const from = scim.requests.length;
    const users = client.search<{ userName: string }>('hr', { resourceType: 'User' }, { requestId: 'e2e-scim-search' });
    const names = new Set<string>();
    for await (const u of users) names.add(u.userName);
    expect(names.size).toBe(SCIM_USERS);
    expect(users.summary).toMatchObject({ end: true, count: SCIM_USERS, truncated: false });
    const pageGets = scim.requests.slice(from).filter((r) => r.method === 'GET' && r.path === '/scim/v2/Users' && r.query['startIndex'] !== undefined);
    expect(pageGets.map((r) => [r.query['startIndex'], r.status])).toEqual([
      ['1', 200],
      ['101', 200],
      ['201', 200],
    ]);

    const fromExport = scim.requests.length;
    const created = ['e2e-ana', 'e2e-bo', 'e2e-chen', 'e2e-dara', 'e2e-eli'];
    const records = created.map((userName) => ({
      op: 'create',
      resourceType: 'User',
      resource: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, name: { givenName: userName.slice(4), familyName: 'E2E' }, active: true },
    }));
    const exportStream = client.export('hr', records, { requestId: 'e2e-scim-export' });
    const results: ExportResultLine[] = [];
    for await (const r of exportStream) results.push(r);
    expect(results.map((r) => [r.index, r.ok])).toEqual(created.map((_, i) => [i, true]));
    for (const r of results) expect(r.ok && (r.data as { id?: unknown }).id).toEqual(expect.any(String));
    expect(exportStream.summary).toEqual({ end: true, count: created.length, ok: created.length, failed: 0 });
    await expect
      .poll(() => scim.requests.slice(fromExport).filter((r) => r.method === 'POST' && r.path === '/scim/v2/Users').map((r) => r.status))
      .toEqual(created.map(() => 201));

    const check = client.search<{ userName: string }>('hr', { resourceType: 'User', filter: 'userName sw "e2e-"' });
    const found: string[] = [];
    for await (const u of check) found.push(u.userName);
    expect(found.sort()).toEqual(created);
    report(`SCIM: search of ${SCIM_USERS} seeded users → ${names.size} NDJSON lines + summary in ${pageGets.length} page GETs (pageSize ${SCIM_PAGE_SIZE}); export of ${created.length} creates → ${created.length} ok (POST 201 each), found again by filter`);
  }, TEST_TIMEOUT_MS);
});
