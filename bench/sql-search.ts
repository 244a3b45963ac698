/**
 * `npm run bench:sql` (not a test): a `type: sql` search of a whole PostgreSQL table through
 * the relay against the same keyset pages read directly, in one run, on one private server.
 *
 *   (a) direct: the adapter's own page and child statements with `pg` and the adapter's
 *       connection settings on one connection, each row JSON-serialised (bench/sql-direct.ts)
 *   (b) relay: `search` hub (this process) ← agent (its own process) ← PostgreSQL, items counted
 *       from the chunk events; agent peak RSS (VmHWM) and CPU per entry
 *       (bench/sql-relay-reads.ts)
 *   (c) stalled consumer: credit stops after a few chunks; once the server's page-query count
 *       and the chunks received stop changing, the agent's RSS growth over its RSS before the
 *       search and the agent role's sessions idle in a transaction; then the search resumes
 *       and must deliver every row
 *
 * Data (bench/sql-database.ts): the generated people of test/fixtures/sql (12 columns: bigint
 * keys beyond 2^53, numeric, bytea, timestamptz, jsonb, text[], hostile strings), groups from
 * the `group_members` child table; page size = the source's default pageSize. Runs (a), (b),
 * (c) interleaved; medians. Table on stdout; the full configuration (BENCH_ROWS=100000,
 * BENCH_RUNS ≥ 3) also writes bench/sql-search.results.md. Progress on stderr.
 *
 * Environment: BENCH_ROWS (100000), BENCH_RUNS (3), BENCH_DIALECT (postgres; mysql is not
 * benchmarked yet), BENCH_AGENT_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULTS } from '../src/adapters/sql/config.js';
import { median } from './measure.js';
import { cpuSeconds, rssMb } from './proc.js';
import { startBenchRelay, type BenchRelay } from './relay.js';
import { dataSourceYaml, OBJECT_TYPE, startBenchDatabase, type BenchDatabase } from './sql-database.js';
import { startDirectReader, type DirectReader } from './sql-direct.js';
import { relayedSearch, stalledSearch, type StallResult } from './sql-relay-reads.js';
import { formatSqlResults, type SqlRun } from './sql-report.js';

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

const ROWS = envInt('BENCH_ROWS', 100_000, 1000);
const RUNS = envInt('BENCH_RUNS', 3, 1);
const PAGE_SIZE = DEFAULTS.pageSize;
const DIALECT = process.env['BENCH_DIALECT'] ?? 'postgres';
const FULL = ROWS === 100_000 && RUNS >= 3;
const DATA_SOURCE = 'db';
const STALL = { readChunks: 3, stablePolls: 10, pollMs: 100 } as const;

/** Page and child statements only (the probe and the agent's health checks differ by design). */
const pagingTexts = (texts: readonly string[]): string[] => texts.filter((t) => /ORDER BY/.test(t)).sort();

