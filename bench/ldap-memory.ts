/**
 * `npm run bench:memory` (not a test): does the agent's memory stay flat as the directory grows?
 * One relayed search of a whole realistic directory (bench/directory.ts) at 100,000 and at
 * 1,000,000 people, each with a fresh hub and agent (default config, plain ws, page size 1000)
 * read as NDJSON over HTTP; the agent's and the hub's peak RSS (VmHWM, worker threads
 * included) of the two runs are compared (goal: the agent within ±10 MB).
 *
 * The million-people LDIF (~850 MB) is streamed to disk and loaded with slapadd (a minute or
 * two), into an mdb of a few GB. Progress goes to stderr; the table to stdout and, for the full
 * configuration, to bench/ldap-memory.results.md.
 *
 * Environment: BENCH_PEOPLE (1000000; the smaller run has a tenth of it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchDirectory } from './directory.js';
import { rssMb } from './proc.js';
import { measureRelay, type SearchSample } from './search-rows.js';
import { startAgent, startHub } from './stack.js';

const PAGE_SIZE = 1000;
const raw = process.env['BENCH_PEOPLE'];
const PEOPLE = raw === undefined ? 1_000_000 : Number(raw);
if (!Number.isInteger(PEOPLE) || PEOPLE < 1000) throw new Error(`BENCH_PEOPLE must be an integer ≥ 1000, got ${raw}`);
const SMALL = Math.round(PEOPLE / 10);
const FULL = PEOPLE === 1_000_000;

interface MemoryRun {
  readonly people: number;
  readonly entries: number;
  readonly ldifBytesPerEntry: number;
  readonly idleAgentMb: number;
  readonly sample: SearchSample;
}

async function searchOnce(people: number): Promise<MemoryRun> {
  const dir = mkdtempSync(join(tmpdir(), 'datasync-bench-memory-'));
  const directory = await startBenchDirectory(people);
  const closers: Array<() => Promise<void>> = [];
  try {
    const { slapd, base, entries } = directory;
    const hub = await startHub({ dir, name: 'hub' });
    closers.push(() => hub.close());
    const agent = await startAgent({ dir, id: 'memory', hub, ldap: { url: slapd.url, bindDN: slapd.adminDN, bindPassword: slapd.adminPassword, baseDN: base, pageSize: PAGE_SIZE } });
    closers.unshift(() => agent.close());
    await sleep(2000); // start-up settles before the idle footprint is read
    const idleAgentMb = rssMb(agent.pid);
    console.error(`searching ${entries.toLocaleString('en')} entries through the relay…`);
    const sample = await measureRelay({ hub, agent, slapdPid: slapd.pid!, base, filter: '(objectClass=*)' });
    if (sample.entries !== entries) throw new Error(`the search read ${sample.entries} entries, expected ${entries}`);
    console.error(`  ${(sample.entries / sample.seconds).toFixed(0)} entries/s, agent peak ${sample.peak.agent!.toFixed(1)} MB, hub peak ${sample.peak.hub!.toFixed(1)} MB`);
    return { people, entries, ldifBytesPerEntry: directory.ldifBytesPerEntry, idleAgentMb, sample };
  } finally {
    for (const close of closers) await close().catch((err: unknown) => console.error(err));
    await directory.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const small = await searchOnce(SMALL);
  const large = await searchOnce(PEOPLE);
  const us = (r: MemoryRun, role: 'agent' | 'hub'): string => `${((r.sample.cpu[role]! / r.entries) * 1e6).toFixed(1)} µs`;
  const row = (r: MemoryRun): string =>
    `| ${r.entries.toLocaleString('en')} | ${Math.round(r.sample.entries / r.sample.seconds).toLocaleString('en')} | ${r.idleAgentMb.toFixed(0)} MB | ` +
    `${r.sample.peak.agent!.toFixed(1)} MB | ${r.sample.peak.hub!.toFixed(1)} MB | ${us(r, 'agent')} | ${us(r, 'hub')} |`;
  const delta = large.sample.peak.agent! - small.sample.peak.agent!;
  const table = [
    `Settings: realistic directory (${large.ldifBytesPerEntry.toFixed(0)} bytes of LDIF per entry), one relayed search of all of it (subtree, \`(objectClass=*)\`, all attributes, page size ${PAGE_SIZE}), ` +
      `hub ← agent over plain ws, default config, read as NDJSON over HTTP; a fresh hub and agent per directory size; one run each; ${availableParallelism()} cores. Peak RSS = VmHWM (worker threads included).`,
    '',
    '| entries | entries/s | idle agent RSS | agent peak RSS | hub peak RSS | agent CPU per entry | hub CPU per entry |',
    '|---|---|---|---|---|---|---|',
    row(small),
    row(large),
    '',
    `| goal | measured | |`,
    '|---|---|---|',
    `| agent peak at ${large.entries.toLocaleString('en')} entries within ±10 MB of ${small.entries.toLocaleString('en')} | ${delta >= 0 ? '+' : ''}${delta.toFixed(1)} MB | ${Math.abs(delta) <= 10 ? 'met' : '**not met**'} |`,
  ].join('\n');
  console.log(table);
  if (FULL) writeFileSync(join(import.meta.dirname, '..', '..', 'bench', 'ldap-memory.results.md'), `${table}\n`);
  else console.error('(not the full configuration: bench/ldap-memory.results.md left as it is)');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
