/**
 * `npm run bench:ldif` (not a test): what loading a realistic LDIF directory costs the agent —
 * memory (RSS after the load, peak RSS, V8 heap per entry), CPU of the load, the longest
 * event-loop stall while it loads (`monitorEventLoopDelay`), and a search of the whole directory
 * (CPU µs per entry, longest stall). The numbers of docs/ldif.md come from here.
 *
 * Each run is a fresh child process (its own peak RSS, started with `--expose-gc` so that the
 * memory after the load is what the directory holds, not garbage); the table shows the median
 * of the runs. The LDIF file (`test/fixtures/ldap/realistic.ts`) is written once to the temp
 * directory and reused.
 *
 * Environment: BENCH_PEOPLE (50000), BENCH_RUNS (3), BENCH_LDIF (the file; written if missing).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isLeft } from 'fp-ts/lib/Either.js';
import { lastValueFrom } from 'rxjs';
import pino from 'pino';
import { isBatchSource, type SearchSource } from '../src/adapter-kit/adapter.js';
import { LdifDataSourceConfig } from '../src/adapters/ldif/config.js';
import { createLdifAdapter } from '../src/adapters/ldif/index.js';
import { writeRealisticLdif } from '../test/fixtures/ldap/realistic.js';

const PEOPLE = Number(process.env['BENCH_PEOPLE'] ?? 50_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const FILE = process.env['BENCH_LDIF'] ?? join(tmpdir(), `datasync-bench-realistic-${PEOPLE}.ldif`);

interface Sample {
  entries: number;
  fileMb: number;
  rssAfterLoadMb: number;
  peakMb: number;
  heapMb: number;
  heapBytesPerEntry: number;
  loadCpuMs: number;
  loadMaxStallMs: number;
  searchUsPerEntry: number;
  searchMaxStallMs: number;
}

const statusMb = (key: 'VmRSS' | 'VmHWM'): number =>
  Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN) / 1024;

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
}

/** Pages until the last; the number of entries (either item format). */
async function drain(source: SearchSource): Promise<number> {
  let n = 0;
  for (;;) {
    const page = isBatchSource(source) ? await lastValueFrom(source.pull()) : await lastValueFrom(source.pull());
    n += Array.isArray(page.items) ? page.items.length : (page.items as { count: number }).count;
    if (page.last) return n;
  }
}

/** One measured load and search, in this process. */
async function child(): Promise<Sample> {
  const silent = pino({ level: 'silent' });
  const ctx = { requestId: 'bench', dataSource: 'bench', log: silent };
  collect();
  const heap0 = process.memoryUsage().heapUsed;
  const config = LdifDataSourceConfig.decode({ type: 'ldif', files: [FILE], baseDN: 'dc=example,dc=com', pageSize: 500 });
  if (isLeft(config)) throw new Error('bench config does not decode');
  const adapter = createLdifAdapter('bench', config.right, silent);
  const loadDelay = monitorEventLoopDelay({ resolution: 5 });
  loadDelay.enable();
  const cpu0 = process.cpuUsage();
  const loaded = (await lastValueFrom(adapter.test(ctx))) as { entries: number };
  const cpu1 = process.cpuUsage(cpu0);
  loadDelay.disable();
  const peakMb = statusMb('VmHWM');
  collect();
  const heap = process.memoryUsage().heapUsed - heap0;
  const rssAfterLoadMb = statusMb('VmRSS');

  const searchDelay = monitorEventLoopDelay({ resolution: 5 });
  searchDelay.enable();
  const cpu2 = process.cpuUsage();
  const found = await drain(adapter.search!({}, ctx));
  const cpu3 = process.cpuUsage(cpu2);
  searchDelay.disable();
  if (found !== loaded.entries) throw new Error(`search found ${found} of ${loaded.entries} entries`);
  await adapter.close?.();
  return {
    entries: loaded.entries,
    fileMb: statSync(FILE).size / 2 ** 20,
    rssAfterLoadMb,
    peakMb,
    heapMb: heap / 2 ** 20,
    heapBytesPerEntry: heap / loaded.entries,
    loadCpuMs: (cpu1.user + cpu1.system) / 1000,
    loadMaxStallMs: loadDelay.max / 1e6,
    searchUsPerEntry: (cpu3.user + cpu3.system) / found,
    searchMaxStallMs: searchDelay.max / 1e6,
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

async function main(): Promise<void> {
  if (process.argv[2] === 'child') {
    process.stdout.write(`${JSON.stringify(await child())}\n`);
    return;
  }
  if (!existsSync(FILE)) {
    process.stderr.write(`writing ${FILE} (${PEOPLE} people)\n`);
    await writeRealisticLdif(FILE, PEOPLE);
  }
  const samples: Sample[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'child'], { encoding: 'utf8', env: { ...process.env, BENCH_LDIF: FILE } });
    const sample = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Sample;
    process.stderr.write(`run ${run}: ${JSON.stringify(sample)}\n`);
    samples.push(sample);
  }
  const first = samples[0] as Sample;
  const row = (label: string, key: keyof Sample, digits: number): string => `| ${label} | ${median(samples.map((s) => s[key])).toFixed(digits)} |`;
  process.stdout.write(
    [
      `LDIF load: ${PEOPLE} realistic people = ${first.entries} entries, ${first.fileMb.toFixed(1)} MB of LDIF; median of ${RUNS} runs`,
      '',
      '| measure | value |',
      '|---|---|',
      row('RSS after the load, MB', 'rssAfterLoadMb', 0),
      row('peak RSS (VmHWM), MB', 'peakMb', 0),
      row('V8 heap held by the directory, MB', 'heapMb', 0),
      row('heap bytes per entry', 'heapBytesPerEntry', 0),
      row('load CPU, ms', 'loadCpuMs', 0),
      row('longest event-loop stall during the load, ms', 'loadMaxStallMs', 1),
      row('search of every entry, CPU µs per entry', 'searchUsPerEntry', 1),
      row('longest event-loop stall during the search, ms', 'searchMaxStallMs', 1),
      '',
    ].join('\n'),
  );
}

await main();
