/**
 * Resumable exports end to end: a keyed export of 1,500 new entries is interrupted inside a
 * chunk, then the same body is sent again with the same `Idempotency-Key`, and the two attempts
 * are accounted against slapd's own log (test/helpers/e2e/export-accounting.ts): every record
 * written at most once, every write reported (ok, `replayed`, verified or `OUTCOME_UNKNOWN`),
 * `OUTCOME_UNKNOWN` only after the agent process died and at most once per death.
 *
 * Three faults, each at three cut points drawn with a seeded PRNG inside chunks (the agent takes
 * chunks of 200 records; the fault fires once slapd has logged K of the run's ADDs, K not a
 * multiple of 200):
 * - `cut`: the fault proxy between agent and hub resets the agent's connection (TCP RST);
 * - `hub-restart`: the hub process is stopped (SIGTERM) and started again on the same port;
 * - `agent-kill`: the agent process is killed (SIGKILL) and started again with the same
 *   config and `stateDir`, so the resend is answered from the journal read back from disk;
 *   twice more with an ADD in flight: a second fault proxy, between the agent and slapd, holds
 *   slapd's answers back for a moment and the kill lands after slapd applied the ADD but before
 *   the agent heard of it — a record with an intent and no outcome, which the resend must
 *   verify (read the entry back) or report `OUTCOME_UNKNOWN`, never write again.
 *
 * Everything is a real process: `datasync-hub` and `datasync-agent` from `dist/` (build first),
 * a private slapd, the agent's WebSocket through test/faults/fault-proxy.ts. The stack is shared
 * by the runs; each run uses its own key and its own entries (`uid=<run>-NNNNN`).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent as UndiciAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../faults/fault-proxy.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { accountRun, formatRow, type FaultKind } from '../helpers/e2e/export-accounting.js';
import { addRecordLines, indexOfDn, sendKeyedExport, startKeyedExport, waitForRegistration } from '../helpers/e2e/keyed-export.js';
import { contractFigures } from '../helpers/e2e/openapi-contract.js';
import { apiDispatcher } from '../helpers/e2e/ndjson-call.js';
import { PEOPLE, presentIndexes, printDaemonLogsOnFailure, seededRandom, startResumeSlapd } from '../helpers/e2e/resume-fixture.js';
import { SlapdAddLog } from '../helpers/e2e/slapd-adds.js';
import {
  ldapSource,
  secretHashes,
  startAgentProcess,
  startHubProcess,
  writeHubConfig,
  type AgentProcess,
  type AgentSetup,
  type HubProcess,
  type StackEnv,
} from '../helpers/e2e/stack.js';
import { freePort, printSlapdLogOnFailure, type Slapd } from '../helpers/slapd.js';

const RECORDS = 1500;
const CHUNK = 200;
const AGENT_ID = 'site-resume';
const SEED = 0x10e5e7;
const RUN_TIMEOUT_MS = 90_000;

/**
 * Cut points, per fault kind: the number of the run's ADDs slapd has logged when the fault is
 * fired. One early, one middle, one late chunk (the last chunks are left alone so the fault
 * always lands before the export ends), 15–185 records into it.
 */
const random = seededRandom(SEED);
const cutPoints = (): number[] =>
  [
    [0, 1],
    [2, 3],
    [4, 5],
  ].map(([lo, hi]) => (lo! + Math.floor(random() * (hi! - lo! + 1))) * CHUNK + 15 + Math.floor(random() * 171));
const KINDS: readonly FaultKind[] = ['cut', 'hub-restart', 'agent-kill'];
interface CutPoint {
  readonly point: number;
  readonly n: number;
  /** Kill while an ADD is on its way (agent-kill only). */
  readonly inFlight: boolean;
}
const POINTS = new Map<FaultKind, CutPoint[]>(KINDS.map((k) => [k, cutPoints().map((point, i) => ({ point, n: i + 1, inFlight: false }))]));
POINTS.get('agent-kill')!.push(...cutPoints().slice(1).map((point, i) => ({ point, n: 4 + i, inFlight: true })));
/** How long slapd's answers are held back for an in-flight kill: the window the kill lands in. */
const HOLD_MS = 400;

let dir: string;
let env: StackEnv;
let pki: TestPki;
let slapd: Slapd;
let dispatcher: UndiciAgent;
let proxy: FaultProxy;
/** Between the agent and slapd: passes, except to catch an ADD in flight. */
let ldapProxy: FaultProxy;
let hub: HubProcess | undefined;
let agent: AgentProcess | undefined;
let agentSetup: AgentSetup;
const matrix: string[] = [];

