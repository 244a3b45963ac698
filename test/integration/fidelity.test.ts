/**
 * Fidelity: the relay changes no byte of directory data (docs/protocol.md, "Entries"). A
 * generated directory of hostile-but-valid entries (test/fixtures/ldap/hostile.ts) is loaded
 * into slapd; what the hub's HTTP API returns for it — search through a worker thread and in the
 * agent's main thread, get by `dn` and by `dn;binary` — is compared byte for byte with what
 * `ldapsearch -LLL` says slapd holds, read through the contract by an independent oracle
 * (test/helpers/ldif-reference.ts). Then the search output is exported through the relay into
 * an empty slapd and `ldapsearch` of both servers must agree. Zero differences.
 */
import { isUtf8 } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTILE_DN, hostileDirectory, type HostileDirectory } from '../fixtures/ldap/hostile.js';
import { ldapsearch, startFidelityRelay, summarise, type FidelityRelay, type SearchOutput } from '../helpers/fidelity-relay.js';
import { attributeIdentity, compareDirectories, compareEntry, compareResults, dnDepth, dnText, relayDnBytes, type RawEntry } from '../helpers/ldif-reference.js';
import { makeEnv, type Env } from '../helpers/relay-env.js';
import { printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';

let env: Env;
let source: Slapd;
let target: Slapd;
let relay: FidelityRelay;
let hostile: HostileDirectory;
/** What slapd holds under HOSTILE_DN, by ldapsearch. */
let reference: RawEntry[];

printSlapdLogOnFailure(() => source, 60);

const sourceYaml = (name: string, slapd: Slapd, baseDN: string, workers: number, operations: string) => `  ${name}:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${slapd.adminPassword}
    baseDN: "${baseDN}"
    pageSize: 50
    searchWorkers: ${workers}
    operations: ${operations}
`;

beforeAll(async () => {
  env = makeEnv();
  const certificates = [env.pki.ca.certPem, env.pki.server.certPem, env.pki.client.certPem].map((pem) => new X509Certificate(pem).raw);
  hostile = hostileDirectory({ certificates });
  [source, target] = await Promise.all([startSlapd({ entries: 0, ldif: [hostile.ldif] }), startSlapd({ entries: 0 })]);
  // The round trip writes every entry: without a sync per transaction (slapd-mdb(5) `dbnosync`,
  // the database section ends slapd.conf) that measures the relay, not the disk.
  appendFileSync(join(target.dir, 'slapd.conf'), 'dbnosync\n');
  await target.stop();
  await target.start();
  reference = await ldapsearch(source, HOSTILE_DN);
  relay = await startFidelityRelay(
    env,
    `dataSources:
${sourceYaml('hostile', source, HOSTILE_DN, 1, '[get, search]')}${sourceYaml('hostile-inthread', source, HOSTILE_DN, 0, '[get, search]')}${sourceYaml('target', target, target.baseDN, 0, '[get, search, export]')}`,
    readFileSync(env.pki.ca.file),
  );
}, 60_000);

afterAll(async () => {
  await relay?.close();
  await Promise.all([source?.dispose(), target?.dispose()]);
  env?.cleanup();
});

/** The worker-thread search, made once and shared by the search and export tests. */
let searched: Promise<SearchOutput> | undefined;
const hostileSearch = () => (searched ??= relay.search('hostile', { base: HOSTILE_DN }));

function report(label: string, compared: { entries: number; values: number; bytes: number }): void {
  console.log(`[fidelity] ${label}: ${compared.entries} entries, ${compared.values} values, ${compared.bytes} bytes compared`);
}

describe('the hostile directory in slapd (the reference)', () => {
  it('holds every generated entry, and every class of hostile data the suite claims', () => {
    expect(reference).toHaveLength(hostile.entries.length);
    const values = reference.flatMap((e) => e.values);
    const starts = (prefix: number[]) => values.filter((v) => v.value.subarray(0, prefix.length).equals(Buffer.from(prefix)));
    expect(reference.filter((e) => !isUtf8(e.dn)).length).toBeGreaterThanOrEqual(20);
    expect(reference.filter((e) => dnText(e.dn).includes('\ufeff')).length).toBeGreaterThanOrEqual(5);
    expect(starts([0xef, 0xbb, 0xbf]).length).toBeGreaterThanOrEqual(10);
    expect(values.filter((v) => v.value.includes(0)).length).toBeGreaterThanOrEqual(5);
    expect(values.filter((v) => !isUtf8(v.value) && !/^(jpegphoto|usercertificate|userpkcs12|usersmimecertificate|audio)/i.test(v.description)).length).toBeGreaterThanOrEqual(20);
    expect(values.filter((v) => v.description.includes(';lang-')).length).toBeGreaterThanOrEqual(20);
    expect(values.filter((v) => v.description === 'userCertificate;binary').length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...values.map((v) => v.value.length))).toBeGreaterThanOrEqual(200 * 1024);
    expect(Math.max(...reference.map((e) => e.values.filter((v) => v.description === 'member').length))).toBe(5000);
    expect(reference.filter((e) => /[^\\]\+/.test(e.dn.toString('latin1').split(',')[0]!)).length).toBeGreaterThanOrEqual(20);
    // Runs: an attribute that comes back, after others, in the same entry (slapadd -q keeps them).
    const withRuns = reference.filter((e) => {
      const ids = e.values.map((v) => attributeIdentity(v.description));
      return ids.some((id, i) => i > 0 && ids[i - 1] !== id && ids.slice(0, i - 1).includes(id));
    });
    expect(withRuns.length).toBeGreaterThanOrEqual(20);
    console.log(
      `[fidelity] reference: ${reference.length} entries, ${values.length} values, ${values.reduce((n, v) => n + v.value.length, 0)} value bytes; ` +
        `${reference.filter((e) => !isUtf8(e.dn)).length} DNs not UTF-8, ${withRuns.length} entries with runs`,
    );
  });
});

