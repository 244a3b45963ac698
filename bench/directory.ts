/**
 * The directory a benchmark searches: the realistic data shape (test/fixtures/ldap/realistic.ts:
 * people that are inetOrgPerson + posixAccount, ~850 bytes of LDIF each, one groupOfNames of 50
 * members per 50 people), streamed to an LDIF file, loaded with slapadd into a private slapd
 * (test/helpers/slapd.ts) with an mdb `maxsize` large enough for a million people. The LDIF file
 * is removed once loaded; its size per entry is kept to state the entry size in the results.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_DN } from '../test/fixtures/ldap/generate.js';
import { realisticEntryCount, writeRealisticLdif } from '../test/fixtures/ldap/realistic.js';
import { startSlapd, type Slapd } from '../test/helpers/slapd.js';

export interface BenchDirectory {
  readonly slapd: Slapd;
  /** The suffix: every search of the bench starts here (subtree, all attributes). */
  readonly base: string;
  /** Entries in the directory (base, containers, people, groups). */
  readonly entries: number;
  /** Mean LDIF bytes per entry of the loaded file. */
  readonly ldifBytesPerEntry: number;
  dispose(): Promise<void>;
}

/**
 * mdb map size (a limit; the file is sparse): the loaded database takes ~4.5 KB per entry with
 * the helper's indexes (92 MB for 20,403 entries), so 8 KB per entry leaves room; at least 256 MiB.
 */
const maxsizeFor = (entries: number): number => Math.max(256 * 2 ** 20, Math.ceil((entries * 8192) / 2 ** 20) * 2 ** 20);

export async function startBenchDirectory(people: number): Promise<BenchDirectory> {
  const dir = mkdtempSync(join(tmpdir(), 'datasync-bench-ldif-'));
  const ldifFile = join(dir, 'directory.ldif');
  const entries = realisticEntryCount(people);
  try {
    const t0 = performance.now();
    console.error(`writing ${entries.toLocaleString('en')} entries of LDIF…`);
    await writeRealisticLdif(ldifFile, people);
    const bytes = statSync(ldifFile).size;
    console.error(`  ${(bytes / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s; slapadd and slapd start (a million entries take a minute or two)…`);
    const t1 = performance.now();
    const slapd = await startSlapd({ ldifFile, maxsize: maxsizeFor(entries) });
    console.error(`  slapd up after ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    rmSync(dir, { recursive: true, force: true });
    return {
      slapd,
      base: BASE_DN,
      entries,
      ldifBytesPerEntry: bytes / entries,
      dispose: () => slapd.dispose(),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