printSlapdLogOnFailure(() => slapd, 60);
printDaemonLogsOnFailure(() => [
  ['hub', hub?.daemon],
  [AGENT_ID, agent?.daemon],
]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-e2e-resume-'));
  pki = makeTestPki(join(dir, 'pki'));
  env = { dir, pki };
  dispatcher = apiDispatcher(pki.ca.certPem);
  [slapd] = await Promise.all([startResumeSlapd(), secretHashes()]);
  const port = await freePort();
  hub = await startHubProcess(await writeHubConfig(env, { port }));
  proxy = await startFaultProxy({ host: '127.0.0.1', port });
  ldapProxy = await startFaultProxy({ host: '127.0.0.1', port: slapd.port });
  agentSetup = {
    id: AGENT_ID,
    hubs: [`wss://127.0.0.1:${proxy.port}/agent`],
    dataSources: ldapSource('corp', { ...slapd, url: `ldap://${ldapProxy.address}` }, 500),
    env: { E2E_LDAP_PASSWORD: slapd.adminPassword },
    extra: `stateDir: ${join(dir, 'state')}\nmaxChunkItems: ${CHUNK}\nshutdownGracePeriod: 2000\n`,
  };
  agent = await startAgentProcess(env, agentSetup);
}, 120_000);

afterAll(async () => {
  // Every answer the API dispatcher received was checked against the hub's OpenAPI document.
  const figures = contractFigures();
  console.log(`[e2e resumable-export] OpenAPI contract: ${figures.responses} answers, ${figures.jsonBodies} JSON bodies, ${figures.ndjsonLines} NDJSON lines checked, ${figures.violations} violations`);
  expect(figures.violations).toBe(0);
  console.log(`[e2e resumable-export] seed ${SEED.toString(16)}, ${RECORDS} records, chunks of ${CHUNK}\n${matrix.join('\n')}`);
  await agent?.daemon.stop('SIGTERM');
  await hub?.daemon.stop('SIGTERM');
  await proxy?.close();
  await ldapProxy?.close();
  await dispatcher?.close();
  await slapd?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const exportUrl = (): string => `${hub!.apiUrl}/v1/data-sources/corp/export`;

/** Fires the fault; resolves once the interrupted process is gone (and, for the hub, back). */
async function fire(kind: FaultKind): Promise<void> {
  switch (kind) {
    case 'cut':
      proxy.cut();
      return;
    case 'hub-restart': {
      const file = hub!.file;
      expect(await hub!.daemon.stop('SIGTERM')).toBe(0);
      hub = await startHubProcess(file);
      return;
    }
    case 'agent-kill':
      expect(await agent!.daemon.stop('SIGKILL')).toBeNull();
      return;
  }
}

/**
 * Holds slapd's answers back and waits until a request has gone through to slapd after that:
 * its answer cannot reach the agent for HOLD_MS. (The proxy forwards what it holds only after
 * the delay, so a byte forwarded upstream now was sent after the delay began.)
 */
async function catchWriteInFlight(): Promise<void> {
  ldapProxy.delay(HOLD_MS);
  const up = ldapProxy.bytes.up;
  await vi.waitFor(
    () => {
      if (ldapProxy.bytes.up === up) throw new Error('no request through yet');
    },
    { timeout: 10_000, interval: 2 },
  );
}

async function faultRun(kind: FaultKind, { point, n, inFlight }: CutPoint): Promise<void> {
  const tag = `rs-${kind}-${n}`;
  const key = `resume/${tag}/${SEED.toString(16)}`;
  const lines = addRecordLines(tag, RECORDS, PEOPLE);
  const adds = new SlapdAddLog(slapd, (dn) => indexOfDn(tag, dn) !== undefined);
  // A run that failed half-way may have left the agent dead: every run starts with one.
  if (agent!.daemon.child.exitCode !== null || agent!.daemon.child.signalCode !== null) agent = await startAgentProcess(env, agentSetup);
  const session = await waitForRegistration(hub!.apiUrl, dispatcher, AGENT_ID);

  // Attempt 1, interrupted once slapd has logged `point` of its ADDs.
  // Its own connection pool: the hub drops a connection whose upload it stopped reading, and a
  // shared pool could hand that dying socket to the resend.
  const firstDispatcher = apiDispatcher(pki.ca.certPem);
  const first = startKeyedExport(exportUrl(), { dispatcher: firstDispatcher, requestId: `${tag}-1`, key, lines });
  await vi.waitFor(
    () => {
      if (adds.count < point) throw new Error(`${adds.count} of ${point} ADDs so far`);
    },
    { timeout: 60_000, interval: 5 },
  );
  if (inFlight) await catchWriteInFlight();
  const writesAtFault = adds.count;
  const resultsAtFault = first.results.length;
  await fire(kind);
  ldapProxy.pass();
  const a1 = await first.done;
  await firstDispatcher.destroy();

  // The stack recovers: the agent (restarted after a kill, from the same stateDir) registers again.
  if (kind === 'agent-kill') agent = await startAgentProcess(env, agentSetup);
  await waitForRegistration(hub!.apiUrl, dispatcher, AGENT_ID, session);
  // A live agent ends the first attempt when its connection goes; slapd answers what it got.
  if (kind !== 'agent-kill') await agent!.daemon.waitForLog((r) => r['msg'] === 'request finished' && r['requestId'] === `${tag}-1`, 30_000);
  await adds.settle();
  const addsBefore = [...adds.poll()];

  // Attempt 2: the same body, the same key.
  const a2 = await sendKeyedExport(exportUrl(), { dispatcher, requestId: `${tag}-2`, key, lines });
  await adds.settle();
  const addsAfter = adds.poll().slice(addsBefore.length);
  const present = await presentIndexes(slapd, tag);

  const { row, violations } = accountRun({ tag, records: RECORDS, kind, kills: kind === 'agent-kill' ? 1 : 0, first: a1, second: a2, addsBefore, addsAfter, present });
  // The write the kill interrupted: slapd applied it, nobody heard of it before the resend.
  const interrupted = inFlight ? indexOfDn(tag, addsBefore.at(-1)!.dn)! : undefined;
  const told = interrupted === undefined ? '' : `; interrupted write: record ${interrupted}, attempt 2 said ${JSON.stringify(a2.results[interrupted])}`;
  const ended = a1.ending.kind === 'error-line' ? `error line ${a1.ending.line.error.code} count ${a1.ending.line.count}` : a1.ending.kind;
  matrix.push(
    formatRow(`${kind}${inFlight ? ' (ADD in flight)' : ''} @ ${point} (fired at ${writesAtFault} writes, ${writesAtFault % CHUNK} into chunk ${Math.floor(writesAtFault / CHUNK)}; ${resultsAtFault} results read)`, row) +
      `; attempt 1 ended: ${ended}; entries in slapd ${present.size}${told}`,
  );

  // The fault interrupted the export: attempt 1 did not finish.
  expect(a1.ending.kind, 'attempt 1 must be interrupted').not.toBe('summary');
  expect(addsBefore.length).toBeLessThan(RECORDS);
  if (kind !== 'hub-restart') {
    // The hub stayed up: the caller learns the agent went away, after every result it had.
    expect(a1.ending).toMatchObject({ kind: 'error-line', line: { error: { code: 'AGENT_DISCONNECTED', retryable: true }, requestId: `${tag}-1`, count: a1.results.length } });
  }
  expect(violations).toEqual([]);
  // Every entry exactly once (a DN cannot be there twice); only an OUTCOME_UNKNOWN record may be missing.
  const unknownAbsent = a2.results.filter((r) => r['code'] === 'OUTCOME_UNKNOWN' && !present.has(r['index'] as number)).length;
  expect(present.size).toBe(RECORDS - unknownAbsent);
  if (kind === 'agent-kill') {
    // The restarted agent answered from the journal it read back from disk.
    expect(existsSync(join(dir, 'state', 'exports'))).toBe(true);
    expect(readdirSync(join(dir, 'state', 'exports')).length).toBeGreaterThan(0);
    expect(row.replayed + row.verified + row.unknown).toBeGreaterThanOrEqual(addsBefore.filter((o) => o.err === 0).length);
  }
  if (interrupted !== undefined) {
    expect(addsBefore.at(-1)!.err, 'slapd applied the interrupted ADD').toBe(0);
    expect(a1.results.some((r) => r['index'] === interrupted), 'attempt 1 reported the interrupted write').toBe(false);
    // Verified by reading the entry back, or OUTCOME_UNKNOWN; the accounting above has already
    // checked it was not sent to slapd again.
    const last = a2.results[interrupted]!;
    if (last['ok'] === true) expect(last).toEqual({ index: interrupted, ok: true, replayed: true, verified: true });
    else expect(last).toMatchObject({ index: interrupted, ok: false, code: 'OUTCOME_UNKNOWN', retryable: false });
    expect(row.verified + row.unknown).toBe(1);
  }
}

describe.each(KINDS)('a keyed export interrupted by %s, then resent with the same key', (kind) => {
  it.each(POINTS.get(kind)!)('cut point $n: after $point writes (ADD in flight: $inFlight)', async (cut) => faultRun(kind, cut), RUN_TIMEOUT_MS);
});
