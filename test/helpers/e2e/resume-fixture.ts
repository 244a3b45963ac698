/**
 * What the resumable-export e2e files share: a private slapd tuned for many adds, the entries
 * a run left in it (searched directly, not through the product under test), a seeded PRNG for
 * cut points, and the tail of the daemons' logs when a test fails.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { beforeEach } from 'vitest';
import type { Daemon } from '../cli.js';
import { startSlapd, type Slapd } from '../slapd.js';
import { indexOfDn } from './keyed-export.js';

export const PEOPLE = 'ou=people,dc=example,dc=com';

/** A slapd with a few people; writes not synced to disk (a throw-away directory needs no durability). */
export async function startResumeSlapd(): Promise<Slapd> {
  const slapd = await startSlapd({ entries: 20 });
  // mdb syncs every write transaction: `dbnosync` (slapd-mdb(5)) in the database section,
  // which ends slapd.conf, so thousands of adds measure the relay, not the disk.
  appendFileSync(join(slapd.dir, 'slapd.conf'), 'dbnosync\n');
  await slapd.stop();
  await slapd.start();
  return slapd;
}

/** Indexes of run `tag` whose entry exists in slapd (admin search, paged). */
export async function presentIndexes(slapd: Slapd, tag: string): Promise<Set<number>> {
  const client = new Client({ url: slapd.url });
  try {
    await client.bind(slapd.adminDN, slapd.adminPassword);
    const { searchEntries } = await client.search(PEOPLE, { scope: 'one', filter: `(uid=${tag}-*)`, attributes: ['uid'], paged: { pageSize: 500 } });
    const found = new Set<number>();
    for (const e of searchEntries) {
      const i = indexOfDn(tag, e.dn);
      if (i === undefined) throw new Error(`unexpected DN ${e.dn}`);
      if (found.has(i)) throw new Error(`DN of record ${i} found twice`);
      found.add(i);
    }
    return found;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/** mulberry32: a small seeded PRNG, so the cut points are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Prints the last lines each daemon logged during a test when it fails. For daemons shared by
 * several tests (started once), whose own failure printing is bound to the test that started them.
 */
export function printDaemonLogsOnFailure(get: () => ReadonlyArray<[string, Daemon | undefined]>, maxLines = 150): void {
  beforeEach(({ onTestFailed }) => {
    // By daemon, not name: a daemon restarted during the test shows all of its lines.
    const from = new Map(get().map(([, d]) => [d, d?.logs.length ?? 0]));
    onTestFailed(() => {
      for (const [name, d] of get()) {
        if (!d) continue;
        const lines = d.logs.slice(from.get(d) ?? 0).slice(-maxLines);
        console.error(`--- ${name}: last ${lines.length} log lines of the failed test ---\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${d.stderr().slice(-2000)}`);
      }
    });
  });
}
