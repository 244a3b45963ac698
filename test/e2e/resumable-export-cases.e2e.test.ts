/**
 * Resumable exports end to end, the focused cases next to the fault matrix
 * (resumable-export.e2e.test.ts): a completed export resent, a resend with changed records, a
 * second run of a key still running, a key where no agent keeps a journal, a key whose agent is
 * away while another agent could serve, and a restarted hub that must learn again from the
 * agents' `hello` which agent holds which key; and an agent killed with a SCIM create on its
 * way, which SCIM cannot verify: `OUTCOME_UNKNOWN` once, never created again.
 *
 * `datasync-hub` and `datasync-agent` are spawned from `dist/` (build first); slapd is private;
 * what was written is read from slapd's log and a direct search, never from the product.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import type { Agent as UndiciAgent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed, vi } from 'vitest';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import type { Daemon } from '../helpers/cli.js';
import { addRecordLines, indexOfDn, listAgents, resumeDn, sendKeyedExport, startKeyedExport, waitForRegistration, type Attempt } from '../helpers/e2e/keyed-export.js';
import { contractFigures } from '../helpers/e2e/openapi-contract.js';
import { apiDispatcher, type Line } from '../helpers/e2e/ndjson-call.js';
import { PEOPLE, presentIndexes, startResumeSlapd } from '../helpers/e2e/resume-fixture.js';
import { startScimProcess } from '../helpers/e2e/scim-process.js';
import { startFaultProxy } from '../faults/fault-proxy.js';
import { SlapdAddLog } from '../helpers/e2e/slapd-adds.js';
import { ldapSource, requestLogs, scimSource, secretHashes, startAgentProcess, startHubProcess, writeHubConfig, type AgentProcess, type HubProcess, type StackEnv } from '../helpers/e2e/stack.js';
import { freePort, printSlapdLogOnFailure, type Slapd } from '../helpers/slapd.js';

const TEST_TIMEOUT_MS = 60_000;

let dir: string;
let pki: TestPki;
let env: StackEnv;
let slapd: Slapd;
let dispatcher: UndiciAgent;

printSlapdLogOnFailure(() => slapd, 60);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-e2e-resume-cases-'));
  pki = makeTestPki(join(dir, 'pki'));
  env = { dir, pki };
  dispatcher = apiDispatcher(pki.ca.certPem);
  [slapd] = await Promise.all([startResumeSlapd(), secretHashes()]);
}, 120_000);

afterAll(async () => {
  // Every answer the API dispatcher received was checked against the hub's OpenAPI document.
  const figures = contractFigures();
  console.log(`[e2e resumable-export] OpenAPI contract: ${figures.responses} answers, ${figures.jsonBodies} JSON bodies, ${figures.ndjsonLines} NDJSON lines checked, ${figures.violations} violations`);
  expect(figures.violations).toBe(0);
  await dispatcher?.close();
  await slapd?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Daemons of the running test, stopped (SIGTERM) after it, last started first. */
const running: Daemon[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of running.splice(0).reverse()) await d.stop('SIGTERM');
});

async function startHub(port?: number): Promise<HubProcess> {
  const hub = await startHubProcess(await writeHubConfig(env, port === undefined ? {} : { port }));
  running.push(hub.daemon);
  return hub;
}

/** An agent offering `corp` (slapd) with export; `journal` gives it a `stateDir` of its own. */
async function startAgent(hub: HubProcess, id: string, journal: boolean, extra = ''): Promise<AgentProcess> {
  const agent = await startAgentProcess(env, {
    id,
    hubs: [hub],
    dataSources: ldapSource('corp', slapd, 500),
    env: { E2E_LDAP_PASSWORD: slapd.adminPassword },
    extra: (journal ? `stateDir: ${join(dir, `state-${id}`)}\n` : '') + extra,
  });
  running.push(agent.daemon);
  return agent;
}

const exportUrl = (hub: HubProcess): string => `${hub.apiUrl}/v1/data-sources/corp/export`;

/** The run's ADDs in slapd's log from now on. */
const addsOf = (tag: string): SlapdAddLog => new SlapdAddLog(slapd, (dn) => indexOfDn(tag, dn) !== undefined);

/** Waits until slapd's log holds every ADD so far with its answer; returns how many there were. */
const settledAdds = async (log: SlapdAddLog): Promise<number> => (await log.settle()).length;

const served = (agent: AgentProcess, requestId: string): boolean => requestLogs(agent.daemon, requestId).some((r) => r['msg'] === 'request started');
const summaryOf = (count: number, ok: number): Attempt['ending'] => ({ kind: 'summary', line: { end: true, count, ok, failed: count - ok } });
const allOk = (n: number, extra: Partial<Line> = {}): Line[] => Array.from({ length: n }, (_, index) => ({ index, ok: true, ...extra }));

