/**
 * Progress lines of a long search and a long export, seen from the outside: `datasync-hub` and
 * `datasync-agent` spawned from `dist/` (both with `logging.progressInterval: 200`), an `ldif`
 * data source over a generated directory of ENTRIES people (tens of MB of NDJSON), and raw
 * NDJSON calls over TLS. What happened inside is read from the daemons' JSON log lines and the
 * hub's /metrics.
 *
 * A request is kept running by the client, never by a sleep: the search's reader stops pulling
 * (the stream stalls on backpressure once every buffer on the way is full); the export's body
 * stays open until both daemons have logged a progress line for it. The test then waits for
 * those lines (events), lets the request finish, and checks the end lines against the truth:
 * the agent's `… finished: N items, OK`, the hub's `API request` with `outcome` and counts, and
 * `datasync_hub_streams_total`.
 *
 * Every stdout line of both daemons must be JSON (stdout is a pipe, not a TTY); the log audit
 * (test/helpers/log-audit.ts, fed by test/helpers/cli.ts) fails the file if a line repeats a key.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent as UndiciAgent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import type { Daemon } from '../helpers/cli.js';
import { apiDispatcher, ndjsonCall, type Line } from '../helpers/e2e/ndjson-call.js';
import { metricsText } from '../helpers/e2e/observe.js';
import { AGENT_PASSWORD, API_TOKEN, secretHashes, startAgentProcess, startHubProcess, TENANT, writeHubConfig, type StackEnv } from '../helpers/e2e/stack.js';
import { logAudit } from '../helpers/log-audit.js';
import { sampleOr0 } from '../helpers/metrics.js';

const BASE = 'dc=progress,dc=example';
const PEOPLE = `ou=people,${BASE}`;
const IMPORTS = `ou=imports,${BASE}`;
/** ~1.3 KB of JSON each: a search of all of them is ~26 MB, far more than the buffers on the way. */
const ENTRIES = 20_000;
const DATA_SOURCE = 'dir';
const AGENT_ID = 'site-progress';
const LOGGING = '{ level: info, progressInterval: 200 }';
/** Four processes streaming tens of MB on a shared 2-core machine: room to be slow. */
const TEST_TIMEOUT_MS = 120_000;
/** How long a log line or a metric may take to appear (an upper bound for hangs, not a timing). */
const WAIT_MS = 60_000;

const uid = (i: number): string => `p${String(i).padStart(5, '0')}`;
const filler = 'An entry made long on purpose, so that the search result outgrows every socket buffer between the agent and the client. '.repeat(8);

/** The directory: base, ou=people with ENTRIES inetOrgPersons, ou=imports (empty, for the export). */
function writeDirectory(file: string): void {
  const parts = [
    `version: 1\n\ndn: ${BASE}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: progress\no: Progress\n`,
    `dn: ${PEOPLE}\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ${IMPORTS}\nobjectClass: top\nobjectClass: organizationalUnit\nou: imports\n`,
  ];
  for (let i = 0; i < ENTRIES; i++) {
    const id = uid(i);
    parts.push(
      `dn: uid=${id},${PEOPLE}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\n` +
        `uid: ${id}\ncn: Person ${i}\nsn: Person\nmail: ${id}@progress.example\ndescription: ${i} ${filler}\n`,
    );
  }
  writeFileSync(file, parts.join('\n'));
}

let dir: string;
let pki: TestPki;
let env: StackEnv;
let ldif: string;
let dispatcher: UndiciAgent;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-e2e-progress-'));
  pki = makeTestPki(join(dir, 'pki'));
  env = { dir, pki };
  ldif = join(dir, 'directory.ldif');
  writeDirectory(ldif);
  dispatcher = apiDispatcher(pki.ca.certPem);
  await secretHashes();
}, 120_000);

