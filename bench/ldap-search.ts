/**
 * `npm run bench` (not a test): LDAP search and small-request performance of the relay against
 * OpenLDAP's own client and stock ldapts, on a realistic directory (bench/directory.ts), every
 * process measured on its own (bench/proc.ts). Prints a markdown table to stdout; the full
 * configuration (100,000 people, 3 runs, 2,000 gets, 10 s stall) also writes
 * bench/ldap-search.results.md. Progress goes to stderr.
 *
 * Environment: BENCH_PEOPLE (100000), BENCH_RUNS (3), BENCH_GETS (2000), BENCH_STALL_MS (10000).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultSearchWorkers } from '../src/adapters/ldap/adapter.js';
import { makeTestPki } from '../test/helpers/certs.js';
import { startBenchDirectory, type BenchDirectory } from './directory.js';
import { hubOnlyPath, ldaptsGetPath, measureGets, relayGetPath, summariseGets, type GetPath, type GetSample } from './get-rows.js';
import { rssMb } from './proc.js';
import { formatResults } from './report.js';
import { ldapsearchRow, ldaptsRow, measureRelay, relayRow, runInterleaved, summariseRow, type RelaySetup } from './search-rows.js';
import { startAgent, startHub, type AgentProcess, type HubProcess } from './stack.js';

const PAGE_SIZE = 1000;
const FILTER = '(objectClass=*)';
const GET_WARMUP = 200;

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

const PEOPLE = envInt('BENCH_PEOPLE', 100_000, 100);
const RUNS = envInt('BENCH_RUNS', 3, 1);
const GETS = envInt('BENCH_GETS', 2_000, 32);
const STALL_MS = envInt('BENCH_STALL_MS', 10_000, 0);
const FULL = PEOPLE === 100_000 && RUNS === 3 && GETS === 2_000 && STALL_MS === 10_000;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'datasync-bench-'));
  const closers: Array<() => Promise<void>> = [];
  let directory: BenchDirectory | undefined;
  try {
    const pki = makeTestPki(join(dir, 'pki'));
    directory = await startBenchDirectory(PEOPLE);
    const { slapd, base, entries } = directory;
    const slapdPid = slapd.pid!;
    const ldap = { url: slapd.url, bindDN: slapd.adminDN, bindPassword: slapd.adminPassword, baseDN: base, pageSize: PAGE_SIZE };
    const workersDefault = defaultSearchWorkers();
    const workersOther = workersDefault === 0 ? 2 : 0;

    console.error('starting hubs and agents…');
    const hub = await startHub({ dir, name: 'hub-plain' });
    closers.push(() => hub.close());
    const tlsHub = await startHub({ dir, name: 'hub-tls', tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caPem: pki.ca.certPem } });
    closers.push(() => tlsHub.close());
    const agent = async (id: string, h: HubProcess, extra: { searchWorkers?: number; caFile?: string } = {}): Promise<AgentProcess> => {
      const a = await startAgent({ dir, id, hub: h, ldap, ...extra });
      closers.unshift(() => a.close());
      return a;
    };
    const defaultAgent = await agent('default', hub);
    await sleep(2000); // let start-up settle (JIT, first GC) before reading the idle footprint
    const idleAgentMb = rssMb(defaultAgent.pid);
    const otherAgent = await agent(`workers${workersOther}`, hub, { searchWorkers: workersOther });
    const tlsAgent = await agent('tls', tlsHub, { caFile: pki.ca.file });

    const setup = (h: HubProcess, a: AgentProcess): RelaySetup => ({ hub: h, agent: a, slapdPid, base, filter: FILTER });
    const target = { url: slapd.url, bindDN: slapd.adminDN, bindPassword: slapd.adminPassword, base, filter: FILTER, pageSize: PAGE_SIZE };
    const defaultRow = relayRow(`relay, plain ws, default config (searchWorkers ${workersDefault})`, setup(hub, defaultAgent));
    const rows = [
      ldapsearchRow(target, slapdPid),
      ldaptsRow(target, slapdPid),
      defaultRow,
      relayRow(`relay, plain ws, \`searchWorkers: ${workersOther}\``, setup(hub, otherAgent)),
      relayRow(`relay over TLS (wss + https), default config`, setup(tlsHub, tlsAgent)),
    ];
    console.error('warm-up: one search through each relay…');
    for (const row of rows.filter((r) => r.kind === 'relay')) await row.run();
    await runInterleaved(rows, RUNS, entries);

    console.error(`stalled consumer: 1,000 entries, then ${STALL_MS / 1000} s without reading, then the rest…`);
    const stalled = await measureRelay(setup(hub, defaultAgent), { after: 1000, ms: STALL_MS });
    if (stalled.entries !== entries) throw new Error(`stalled search read ${stalled.entries} entries, expected ${entries}`);
    const relaySummary = summariseRow(defaultRow);

    console.error('small requests…');
    const direct = await ldaptsGetPath(ldap, slapdPid, PEOPLE);
    closers.unshift(() => direct.close());
    const paths: GetPath[] = [direct, relayGetPath(hub, defaultAgent, slapdPid, PEOPLE), hubOnlyPath(hub)];
    for (const p of paths) for (let i = 0; i < GET_WARMUP; i++) await p.call(i, i % 2 === 1);
    const getSamples = paths.map((): GetSample[] => []);
    for (let run = 0; run < RUNS; run++) {
      for (const [k, p] of paths.entries()) {
        const s = await measureGets(p, GETS);
        getSamples[k]!.push(s);
        console.error(`run ${run + 1}/${RUNS} ${p.label}: ${s.concurrentPerSecond.toFixed(0)}/s at 32 concurrent`);
      }
    }
    const [directGets, relayGets, hubOnlyGets] = paths.map((p, k) => summariseGets(p.label, getSamples[k]!));

    const table = formatResults({
      settings: { entries, people: PEOPLE, ldifBytesPerEntry: directory.ldifBytesPerEntry, pageSize: PAGE_SIZE, runs: RUNS, getCalls: GETS, stallMs: STALL_MS, searchWorkersDefault: workersDefault },
      rows: rows.map(summariseRow),
      relay: relaySummary,
      memory: {
        idleAgentMb,
        stalled: { agentMb: stalled.peak.agent!, hubMb: stalled.peak.hub! },
        unstalled: { agentMb: relaySummary.peakMb.agent!, hubMb: relaySummary.peakMb.hub! },
      },
      gets: { direct: directGets!, relay: relayGets!, hubOnly: hubOnlyGets! },
    });
    console.log(table);
    if (FULL) writeFileSync(join(import.meta.dirname, '..', '..', 'bench', 'ldap-search.results.md'), `${table}\n`);
    else console.error('(not the full configuration: bench/ldap-search.results.md left as it is)');
  } finally {
    for (const close of closers) await close().catch((err: unknown) => console.error(err));
    await directory?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
