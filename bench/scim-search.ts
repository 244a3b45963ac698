/**
 * Benchmark (not a test): SCIM search throughput direct vs. through the relay. Run with
 * `npm run bench:scim`. Everything on 127.0.0.1, plain HTTP and plain ws.
 *
 *   (a) GET {url}/Users?startIndex=…&count=100 with undici, page after page, directly → users/s
 *   (b) the same users as a `search` stream hub ← agent ← SCIM server → users/s, ratio to (a),
 *       agent peak RSS (the agent runs as its own process, as in production)
 *
 * The SCIM server is the scimmy-based test server, which spends ~1 ms of schema coercion per
 * returned resource: both (a) and (b) are bounded by it, so the ratio shows the relay's overhead
 * on top of a slow provider rather than the relay's own ceiling.
 *
 * Medians of RUNS runs each, (a) and (b) interleaved so machine noise hits both alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { count, lastValueFrom } from 'rxjs';
import { request } from 'undici';
import { median, peakRss } from './measure.js';
import { startBenchRelay, type BenchRelay } from './relay.js';
import { startScimServer } from '../test/helpers/scim-server.js';

const USERS = Number(process.env['BENCH_USERS'] ?? 2_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const PAGE = 100;


interface ListBody {
  totalResults?: number;
  Resources?: unknown[];
}

async function main(): Promise<void> {
  if (!Number.isInteger(USERS) || USERS < 1) throw new Error(`BENCH_USERS must be a positive integer, got ${process.env['BENCH_USERS']}`);
  if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`BENCH_RUNS must be a positive integer, got ${process.env['BENCH_RUNS']}`);
  const dir = mkdtempSync(join(tmpdir(), 'datasync-bench-scim-'));
  console.error(`starting the SCIM server with ${USERS} users…`);
  const scim = await startScimServer({ users: USERS });
  let relay: BenchRelay | undefined;
  try {
    relay = await startBenchRelay({
      dir,
      dataSources: `  hr:
    type: scim
    baseUrl: ${scim.url}
    bearerToken: ${JSON.stringify(scim.token)}
    pageSize: ${PAGE}`,
    });
    const { hub, pid } = relay;
    const req = { tenantId: 'bench', dataSource: 'hr', params: { resourceType: 'User' } };

    /** GET requests to /Users made since `from` (list pages only). */
    const listRequests = (from: number): number =>
      scim.requests.slice(from).filter((r) => r.method === 'GET' && r.path.endsWith('/Users')).length;

    const direct = async (): Promise<number> => {
      const from = scim.requests.length;
      let n = 0;
      let total = Infinity;
      const t0 = performance.now();
      for (let startIndex = 1; startIndex <= total; ) {
        const res = await request(`${scim.url}/Users?startIndex=${startIndex}&count=${PAGE}`, {
          headers: { authorization: `Bearer ${scim.token}`, accept: 'application/scim+json' },
        });
        if (res.statusCode !== 200) throw new Error(`direct GET /Users?startIndex=${startIndex} answered ${res.statusCode}: ${await res.body.text()}`);
        const body = (await res.body.json()) as ListBody;
        const got = body.Resources?.length ?? 0;
        total = body.totalResults ?? 0;
        if (got === 0) break;
        n += got;
        startIndex += got;
      }
      const s = (performance.now() - t0) / 1000;
      if (n !== USERS) throw new Error(`direct paging returned ${n} users, expected ${USERS}`);
      const pages = listRequests(from);
      if (pages !== Math.ceil(USERS / PAGE)) throw new Error(`direct paging made ${pages} list requests, expected ${Math.ceil(USERS / PAGE)}`);
      return n / s;
    };
    let relayedPages = 0;
    const relayed = async (): Promise<number> => {
      const from = scim.requests.length;
      const t0 = performance.now();
      const n = await lastValueFrom(hub.search$(req).pipe(count()));
      const s = (performance.now() - t0) / 1000;
      if (n !== USERS) throw new Error(`relayed search returned ${n} users, expected ${USERS}`);
      relayedPages = listRequests(from);
      return n / s;
    };

    await relayed(); // warm-up: JIT, HTTP keep-alive connections, SCIM discovery in the agent
    await direct();
    const a: number[] = [];
    const b: number[] = [];
    let peakB = 0;
    for (let i = 0; i < RUNS; i++) {
      a.push(await direct());
      const r = await peakRss(pid, relayed);
      b.push(r.result);
      peakB = Math.max(peakB, r.peakMb);
      console.error(
        `run ${i + 1}: direct ${a.at(-1)!.toFixed(0)}/s, relayed ${b.at(-1)!.toFixed(0)}/s (${relayedPages} list requests), agent peak ${r.peakMb.toFixed(1)} MB`,
      );
    }

    const ma = median(a);
    const mb = median(b);
    const table = [
      `| measurement (${USERS.toLocaleString('en')} users, page ${PAGE}, median of ${RUNS}) | value |`,
      '|---|---|',
      `| (a) direct undici GET /Users?startIndex=…&count=${PAGE} | ${ma.toFixed(0)} users/s |`,
      `| (b) hub ← agent ← SCIM server over ws | ${mb.toFixed(0)} users/s |`,
      `| ratio (b)/(a) | ${(mb / ma).toFixed(2)} |`,
      `| agent peak RSS during (b) | ${peakB.toFixed(1)} MB |`,
    ].join('\n');
    console.log(table);
    // Only the full, documented configuration updates the published results.
    if (USERS === 2_000 && RUNS >= 3) {
      writeFileSync(join(import.meta.dirname, '..', '..', 'bench', 'scim-search.results.md'), `${table}\n`);
    }
  } finally {
    await relay?.close();
    await scim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