afterAll(async () => {
  await dispatcher?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Stopped after each test, last started first. */
const cleanups: Array<() => unknown> = [];
const daemons: Array<{ daemon: Daemon; name: string }> = [];
/** Stdout lines of the daemons stopped so far: the log audit must have seen at least as many. */
let daemonLines = 0;
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  const exits = [];
  for (const d of daemons.splice(0).reverse()) exits.push({ ...d, code: await d.daemon.stop('SIGTERM') });
  expect(exits.map((e) => `${e.name}: exit ${e.code}`)).toEqual(exits.map((e) => `${e.name}: exit 0`));
  // Every line on stdout is JSON (the daemon helper marks the others `unparsed`), none at error level.
  for (const e of exits) {
    expect(e.daemon.logs.filter((r) => r['unparsed'] === true).map((r) => r['msg']), `${e.name}: non-JSON stdout lines`).toEqual([]);
    expect(e.daemon.logs.filter((r) => (r['level'] as number) >= 50), `${e.name}: error lines`).toEqual([]);
    const output = JSON.stringify(e.daemon.logs) + e.daemon.stderr();
    expect([API_TOKEN, AGENT_PASSWORD].filter((s) => output.includes(s)), `${e.name}: secrets in the log`).toEqual([]);
  }
  // The audit saw these lines and found no repeated key (it fails the file at its end otherwise).
  daemonLines += exits.reduce((n, e) => n + e.daemon.logs.length, 0);
  expect(logAudit().lines).toBeGreaterThanOrEqual(daemonLines);
  expect(logAudit().offending).toEqual([]);
});

interface Stack {
  readonly hub: Daemon;
  readonly agent: Daemon;
  readonly apiUrl: string;
  readonly hubStatusPort: number;
}

/** A TLS hub with a status listener and one agent serving the LDIF directory as `dir`, both logging progress every 200 ms. */
async function startStack(): Promise<Stack> {
  const hub = await startHubProcess(await writeHubConfig(env, { logging: LOGGING, status: true }));
  daemons.push({ daemon: hub.daemon, name: 'hub' });
  const status = await hub.daemon.waitForLog((r) => typeof r['msg'] === 'string' && r['msg'].startsWith('status listener up'), WAIT_MS);
  const agent = await startAgentProcess(env, {
    id: AGENT_ID,
    hubs: [hub],
    logging: LOGGING,
    dataSources: `  ${DATA_SOURCE}:
    type: ldif
    files: ${ldif}
    baseDN: ${BASE}
    operations: [test, search, export]
`,
  });
  daemons.push({ daemon: agent.daemon, name: AGENT_ID });
  return { hub: hub.daemon, agent: agent.daemon, apiUrl: hub.apiUrl, hubStatusPort: status['port'] as number };
}

type Rec = Record<string, unknown>;
const lines = (daemon: Daemon, prefix: string, requestId: string): Rec[] =>
  daemon.logs.filter((r) => r['requestId'] === requestId && typeof r['msg'] === 'string' && r['msg'].startsWith(prefix));
const lineOf = (daemon: Daemon, prefix: string, requestId: string, pred: (r: Rec) => boolean = () => true): Promise<Rec> =>
  daemon.waitForLog((r) => r['requestId'] === requestId && typeof r['msg'] === 'string' && r['msg'].startsWith(prefix) && pred(r), WAIT_MS);

/** Waits until the hub's /metrics shows `value` >= `atLeast`; returns the Prometheus text. */
async function metricsReaching(port: number, name: string, labels: Record<string, string>, atLeast: number): Promise<string> {
  let text = '';
  await expect
    .poll(
      async () => {
        text = await metricsText(port);
        return sampleOr0(text, name, labels);
      },
      { timeout: WAIT_MS, interval: 100 },
    )
    .toBeGreaterThanOrEqual(atLeast);
  return text;
}

const report: string[] = [];
afterAll(() => console.log(`[e2e progress] ${report.join('; ')}; daemon stdout lines ${daemonLines}, all JSON, ${logAudit().lines} audited, ${logAudit().offending.length} with a repeated key`));