async function main(): Promise<void> {
  if (DIALECT !== 'postgres') throw new Error(`BENCH_DIALECT=${DIALECT}: only postgres is benchmarked (MariaDB is not implemented in this bench yet)`);
  const dir = mkdtempSync(join(tmpdir(), 'datasync-bench-sql-'));
  let db: BenchDatabase | undefined;
  let relay: BenchRelay | undefined;
  let direct: DirectReader | undefined;
  try {
    console.error(`starting PostgreSQL and seeding ${ROWS.toLocaleString('en')} people…`);
    db = await startBenchDatabase(ROWS, PAGE_SIZE);
    console.error(`seeded in ${db.seedSeconds.toFixed(1)} s (${db.server.version})`);
    const agentRole = db.seed.agentUser;
    relay = await startBenchRelay({ dir, dataSources: dataSourceYaml(DATA_SOURCE, db.agentSettings) });
    const { hub, pid } = relay;
    direct = await startDirectReader(db.directConfig, OBJECT_TYPE);
    await sleep(2000); // start-up settles (JIT, first GC) before the idle footprint is read
    const idleAgentMb = rssMb(pid);
    const req = { tenantId: 'bench', dataSource: DATA_SOURCE, params: { objectType: OBJECT_TYPE } };

    console.error('warm-up: one search each way…');
    const warm = await relayedSearch(hub, pid, req);
    if (warm.entries !== ROWS) throw new Error(`relayed search read ${warm.entries} entries, expected ${ROWS}`);
    const warmDirect = await direct.read();
    if (warmDirect.rows !== ROWS) throw new Error(`direct read ${warmDirect.rows} rows, expected ${ROWS}`);
    const agentTexts = pagingTexts(await db.statementTexts(agentRole));
    const directTexts = pagingTexts(await db.statementTexts(db.server.superuser));
    const sameSql = agentTexts.length > 0 && JSON.stringify(agentTexts) === JSON.stringify(directTexts);
    if (!sameSql) console.error(`the paths ran different SQL:\nagent:  ${agentTexts.join('\n        ')}\ndirect: ${directTexts.join('\n        ')}`);

    const loadBefore = loadavg()[0]!;
    const runs: SqlRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      const a = await direct.read();
      if (a.rows !== ROWS) throw new Error(`direct read ${a.rows} rows, expected ${ROWS}`);
      const queries0 = await db.pageQueries(agentRole);
      const cpu0 = cpuSeconds(pid);
      const hubCpu0 = process.cpuUsage();
      const b = await relayedSearch(hub, pid, req);
      const agentCpu = cpuSeconds(pid) - cpu0;
      const hubCpu = process.cpuUsage(hubCpu0);
      if (b.entries !== ROWS) throw new Error(`relayed search read ${b.entries} entries, expected ${ROWS}`);
      const relayPages = (await db.pageQueries(agentRole)) - queries0;
      const c: StallResult = await stalledSearch(hub, pid, db, agentRole, req, { ...STALL, rows: ROWS });
      const run: SqlRun = {
        directPerSecond: a.rows / a.seconds,
        relayPerSecond: b.entries / b.seconds,
        directPages: a.pages,
        relayPages,
        agentPeakMb: b.agentPeakMb,
        agentCpuUsPerEntry: (agentCpu / b.entries) * 1e6,
        hubCpuUsPerEntry: ((hubCpu.user + hubCpu.system) / b.entries),
        stall: c,
      };
      runs.push(run);
      console.error(
        `run ${i + 1}/${RUNS}: direct ${run.directPerSecond.toFixed(0)} rows/s (${a.pages} pages), relay ${run.relayPerSecond.toFixed(0)} rows/s (${relayPages} page queries), ` +
          `ratio ${(run.relayPerSecond / run.directPerSecond).toFixed(2)}, agent peak ${b.agentPeakMb.toFixed(1)} MB, agent CPU ${run.agentCpuUsPerEntry.toFixed(1)} µs/entry; ` +
          `stalled after ${c.entriesAtStall} entries / ${c.pageQueriesAtStall} page queries: ${(c.stalledMb - c.beforeMb).toFixed(1)} MB now, +${(c.peakMb - c.beforeMb).toFixed(1)} MB peak, ` +
          `${c.idleInTransaction} idle in transaction, ${c.activeSessions} active`,
      );
    }

    const report = formatSqlResults({
      rows: ROWS,
      pageSize: PAGE_SIZE,
      runs,
      idleAgentMb,
      sameSql,
      pagingStatements: agentTexts,
      server: db.server.version,
      seedSeconds: db.seedSeconds,
      machine:
        `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.versions.node}, ` +
        `1-minute load average ${loadBefore.toFixed(1)} before the runs and ${loadavg()[0]!.toFixed(1)} after (every process on the machine)`,
      stall: STALL,
      median,
    });
    console.log(report);
    if (FULL) writeFileSync(join(import.meta.dirname, '..', '..', 'bench', 'sql-search.results.md'), `${report}\n`);
    else console.error('(not the full configuration: bench/sql-search.results.md left as it is)');
  } finally {
    await direct?.close().catch((err: unknown) => console.error(err));
    await relay?.close().catch((err: unknown) => console.error(err));
    await db?.stop().catch((err: unknown) => console.error(err));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
