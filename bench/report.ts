/**
 * The search benchmark's results as markdown: the settings, the search table (entries/s, ratios,
 * peak RSS and CPU per 100k entries per process), memory (idle agent, stalled consumer), the
 * small-request table, and each goal of the issue next to its measured value with met / not met.
 */
import { availableParallelism, cpus } from 'node:os';
import type { GetSummary } from './get-rows.js';
import type { RowSummary } from './search-rows.js';
import type { Role } from './proc.js';

export interface Settings {
  readonly entries: number;
  readonly people: number;
  readonly ldifBytesPerEntry: number;
  readonly pageSize: number;
  readonly runs: number;
  readonly getCalls: number;
  readonly stallMs: number;
  readonly searchWorkersDefault: number;
}

export interface Memory {
  /** Agent VmRSS after start-up and registration, before any request. */
  readonly idleAgentMb: number;
  /** Peaks while a consumer stalls after 1,000 entries. */
  readonly stalled: { agentMb: number; hubMb: number };
  /** The same peaks in the unstalled default run (medians). */
  readonly unstalled: { agentMb: number; hubMb: number };
}

export interface Results {
  readonly settings: Settings;
  readonly rows: readonly RowSummary[];
  /** The relay row that represents "the relay" in the goals (plain ws, default config). */
  readonly relay: RowSummary;
  readonly memory: Memory;
  readonly gets: { relay: GetSummary; direct: GetSummary; hubOnly: GetSummary };
}

const f0 = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '—' : Math.round(x).toLocaleString('en'));
const f1 = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(1));
const f2 = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(2));
const mb = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '—' : `${x.toFixed(0)} MB`);

/** Today's 32-concurrent `get` throughput, the baseline of the small-request goal. */
const GET_BASELINE_PER_SECOND = 1178;

export function formatResults(r: Results): string {
  const s = r.settings;
  const ldapsearch = r.rows.find((x) => x.kind === 'ldapsearch');
  const ldapts = r.rows.find((x) => x.kind === 'ldapts');
  const cpu = (row: RowSummary, role: Role): string => f2(row.cpuPer100k[role]);
  const lines = [
    `Settings: ${s.entries.toLocaleString('en')} entries (${s.people.toLocaleString('en')} people, ${s.ldifBytesPerEntry.toFixed(0)} bytes of LDIF per entry on average), ` +
      `page size ${s.pageSize}, subtree of the suffix, \`(objectClass=*)\`, all attributes; hub, agent, slapd and clients each their own process on 127.0.0.1; ` +
      `relay rows read NDJSON over HTTP in the bench process (keep-alive, lines counted, not parsed; its peak RSS is not the client's alone, so not shown); medians of ${s.runs} interleaved runs; ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.versions.node}. ` +
      `Default \`searchWorkers\`: ${s.searchWorkersDefault}. CPU from /proc/PID/stat, peak RSS = VmHWM (worker threads included), reset before each run.`,
    '',
    '| path | entries/s | × ldapsearch | × ldapts | peak RSS agent | peak RSS hub | peak RSS client | CPU s per 100k: agent | hub | slapd | client |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.rows.map(
      (row) =>
        `| ${row.label} | ${f0(row.entriesPerSecond)} | ${f2(ldapsearch ? row.entriesPerSecond / ldapsearch.entriesPerSecond : undefined)} | ${f2(ldapts ? row.entriesPerSecond / ldapts.entriesPerSecond : undefined)} | ` +
        `${mb(row.peakMb.agent)} | ${mb(row.peakMb.hub)} | ${mb(row.peakMb.client)} | ${cpu(row, 'agent')} | ${cpu(row, 'hub')} | ${cpu(row, 'slapd')} | ${cpu(row, 'client')} |`,
    ),
    '',
    '| memory | agent | hub |',
    '|---|---|---|',
    `| idle agent (registered, no request yet), VmRSS | ${mb(r.memory.idleAgentMb)} | — |`,
    `| peak while streaming (default relay row) | ${mb(r.memory.unstalled.agentMb)} | ${mb(r.memory.unstalled.hubMb)} |`,
    `| peak with a consumer that stalls ${s.stallMs / 1000} s after 1,000 entries, then drains | ${mb(r.memory.stalled.agentMb)} | ${mb(r.memory.stalled.hubMb)} |`,
    `| stall adds | ${mb(r.memory.stalled.agentMb - r.memory.unstalled.agentMb)} | ${mb(r.memory.stalled.hubMb - r.memory.unstalled.hubMb)} |`,
    '',
    `Small requests: ${s.getCalls.toLocaleString('en')} sequential calls per run (latency, CPU per call), then ${(2 * s.getCalls).toLocaleString('en')} calls over 32 concurrent callers; keep-alive connections.`,
    '',
    '| small request | p50 | p99 | calls/s, 32 concurrent | CPU µs per call: agent | hub | slapd | client |',
    '|---|---|---|---|---|---|---|---|',
    ...[r.gets.direct, r.gets.relay, r.gets.hubOnly].map(
      (g) =>
        `| ${g.label} | ${f2(g.p50Ms)} ms | ${f2(g.p99Ms)} ms | ${f0(g.concurrentPerSecond)} | ${f0(g.cpuUsPerCall.agent)} | ${f0(g.cpuUsPerCall.hub)} | ${f0(g.cpuUsPerCall.slapd)} | ${f0(g.cpuUsPerCall.client)} |`,
    ),
    '',
    ...formatGoals(r),
  ];
  return lines.join('\n');
}

