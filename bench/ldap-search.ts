/**
 * Benchmark (not a test): LDAP search throughput direct vs. through the relay, and the agent's
 * memory under a stalled consumer. Run with `npm run bench`. Everything on 127.0.0.1.
 *
 *   (a) ldapts searchPaginated of the subtree, directly          → entries/s (baseline)
 *   (b) the same subtree as a `search` stream hub ← agent ← slapd → entries/s, ratio to (a),
 *       agent peak RSS (the agent runs as its own process, as in production)
 *   (c) (b) with a consumer that stops after 1,000 entries for 10 s, then resumes → agent peak RSS
 *
 * Medians of RUNS runs each, (a) and (b) interleaved so machine noise hits both alike.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, firstValueFrom, lastValueFrom, tap, count, filter } from 'rxjs';
import { Client } from 'ldapts';
import { median, peakRss } from './measure.js';
import { startBenchRelay } from './relay.js';
import { makeTestPki } from '../test/helpers/certs.js';
import { startSlapd } from '../test/helpers/slapd.js';

const ENTRIES = Number(process.env['BENCH_ENTRIES'] ?? 100_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const PAGE = 500;
const STALL_MS = Number(process.env['BENCH_STALL_MS'] ?? 10_000);


async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'datasync-bench-'));
  console.error(`starting slapd with ${ENTRIES} entries…`);
  const slapd = await startSlapd({ entries: ENTRIES });
  const pki = makeTestPki(join(dir, 'pki'));
  const base = `ou=people,${slapd.baseDN}`;
  try {
    const relay = await startBenchRelay({
      dir,
      tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.ca.file },
      dataSources: `  corp:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${slapd.adminPassword}
    baseDN: ${slapd.baseDN}
    pageSize: ${PAGE}`,
    });
    const { hub, pid } = relay;
    const req = { tenantId: 'bench', dataSource: 'corp', params: { base, filter: '(objectClass=inetOrgPerson)' } };

    const direct = async (): Promise<number> => {
      const client = new Client({ url: slapd.url });
      await client.bind(slapd.adminDN, slapd.adminPassword);
      let n = 0;
      const t0 = performance.now();
      for await (const page of client.searchPaginated(base, { scope: 'sub', filter: '(objectClass=inetOrgPerson)', paged: { pageSize: PAGE } })) {
        n += page.searchEntries.length;
      }
      const s = (performance.now() - t0) / 1000;
      await client.unbind();
      if (n !== ENTRIES) throw new Error(`direct search returned ${n} entries, expected ${ENTRIES}`);
      return n / s;
    };
    const relayed = async (): Promise<number> => {
      const t0 = performance.now();
      const n = await lastValueFrom(hub.search$(req).pipe(count()));
      const s = (performance.now() - t0) / 1000;
      if (n !== ENTRIES) throw new Error(`relayed search returned ${n} entries, expected ${ENTRIES}`);
      return n / s;
    };

    await relayed(); // warm-up: JIT, TLS session, LDAP connection
    const a: number[] = [];
    const b: number[] = [];
    let peakB = 0;
    for (let i = 0; i < RUNS; i++) {
      a.push(await direct());
      const r = await peakRss(pid, relayed);
      b.push(r.result);
      peakB = Math.max(peakB, r.peakMb);
      console.error(`run ${i + 1}: direct ${a.at(-1)!.toFixed(0)}/s, relayed ${b.at(-1)!.toFixed(0)}/s, agent peak ${r.peakMb.toFixed(1)} MB`);
    }

    // (c): a consumer that takes 1,000 entries, stops for STALL_MS, then drains the rest.
    const stalled = await peakRss(pid, async () => {
      const demand$ = new Subject<number>();
      let seen = 0;
      let paused = false;
      const done = firstValueFrom(
        hub.searchEvents$(req, { window: 4, demand$ }).pipe(
          tap((e) => {
            if (e.type !== 'items') return;
            seen += e.items.length;
            if (seen >= 1000 && !paused) {
              paused = true;
              setTimeout(() => demand$.next(1_000_000), STALL_MS);
            } else if (!paused) demand$.next(1);
          }),
          filter((e) => e.type === 'end'),
        ),
      );
      const end = await done;
      if (end.type !== 'end' || end.count !== ENTRIES) throw new Error(`stalled search ended with ${JSON.stringify(end)}`);
    });

    const ma = median(a);
    const mb = median(b);
    const table = [
      `| measurement (${ENTRIES.toLocaleString('en')} entries, page ${PAGE}, median of ${RUNS}) | value |`,
      '|---|---|',
      `| (a) direct ldapts searchPaginated | ${ma.toFixed(0)} entries/s |`,
      `| (b) hub ← agent ← slapd over TLS | ${mb.toFixed(0)} entries/s |`,
      `| ratio (b)/(a) | ${(mb / ma).toFixed(2)} |`,
      `| agent peak RSS during (b) | ${peakB.toFixed(1)} MB |`,
      `| agent peak RSS during (c): consumer stalls ${STALL_MS / 1000} s after 1,000 entries | ${stalled.peakMb.toFixed(1)} MB |`,
      `| (c) − (b) | ${(stalled.peakMb - peakB).toFixed(1)} MB |`,
    ].join('\n');
    console.log(table);
    // Only the full, documented configuration updates the published results.
    if (ENTRIES === 100_000 && RUNS >= 3 && STALL_MS === 10_000) {
      writeFileSync(join(import.meta.dirname, '..', '..', 'bench', 'ldap-search.results.md'), `${table}\n`);
    }
    await relay.close();
  } finally {
    await slapd.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
