/**
 * The rows of the search benchmark and how one run of each is measured. Every row reads the
 * whole directory (subtree of the suffix, `(objectClass=*)`, all attributes) and yields one
 * sample: entries, seconds, CPU seconds per process (agent, hub, slapd, client) and peak RSS per
 * process. Runs of all rows are interleaved so that machine noise hits every row alike; a row's
 * figure is the median of its samples.
 */
import { runLdapsearch, runLdaptsDirect, type LdapTarget } from './ldap-clients.js';
import { httpSearch } from './http-search.js';
import { median } from './measure.js';
import { cpuMeter, peakMb, resetPeak, type Role } from './proc.js';
import type { AgentProcess, HubProcess } from './stack.js';

export interface SearchSample {
  readonly entries: number;
  readonly seconds: number;
  readonly cpu: Partial<Record<Role, number>>;
  readonly peak: Partial<Record<Role, number>>;
}

export interface SearchRow {
  readonly label: string;
  readonly kind: 'ldapsearch' | 'ldapts' | 'relay';
  readonly samples: SearchSample[];
  /** Measures one run. */
  run(): Promise<SearchSample>;
}

export interface RowSummary {
  readonly label: string;
  readonly kind: SearchRow['kind'];
  readonly entriesPerSecond: number;
  /** Median CPU seconds per 100,000 entries, per process. */
  readonly cpuPer100k: Partial<Record<Role, number>>;
  /** Median peak RSS, MB, per process. */
  readonly peakMb: Partial<Record<Role, number>>;
}

export function ldapsearchRow(target: LdapTarget, slapdPid: number): SearchRow {
  return clientRow('`ldapsearch -LLL -E pr=…/noprompt` (OpenLDAP C client)', 'ldapsearch', slapdPid, () => runLdapsearch(target));
}

export function ldaptsRow(target: LdapTarget, slapdPid: number): SearchRow {
  return clientRow('ldapts `searchPaginated`, direct (stock)', 'ldapts', slapdPid, () => runLdaptsDirect(target));
}

function clientRow(label: string, kind: SearchRow['kind'], slapdPid: number, client: () => ReturnType<typeof runLdapsearch>): SearchRow {
  const meter = cpuMeter({ slapd: slapdPid });
  const samples: SearchSample[] = [];
  return {
    label,
    kind,
    samples,
    run: async () => {
      const stop = meter.start();
      const r = await client();
      const cpu = stop();
      return { entries: r.entries, seconds: r.seconds, cpu: { ...cpu, client: r.cpuSeconds }, peak: { client: r.peakMb } };
    },
  };
}

export interface RelaySetup {
  readonly hub: HubProcess;
  readonly agent: AgentProcess;
  readonly slapdPid: number;
  readonly base: string;
  readonly filter: string;
}

/** One search through hub ← agent ← slapd, read as NDJSON over HTTP by this process. */
export async function measureRelay(s: RelaySetup, stall?: { after: number; ms: number }): Promise<SearchSample> {
  resetPeak(s.agent.pid);
  resetPeak(s.hub.pid);
  const stop = cpuMeter({ agent: s.agent.pid, hub: s.hub.pid, slapd: s.slapdPid, client: 'self' }).start();
  const r = await httpSearch(s.hub, s.agent.dataSource, { base: s.base, filter: s.filter }, stall);
  const cpu = stop();
  return { entries: r.entries, seconds: r.seconds, cpu, peak: { agent: peakMb(s.agent.pid), hub: peakMb(s.hub.pid) } };
}

export function relayRow(label: string, setup: RelaySetup): SearchRow {
  return { label, kind: 'relay', samples: [], run: () => measureRelay(setup) };
}

/** Runs every row `runs` times, interleaved, checking each run read `expected` entries. */
export async function runInterleaved(rows: readonly SearchRow[], runs: number, expected: number): Promise<void> {
  for (let i = 0; i < runs; i++) {
    for (const row of rows) {
      const s = await row.run();
      if (s.entries !== expected) throw new Error(`${row.label}: read ${s.entries} entries, expected ${expected}`);
      row.samples.push(s);
      const cpu = Object.entries(s.cpu).map(([role, sec]) => `${role} ${sec.toFixed(2)} s`).join(', ');
      console.error(`run ${i + 1}/${runs} ${row.label}: ${(s.entries / s.seconds).toFixed(0)} entries/s; CPU ${cpu}`);
    }
  }
}

function summarise(label: string, kind: SearchRow['kind'], samples: readonly SearchSample[]): RowSummary {
  const roles = new Set<Role>(samples.flatMap((s) => [...Object.keys(s.cpu), ...Object.keys(s.peak)] as Role[]));
  const cpuPer100k: Partial<Record<Role, number>> = {};
  const peak: Partial<Record<Role, number>> = {};
  for (const role of roles) {
    const cpu = samples.filter((s) => s.cpu[role] !== undefined).map((s) => (s.cpu[role]! / s.entries) * 100_000);
    if (cpu.length > 0) cpuPer100k[role] = median(cpu);
    const p = samples.filter((s) => s.peak[role] !== undefined).map((s) => s.peak[role]!);
    if (p.length > 0) peak[role] = median(p);
  }
  return { label, kind, entriesPerSecond: median(samples.map((s) => s.entries / s.seconds)), cpuPer100k, peakMb: peak };
}

export const summariseRow = (row: SearchRow): RowSummary => summarise(row.label, row.kind, row.samples);