function formatGoals(r: Results): string[] {
  const ldapsearch = r.rows.find((x) => x.kind === 'ldapsearch');
  const relay = r.relay;
  const usPerEntry = (role: Role): number => (relay.cpuPer100k[role] ?? Number.NaN) * 10; // s per 100k → µs per entry
  const ratio = ldapsearch ? relay.entriesPerSecond / ldapsearch.entriesPerSecond : Number.NaN;
  const stallAdds = r.memory.stalled.agentMb - r.memory.unstalled.agentMb;
  const g = r.gets;
  const goals: Array<[string, string, boolean]> = [
    ['relay ≥ 0.6 × ldapsearch (stretch 0.75 ×)', `${f2(ratio)} ×`, ratio >= 0.6],
    ['agent CPU ≤ 25 µs per entry', `${f1(usPerEntry('agent'))} µs`, usPerEntry('agent') <= 25],
    ['hub CPU ≤ 5 µs per entry', `${f1(usPerEntry('hub'))} µs`, usPerEntry('hub') <= 5],
    ['agent peak RSS ≤ 120 MB during the search', mb(relay.peakMb.agent), (relay.peakMb.agent ?? Infinity) <= 120],
    ['idle agent ≤ 70 MB', mb(r.memory.idleAgentMb), r.memory.idleAgentMb <= 70],
    ['hub ≤ 100 MB while streaming', mb(relay.peakMb.hub), (relay.peakMb.hub ?? Infinity) <= 100],
    ['a stalled consumer adds ≤ 20 MB (agent)', mb(stallAdds), stallAdds <= 20],
    ['get: agent CPU ≤ 150 µs', `${f0(g.relay.cpuUsPerCall.agent)} µs`, (g.relay.cpuUsPerCall.agent ?? Infinity) <= 150],
    ['get: hub CPU ≤ 150 µs', `${f0(g.relay.cpuUsPerCall.hub)} µs`, (g.relay.cpuUsPerCall.hub ?? Infinity) <= 150],
    ['get: added p50 ≤ 1 ms (relay − direct)', `${f2(g.relay.p50Ms - g.direct.p50Ms)} ms`, g.relay.p50Ms - g.direct.p50Ms <= 1],
    [`get: 32 concurrent ≥ 2.5 × ${GET_BASELINE_PER_SECOND.toLocaleString('en')}/s = ${(2.5 * GET_BASELINE_PER_SECOND).toLocaleString('en')}/s`, `${f0(g.relay.concurrentPerSecond)}/s`, g.relay.concurrentPerSecond >= 2.5 * GET_BASELINE_PER_SECOND],
  ];
  return [
    `Goals (relay = "${relay.label}"):`,
    '',
    '| goal | measured | |',
    '|---|---|---|',
    ...goals.map(([goal, value, met]) => `| ${goal} | ${value} | ${met ? 'met' : '**not met**'} |`),
  ];
}