/** Runs a keyed export of `n` new entries to its end and checks it wrote each once. */
async function exportFresh(hub: HubProcess, tag: string, key: string, n: number): Promise<string[]> {
  const lines = addRecordLines(tag, n, PEOPLE);
  const log = addsOf(tag);
  const first = await sendKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-1`, key, lines });
  expect(first.ending).toEqual(summaryOf(n, n));
  expect(first.results).toEqual(allOk(n));
  expect(await settledAdds(log)).toBe(n);
  return lines;
}

describe('a completed keyed export, resent', () => {
  it('the same body: every result replayed, slapd sees no ADD; changed records: IDEMPOTENCY_MISMATCH each, not written; reordered keys: replayed', async () => {
    const hub = await startHub();
    await startAgent(hub, 'site-replay', true);
    const tag = 'rc-replay';
    const key = 'replay-after-completion';
    const n = 20;
    const lines = await exportFresh(hub, tag, key, n);

    const again = addsOf(tag);
    const second = await sendKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-2`, key, lines });
    expect(second.ending).toEqual(summaryOf(n, n));
    expect(second.results).toEqual(allOk(n, { replayed: true }));
    expect(await settledAdds(again)).toBe(0);

    // Record 3 with another cn, record 7 with another DN, record 12 with its keys reordered
    // (the journal hashes canonical JSON: the same record).
    const changed = [...lines];
    const r3 = JSON.parse(lines[3]!) as { attributes: { cn: string } };
    r3.attributes.cn = 'Changed on resend';
    changed[3] = JSON.stringify(r3);
    changed[7] = lines[7]!.replace(`uid=${tag}-00007,`, `uid=${tag}-99999,`);
    const r12 = JSON.parse(lines[12]!) as Record<string, unknown>;
    changed[12] = JSON.stringify(Object.fromEntries(Object.entries(r12).reverse()));
    expect(changed[12]).not.toBe(lines[12]);
    const third = await sendKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-3`, key, lines: changed });
    expect(third.ending).toEqual(summaryOf(n, n - 2));
    third.results.forEach((r, i) => {
      if (i === 3 || i === 7) {
        expect(r, `record ${i}`).toMatchObject({ index: i, ok: false, code: 'IDEMPOTENCY_MISMATCH', retryable: false });
        expect(typeof r['message']).toBe('string');
      } else expect(r, `record ${i}`).toEqual({ index: i, ok: true, replayed: true });
    });
    expect(third.results).toHaveLength(n);
    expect(await settledAdds(again)).toBe(0);
    expect(slapd.log().includes(`uid=${tag}-99999,`)).toBe(false);

    // The directory still holds the first attempt's entries, unchanged.
    expect(await presentIndexes(slapd, tag)).toEqual(new Set(Array.from({ length: n }, (_, i) => i)));
    const client = new Client({ url: slapd.url });
    try {
      await client.bind(slapd.adminDN, slapd.adminPassword);
      const { searchEntries } = await client.search(resumeDn(tag, 3, PEOPLE), { scope: 'base', attributes: ['cn'] });
      expect(searchEntries.map((e) => e['cn'])).toEqual([`Resume ${tag} Nº 3`]);
    } finally {
      await client.unbind();
    }
  }, TEST_TIMEOUT_MS);

  it('a second run of a key still running is BUSY (retryable) and writes nothing; the first completes', async () => {
    const hub = await startHub();
    // Chunks of 10: the hub sends a chunk once it is full, so the first 30 records go while the
    // body holds back the rest.
    await startAgent(hub, 'site-busy', true, 'maxChunkItems: 10\n');
    const tag = 'rc-busy';
    const key = 'busy-while-running';
    const n = 60;
    const lines = addRecordLines(tag, n, PEOPLE);
    const log = addsOf(tag);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const body = (async function* () {
      for (const [i, line] of lines.entries()) {
        if (i === 30) await gate;
        yield line;
      }
    })();
    const first = startKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-1`, key, lines: body });
    // Whatever fails below, the held-back body must not keep the agent's drain waiting.
    cleanups.push(() => open());
    // The first 30 records are written; the body holds back the rest.
    await vi.waitFor(() => expect(log.pending === 0 && log.count).toBe(30), { timeout: 30_000 });

    const second = await startKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-2`, key, lines }).done;
    expect(second.ending).toMatchObject({ kind: 'failure', body: { code: 'BUSY', retryable: true, requestId: `${tag}-2` } });
    expect(second.status).toBe(503);
    expect(second.results).toEqual([]);

    open();
    const done = await first.done;
    expect(done.ending).toEqual(summaryOf(n, n));
    expect(done.results).toEqual(allOk(n));
    expect(await settledAdds(log)).toBe(n);
    expect(await presentIndexes(slapd, tag)).toHaveProperty('size', n);
  }, TEST_TIMEOUT_MS);
});

describe('where the key cannot be honoured', () => {
  it('no agent keeps a journal (no stateDir): 422 IDEMPOTENCY_NOT_SUPPORTED, nothing sent to the agent or slapd; without the key the export runs', async () => {
    const hub = await startHub();
    const agent = await startAgent(hub, 'site-nojournal', false);
    const tag = 'rc-nojournal';
    const lines = addRecordLines(tag, 5, PEOPLE);
    const log = addsOf(tag);
    const keyed = await sendKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-1`, key: 'no-journal-here', lines });
    expect(keyed.status).toBe(422);
    expect(keyed.ending).toMatchObject({ kind: 'failure', body: { code: 'IDEMPOTENCY_NOT_SUPPORTED', retryable: false, requestId: `${tag}-1` } });
    expect(served(agent, `${tag}-1`)).toBe(false);

    const plain = await sendKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-2`, key: undefined, lines });
    expect(plain.ending).toEqual(summaryOf(5, 5));
    expect(await settledAdds(log)).toBe(5);
  }, TEST_TIMEOUT_MS);

  it('the agent that ran the key is away: 503 AGENT_DISCONNECTED (retryable), never another agent; back with its stateDir, the resend is replayed', async () => {
    const hub = await startHub();
    const a = await startAgent(hub, 'site-pin-a', true);
    const tag = 'rc-pinned';
    const key = 'pinned-to-a';
    const n = 30;
    const lines = await exportFresh(hub, tag, key, n);
    expect(served(a, `${tag}-1`)).toBe(true);

    const b = await startAgent(hub, 'site-pin-b', true);
    expect(await a.daemon.stop('SIGTERM')).toBe(0);
    await vi.waitFor(async () => expect((await listAgents(hub.apiUrl, dispatcher)).map((x) => x.id)).toEqual(['site-pin-b']), { timeout: 15_000 });

    const log = addsOf(tag);
    const away = await sendKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-2`, key, lines });
    expect(away.status).toBe(503);
    expect(away.ending).toMatchObject({ kind: 'failure', body: { code: 'AGENT_DISCONNECTED', retryable: true, requestId: `${tag}-2` } });
    expect(served(b, `${tag}-2`)).toBe(false);
    // B is healthy and takes keyed exports of its own.
    await exportFresh(hub, 'rc-pinned-b', 'fresh-on-b', 3);
    expect(served(b, 'rc-pinned-b-1')).toBe(true);

    const a2 = await startAgent(hub, 'site-pin-a', true);
    await waitForRegistration(hub.apiUrl, dispatcher, 'site-pin-a');
    const back = await sendKeyedExport(exportUrl(hub), { dispatcher, requestId: `${tag}-3`, key, lines });
    expect(back.ending).toEqual(summaryOf(n, n));
    expect(back.results).toEqual(allOk(n, { replayed: true }));
    expect(served(a2, `${tag}-3`)).toBe(true);
    expect(served(b, `${tag}-3`)).toBe(false);
    expect(await settledAdds(log)).toBe(0);
  }, TEST_TIMEOUT_MS);

  it('a restarted hub learns from the agents\' hello which agent holds each key: every resend goes there and is replayed', async () => {
    const port = await freePort();
    const hub = await startHub(port);
    const a = await startAgent(hub, 'site-learn-a', true);
    const keys = ['learn-1', 'learn-2', 'learn-3'];
    const bodies = new Map<string, string[]>();
    for (const key of keys) bodies.set(key, await exportFresh(hub, `rc-${key}`, key, 10));

    const b = await startAgent(hub, 'site-learn-b', true);
    const sessions = await Promise.all([a, b].map((x) => waitForRegistration(hub.apiUrl, dispatcher, x.id)));
    expect(await hub.daemon.stop('SIGTERM')).toBe(0);
    const again = await startHub(port);
    // Both agents (both keeping journals, so either could take a new key) registered again.
    await Promise.all([a, b].map((x, i) => waitForRegistration(again.apiUrl, dispatcher, x.id, sessions[i])));

    const logs = keys.map((key) => addsOf(`rc-${key}`));
    for (const key of keys) {
      const id = `rc-${key}-2`;
      const resend = await sendKeyedExport(exportUrl(again), { dispatcher, requestId: id, key, lines: bodies.get(key)! });
      expect(resend.ending, key).toEqual(summaryOf(10, 10));
      expect(resend.results, key).toEqual(allOk(10, { replayed: true }));
      expect([served(a, id), served(b, id)], key).toEqual([true, false]);
    }
    for (const log of logs) expect(await settledAdds(log)).toBe(0);
  }, TEST_TIMEOUT_MS);

  it('SCIM cannot verify: an agent killed with a create on its way gets OUTCOME_UNKNOWN for that record on the resend, which is never POSTed again, and replayed from then on', async () => {
    const server = await startScimProcess({ users: 0 });
    cleanups.push(() => server.stop());
    onTestFailed(() => console.error(`--- SCIM server process ---\n${server.output()}`));
    // Between the agent and the SCIM server, to hold one answer back while the agent is killed.
    const target = new URL(server.url);
    const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port) });
    cleanups.push(() => proxy.close());
    const hub = await startHub();
    const setup = {
      id: 'site-scim',
      hubs: [hub],
      dataSources: scimSource('hr', server.url.replace(target.host, proxy.address), 100),
      env: { E2E_SCIM_TOKEN: server.token },
      extra: `stateDir: ${join(dir, 'state-site-scim')}\n`,
    };
    const agent = await startAgentProcess(env, setup);
    running.push(agent.daemon);
    const url = `${hub.apiUrl}/v1/data-sources/hr/export`;
    const n = 20;
    const userName = (i: number): string => `resume-scim-${String(i).padStart(2, '0')}`;
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ op: 'create', resourceType: 'User', resource: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: userName(i), active: true } }),
    );
    const posts = (): number => server.requests.filter((r) => r.method === 'POST' && r.path === '/scim/v2/Users').length;
    const key = 'scim-outcome-unknown';

    const first = startKeyedExport(url, { dispatcher, requestId: 'rc-scim-1', key, lines });
    await vi.waitFor(() => expect(posts()).toBeGreaterThanOrEqual(8), { timeout: 30_000 });
    // Answers are held back from now on; once a request has gone through, the server creates
    // that user and its answer waits in the proxy: the agent is killed before it hears it.
    proxy.delay(2000);
    const up = proxy.bytes.up;
    await vi.waitFor(() => expect(proxy.bytes.up).toBeGreaterThan(up), { timeout: 10_000, interval: 2 });
    const created = posts();
    await vi.waitFor(() => expect(posts()).toBe(created + 1), { timeout: 10_000, interval: 2 });
    expect(await agent.daemon.stop('SIGKILL')).toBeNull();
    proxy.pass();
    const a1 = await first.done;
    expect(a1.ending).toMatchObject({ kind: 'error-line', line: { error: { code: 'AGENT_DISCONNECTED' } } });
    const interrupted = created; // POSTs go one record at a time, in order
    expect(a1.results.length).toBeLessThanOrEqual(interrupted);
    expect(a1.results.map((r) => r['index'])).toEqual(Array.from({ length: a1.results.length }, (_, i) => i));

    const again = await startAgentProcess(env, setup);
    running.push(again.daemon);
    const second = await sendKeyedExport(url, { dispatcher, requestId: 'rc-scim-2', key, lines });
    expect(second.ending).toEqual(summaryOf(n, n - 1));
    second.results.forEach((r, i) => {
      if (i < interrupted) expect(r, `record ${i}`).toMatchObject({ index: i, ok: true, replayed: true });
      else if (i === interrupted) expect(r, `record ${i}`).toMatchObject({ index: i, ok: false, code: 'OUTCOME_UNKNOWN', retryable: false });
      else expect(r, `record ${i}`).toMatchObject({ index: i, ok: true });
      if (i !== interrupted) expect(r['verified'], `record ${i}`).toBeUndefined();
      if (i > interrupted) expect(r['replayed'], `record ${i}`).toBeUndefined();
    });
    // Every user POSTed exactly once over both attempts: the server created the interrupted one.
    await vi.waitFor(() => expect(posts()).toBe(n), { timeout: 10_000 });
    expect(server.requests.filter((r) => r.method === 'POST').map((r) => r.status)).toEqual(Array.from({ length: n }, () => 201));

    // OUTCOME_UNKNOWN is the record's journaled outcome: a third send replays it, POSTs nothing.
    const third = await sendKeyedExport(url, { dispatcher, requestId: 'rc-scim-3', key, lines });
    expect(third.ending).toEqual(summaryOf(n, n - 1));
    expect(third.results.every((r) => r['replayed'] === true)).toBe(true);
    expect(third.results[interrupted]).toMatchObject({ ok: false, code: 'OUTCOME_UNKNOWN' });
    expect(posts()).toBe(n);
  }, TEST_TIMEOUT_MS);
});
