/**
 * The SQL search benchmark's results as markdown (stdout and bench/sql-search.results.md): what
 * was measured and how, on which machine and when, the per-run numbers, the medians, and each
 * goal of the issue next to its measured value with met / not met.
 */
import type { StallResult } from './sql-relay-reads.js';

export interface SqlRun {
  readonly directPerSecond: number;
  readonly relayPerSecond: number;
  /** Page statements of the direct read / the agent role's page queries during the relayed search. */
  readonly directPages: number;
  readonly relayPages: number;
  readonly agentPeakMb: number;
  readonly agentCpuUsPerEntry: number;
  /** CPU of this process (the in-process hub and the consumer) per entry. */
  readonly hubCpuUsPerEntry: number;
  readonly stall: StallResult;
}

export interface SqlResults {
  readonly rows: number;
  readonly pageSize: number;
  readonly runs: readonly SqlRun[];
  readonly idleAgentMb: number;
  /** The page and child statements of both paths were the same texts (pg_stat_statements). */
  readonly sameSql: boolean;
  readonly pagingStatements: readonly string[];
  readonly server: string;
  readonly seedSeconds: number;
  readonly machine: string;
  readonly stall: { readonly readChunks: number; readonly stablePolls: number; readonly pollMs: number };
  readonly median: (xs: readonly number[]) => number;
}

const f0 = (x: number): string => Math.round(x).toLocaleString('en');
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const sign = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;

export function formatSqlResults(r: SqlResults): string {
  const m = (f: (run: SqlRun) => number): number => r.median(r.runs.map(f));
  const ratio = (run: SqlRun): number => run.relayPerSecond / run.directPerSecond;
  const stalledGrowth = (run: SqlRun): number => run.stall.stalledMb - run.stall.beforeMb;
  const stalledPeakGrowth = (run: SqlRun): number => run.stall.peakMb - run.stall.beforeMb;
  const idleTx = Math.max(...r.runs.map((run) => run.stall.idleInTransaction));
  const med = {
    direct: m((x) => x.directPerSecond),
    relay: m((x) => x.relayPerSecond),
    ratio: m(ratio),
    peak: m((x) => x.agentPeakMb),
    stalled: m(stalledGrowth),
    stalledPeak: m(stalledPeakGrowth),
  };
  const goals: Array<[string, string, boolean]> = [
    ['relay ≥ 0.8 × direct', `${f2(med.ratio)} ×`, med.ratio >= 0.8],
    ['agent peak RSS ≤ 120 MB during the search', `${f1(med.peak)} MB`, med.peak <= 120],
    ['a stalled consumer adds ≤ 20 MB (agent, peak while stalled − RSS before the search)', `${sign(med.stalledPeak)} MB`, med.stalledPeak <= 20],
    ['no transaction held while stalled (agent role idle in transaction, max over runs)', String(idleTx), idleTx === 0],
    ['both paths ran the same page and child SQL (pg_stat_statements texts)', r.sameSql ? 'same' : 'different', r.sameSql],
  ];
  return [
    `# \`npm run bench:sql\` — SQL search through the relay vs. direct`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${r.machine}; ${r.server}, private server on 127.0.0.1 ` +
      `(fsync off, \`log_statement=none\`, pg_stat_statements loaded). Run with \`npm run bench:sql\` ` +
      `(BENCH_ROWS=${r.rows}, BENCH_RUNS=${r.runs.length}); seeding took ${f1(r.seedSeconds)} s.`,
    '',
    `Data: ${r.rows.toLocaleString('en')} rows of the generated \`people\` table (12 columns: bigint keys beyond 2^53, numeric, bytea, ` +
      `timestamptz, jsonb, text[], hostile strings), object type with every column, \`groups\` from the \`group_members\` child table, ` +
      `\`nicknames\` from the text[] column; page size ${r.pageSize} (the source's default), no filter.`,
    '',
    '- **(a) direct**: the adapter\'s own page and child statements (src/adapters/sql/queries.ts) with `pg` and the adapter\'s connection ' +
      'settings (extended protocol, lossless type parsers, UTC) on one connection; every row and child row `JSON.stringify`\'d (binary as base64).',
    '- **(b) relay**: `search` through hub (bench process) ← agent (its own process, default config) ← PostgreSQL; the hub\'s default credit ' +
      'window; items counted from chunk events, not parsed. Agent peak RSS = VmHWM reset before the search.',
    `- **(c) stalled consumer**: credit for the initial window + ${r.stall.readChunks} chunks, then none; stalled once the agent role's page-query ` +
      `count (pg_stat_statements) and the chunks received were unchanged for ${r.stall.stablePolls} polls ${r.stall.pollMs} ms apart; then the ` +
      'agent\'s RSS vs. its RSS before the search, and the agent role\'s sessions in pg_stat_activity; then credit flows again and every row must arrive.',
    `- (a), (b), (c) interleaved, medians of ${r.runs.length} runs. Idle agent (registered, no request yet): ${f1(r.idleAgentMb)} MB.`,
    '',
    '| run | direct rows/s | relay rows/s | ratio | agent peak RSS | agent CPU µs/entry | hub+consumer CPU µs/entry | page queries direct / relay | stalled after (entries, page queries) | stalled RSS − before | peak − before | idle in transaction | active |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.runs.map(
      (x, i) =>
        `| ${i + 1} | ${f0(x.directPerSecond)} | ${f0(x.relayPerSecond)} | ${f2(ratio(x))} | ${f1(x.agentPeakMb)} MB | ${f1(x.agentCpuUsPerEntry)} | ${f1(x.hubCpuUsPerEntry)} | ` +
        `${x.directPages} / ${x.relayPages} | ${f0(x.stall.entriesAtStall)}, ${x.stall.pageQueriesAtStall} | ${sign(stalledGrowth(x))} MB | ${sign(stalledPeakGrowth(x))} MB | ${x.stall.idleInTransaction} | ${x.stall.activeSessions} |`,
    ),
    `| **median** | **${f0(med.direct)}** | **${f0(med.relay)}** | **${f2(med.ratio)}** | **${f1(med.peak)} MB** | ${f1(m((x) => x.agentCpuUsPerEntry))} | ${f1(m((x) => x.hubCpuUsPerEntry))} | | | ${sign(med.stalled)} MB | **${sign(med.stalledPeak)} MB** | ${idleTx} | |`,
    '',
    '| goal | measured | |',
    '|---|---|---|',
    ...goals.map(([goal, value, met]) => `| ${goal} | ${value} | ${met ? 'met' : '**not met**'} |`),
    '',
    'The page and child statements both paths ran (as pg_stat_statements normalises them):',
    '',
    ...r.pagingStatements.map((s) => `    ${s.length > 300 ? `${s.slice(0, 300)}… (${s.length} characters)` : s}`),
  ].join('\n');
}