describe('progress lines seen from the CLIs', () => {
  it('a long search, its reader paused: progress on the agent and the hub while it stalls, then the totals on both end lines and in /metrics', async () => {
    const stack = await startStack();
    const requestId = 'e2e-progress-search';
    const call = await ndjsonCall(`${stack.apiUrl}/v1/data-sources/${DATA_SOURCE}/search`, {
      dispatcher,
      requestId,
      body: JSON.stringify({ base: PEOPLE, scope: 'one', filter: '(objectClass=inetOrgPerson)' }),
    });
    cleanups.push(() => call.abort());
    expect(call.status).toBe(200);
    const dns = new Set<string>();
    for (const e of await call.read(100)) dns.add(e['dn'] as string);
    expect(dns.size).toBe(100);

    // The reader stops: the stream stalls once the buffers are full, and both sides report it.
    const agentLine = await lineOf(stack.agent, 'search in progress', requestId, (r) => Number(r['items']) >= 100);
    const hubLine = await lineOf(stack.hub, 'search in progress', requestId, (r) => Number(r['entries']) >= 100);
    // The agent stalls: two progress lines in a row with the same count, short of the total.
    const stalled = await stack.agent.waitForLog((r) => {
      const progress = lines(stack.agent, 'search in progress', requestId);
      const at = progress.indexOf(r);
      return at > 0 && Number(r['items']) > 0 && r['items'] === progress[at - 1]!['items'];
    }, WAIT_MS);
    expect(stalled['items']).toBeLessThan(ENTRIES);
    // Still running: neither side has logged its end.
    expect(lines(stack.agent, 'search finished', requestId)).toEqual([]);
    expect(lines(stack.hub, 'API request', requestId)).toEqual([]);
    expect(agentLine).toMatchObject({ level: 30, dataSource: DATA_SOURCE, msg: `search in progress: ${String(agentLine['items'])} items sent` });
    expect(agentLine['items']).toBeLessThan(ENTRIES);
    for (const key of ['bytes', 'perSecond', 'elapsedMs']) expect(typeof agentLine[key], key).toBe('number');
    expect(hubLine).toMatchObject({ level: 30, op: 'search', tenantId: TENANT, dataSource: DATA_SOURCE, agentId: AGENT_ID });
    expect(hubLine['entries']).toBeLessThan(ENTRIES);
    for (const key of ['bytes', 'perSecond', 'elapsedMs']) expect(typeof hubLine[key], key).toBe('number');

    const ending = await call.finish((e) => dns.add(e['dn'] as string));
    expect(ending).toEqual({ kind: 'summary', line: { end: true, count: ENTRIES, truncated: false } });
    expect(call.items).toBe(ENTRIES);
    expect(dns.size).toBe(ENTRIES);

    const agentEnd = await lineOf(stack.agent, 'search finished', requestId);
    expect(agentEnd).toMatchObject({ level: 30, outcome: 'OK', items: ENTRIES, dataSource: DATA_SOURCE, msg: `search finished: ${ENTRIES} items, OK` });
    const hubEnd = await lineOf(stack.hub, 'API request', requestId);
    expect(hubEnd).toMatchObject({ status: 200, outcome: 'ok', entries: ENTRIES, truncated: false, tenantId: TENANT });
    // The counts only grow.
    const hubProgress = lines(stack.hub, 'search in progress', requestId);
    const entries = hubProgress.map((l) => Number(l['entries']));
    expect(entries).toEqual([...entries].sort((a, b) => a - b));
    const agentProgress = lines(stack.agent, 'search in progress', requestId);

    const metrics = await metricsReaching(stack.hubStatusPort, 'datasync_hub_streams_total', { op: 'search', outcome: 'ok' }, 1);
    expect(sampleOr0(metrics, 'datasync_hub_stream_items_total', { op: 'search', outcome: 'ok' })).toBe(ENTRIES);
    expect(sampleOr0(metrics, 'datasync_hub_stream_bytes_total', { op: 'search' })).toBe(hubEnd['bytes']);
    report.push(
      `search ${ENTRIES} entries (${(Number(hubEnd['bytes']) / 1e6).toFixed(1)} MB of NDJSON, LDIF ${(statSync(ldif).size / 1e6).toFixed(1)} MB), ` +
        `reader paused after 100, the agent stalled at ${String(stalled['items'])} items sent; agent progress lines ${agentProgress.length} (first at ${String(agentLine['items'])} items), ` +
        `hub progress lines ${hubProgress.length} (first with entries >= 100 at ${String(hubLine['entries'])})`,
    );
  }, TEST_TIMEOUT_MS);

  it('a long export, its body held open: progress on the agent and the hub while it runs, then partial with the true ok/failed counts', async () => {
    const stack = await startStack();
    const requestId = 'e2e-progress-export';
    const add = (i: number): Line => ({
      op: 'add',
      dn: `uid=imp${i},${IMPORTS}`,
      attributes: { objectClass: ['inetOrgPerson'], uid: [`imp${i}`], cn: [`Import ${i}`], sn: ['Import'] },
    });
    // The body pauses after FIRST records; the hub sends what it holds to the agent (a partial
    // chunk after a short linger, export-request.ts), so every record sent so far is written
    // while the body waits — not a whole number of chunks on purpose.
    const FIRST = 1003;
    const TOTAL = 2000;
    // Record 10 adds an entry that exists; record 1500 deletes one that does not: both fail.
    const failing = new Map<number, Line>([
      [10, { op: 'add', dn: `uid=${uid(0)},${PEOPLE}`, attributes: { objectClass: ['inetOrgPerson'], uid: [uid(0)], cn: ['Again'], sn: ['Again'] } }],
      [1500, { op: 'delete', dn: `uid=missing,${IMPORTS}` }],
    ]);
    const record = (i: number): string => `${JSON.stringify(failing.get(i) ?? add(i))}\n`;
    let held: { agent: Rec; hub: Rec } | undefined;
    let heldError: unknown;
    const body = (async function* () {
      for (let i = 0; i < FIRST; i++) yield record(i);
      // The body stays open until both sides have logged progress with every result so far.
      try {
        const [agent, hub] = await Promise.all([
          lineOf(stack.agent, 'export in progress', requestId, (r) => r['items'] === FIRST),
          lineOf(stack.hub, 'export in progress', requestId, (r) => r['ok'] === FIRST - 1 && r['failed'] === 1),
        ]);
        held = { agent, hub };
      } catch (err) {
        heldError = err;
        throw err;
      }
      for (let i = FIRST; i < TOTAL; i++) yield record(i);
    })();
    const call = await ndjsonCall(`${stack.apiUrl}/v1/data-sources/${DATA_SOURCE}/export`, { dispatcher, requestId, body, contentType: 'application/x-ndjson' });
    cleanups.push(() => call.abort());
    expect(call.status).toBe(200);
    const results: Line[] = [];
    const ending = await call.finish((r) => results.push(r));

    expect(heldError, 'progress lines while the body was held open').toBeUndefined();
    expect(held).toBeDefined();
    expect(held!.agent).toMatchObject({ level: 30, dataSource: DATA_SOURCE, items: FIRST, msg: `export in progress: ${FIRST} items sent` });
    expect(held!.hub).toMatchObject({ level: 30, op: 'export', tenantId: TENANT, dataSource: DATA_SOURCE, agentId: AGENT_ID, ok: FIRST - 1, failed: 1 });
    expect(ending).toEqual({ kind: 'summary', line: { end: true, count: TOTAL, ok: TOTAL - 2, failed: 2 } });
    expect(results.map((r) => r['index'])).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    const failed = results.filter((r) => r['ok'] !== true);
    expect(failed).toEqual([
      expect.objectContaining({ index: 10, ok: false, code: 'ALREADY_EXISTS' }),
      expect.objectContaining({ index: 1500, ok: false, code: 'NOT_FOUND' }),
    ]);

    const agentEnd = await lineOf(stack.agent, 'export finished', requestId);
    expect(agentEnd).toMatchObject({ level: 30, outcome: 'OK', items: TOTAL, dataSource: DATA_SOURCE, msg: `export finished: ${TOTAL} items, OK` });
    const hubEnd = await lineOf(stack.hub, 'API request', requestId);
    expect(hubEnd).toMatchObject({ status: 200, outcome: 'partial', ok: TOTAL - 2, failed: 2, tenantId: TENANT });
    const agentProgress = lines(stack.agent, 'export in progress', requestId);
    const hubProgress = lines(stack.hub, 'export in progress', requestId);

    const metrics = await metricsReaching(stack.hubStatusPort, 'datasync_hub_streams_total', { op: 'export', outcome: 'partial' }, 1);
    expect(sampleOr0(metrics, 'datasync_hub_stream_items_total', { op: 'export', outcome: 'ok' })).toBe(TOTAL - 2);
    expect(sampleOr0(metrics, 'datasync_hub_stream_items_total', { op: 'export', outcome: 'failed' })).toBe(2);

    // The adds are in the directory: a search of ou=imports counts them.
    const check = await ndjsonCall(`${stack.apiUrl}/v1/data-sources/${DATA_SOURCE}/search`, {
      dispatcher,
      requestId: 'e2e-progress-export-check',
      body: JSON.stringify({ base: IMPORTS, scope: 'one', filter: '(objectClass=inetOrgPerson)', attributes: ['uid'] }),
    });
    expect(await check.finish()).toEqual({ kind: 'summary', line: { end: true, count: TOTAL - 2, truncated: false } });
    report.push(
      `export ${TOTAL} records (${TOTAL - 2} ok, 2 failed), body held open after ${FIRST}; agent progress lines ${agentProgress.length}, ` +
        `hub progress lines ${hubProgress.length}; hub outcome ${String(hubEnd['outcome'])}`,
    );
  }, TEST_TIMEOUT_MS);
});