describe('the relay over HTTP = ldapsearch, byte for byte', () => {
  it('search in a worker thread (searchWorkers: 1)', async () => {
    const out = await hostileSearch();
    expect(out.problems).toEqual([]);
    expect(out.last).toEqual({ end: true, count: reference.length, truncated: false });
    const { differences, compared } = compareResults(out.entries, reference);
    report('search, worker thread', compared);
    expect(summarise(differences)).toBe('0 differences');
  });

  it("search in the agent's main thread (searchWorkers: 0)", async () => {
    const out = await relay.search('hostile-inthread', { base: HOSTILE_DN });
    expect(out.problems).toEqual([]);
    const { differences, compared } = compareResults(out.entries, reference);
    report('search, main thread', compared);
    expect(summarise(differences)).toBe('0 differences');
  });

  it('get by dn and by dn;binary: every DN that is not UTF-8, every escaped, multi-valued or BOM RDN, the big entries', async () => {
    const sample = reference.filter((e, i) => !isUtf8(e.dn) || /\\|\+|\ufeff|\p{Cc}/u.test(dnText(e.dn).split(',')[0]!) || e.values.length > 150 || i % 25 === 0);
    const differences: string[] = [];
    const compared = { entries: 0, values: 0, bytes: 0 };
    for (const e of sample) {
      for (const params of [{ dn: dnText(e.dn) }, { 'dn;binary': e.dn.toString('base64') }]) {
        const res = await relay.get('hostile', params);
        if (res.status !== 200) differences.push(`get ${JSON.stringify(params)}: status ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
        else differences.push(...compareEntry(res.body['data'], e, compared).map((d) => `get by ${Object.keys(params)[0]}: ${d}`));
      }
    }
    report(`get (${sample.length} entries, twice)`, compared);
    expect(sample.filter((e) => !isUtf8(e.dn)).length).toBeGreaterThanOrEqual(20);
    expect(summarise(differences)).toBe('0 differences');
  });
});

describe('export round trip', () => {
  it('the search output exported into an empty slapd through the relay: ldapsearch of both servers agrees', async () => {
    const out = await hostileSearch();
    expect(out.problems).toEqual([]);
    const records = out.entries
      .map((entry, i) => {
        const e = entry as { dn: string; 'dn;binary'?: string; attributes: Record<string, unknown> };
        const dn = relayDnBytes(e)!;
        // Records name their target both ways: `dn` (hex-escaped where not UTF-8) or `dn;binary`
        // alone — for a seventh of the UTF-8 DNs too, below the subtree's root.
        const binary = e['dn;binary'] !== undefined ? i % 2 === 0 : i % 7 === 3 && dnDepth(dn) > 3;
        const target = binary ? { 'dn;binary': dn.toString('base64') } : { dn: e.dn };
        return { depth: dnDepth(dn), record: { op: 'add', ...target, attributes: e.attributes } };
      })
      .sort((a, b) => a.depth - b.depth)
      .map((r) => r.record);
    const res = await relay.export('target', records);
    expect(res.status).toBe(200);
    const failed = res.lines.filter((l) => l['ok'] === false);
    expect(summarise(failed.map((l) => `${dnText(relayDnBytes(records[l['index'] as number])!)}: ${JSON.stringify(l)}`))).toBe('0 differences');
    expect(res.lines.at(-1)).toMatchObject({ end: true, count: records.length, ok: records.length, failed: 0 });

    const copy = await ldapsearch(target, HOSTILE_DN);
    const { differences, reordered, compared } = compareDirectories(reference, copy);
    report('export round trip', compared);
    expect(summarise(differences)).toBe('0 differences');
    // slapd stores an add's values in the order given (checked: no attribute outside those below
    // came back reordered), so values under one key keep their order through the round trip.
    // Only an attribute whose values the relay split between `name` and `name;binary` is written
    // back as one attribute in key order, and may come back in another order than the source's.
    const split = new Set(
      out.entries.flatMap((entry) => {
        const keys = Object.keys((entry as { attributes: Record<string, unknown> }).attributes);
        const dn = relayDnBytes(entry)!;
        return keys.filter((k) => !k.endsWith(';binary') && keys.includes(`${k};binary`)).map((k) => `${JSON.stringify(dnText(dn))}: ${attributeIdentity(k)}`);
      }),
    );
    console.log(`[fidelity] export round trip: ${records.length} records; ${reordered.length} attributes reordered (${split.size} split between text and ;binary)`);
    expect(reordered.filter((r) => !split.has(r))).toEqual([]);
  });
});
