/**
 * The `type: sql` data source end to end, every component a real process: `datasync-hub` (TLS,
 * a hashed API token) and `datasync-agent` spawned from `dist/`, a private PostgreSQL seeded with
 * 100,000 generated people (test/fixtures/sql: keys beyond 2^53, exact decimals, bytea, hostile
 * strings), the agent connecting as the least-privilege database account with its password only
 * in the environment (`${E2E_SQL_PASSWORD}` in the YAML). Every request to the hub is made by a
 * `curl` process, as docs/http-api.md shows them: test, schema, get, search, export.
 *
 * What happened inside is read from the outside: the agent's keyset page queries are counted by
 * PostgreSQL itself (`pg_stat_statements`), its sessions seen in `pg_stat_activity`, the rows an
 * export wrote queried back. Each test starts its own hub and agent; the database is shared.
 * Figures worth quoting are printed as one `[e2e sql] …` line per scenario.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { groupsOfPerson, personId, personRow } from '../fixtures/sql/data.js';
import { PEOPLE_COLUMNS, WRITABLE_TABLE } from '../fixtures/sql/schema.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import type { Daemon } from '../helpers/cli.js';
import { contractFigures } from '../helpers/e2e/openapi-contract.js';
import { contractAt } from '../helpers/e2e/openapi-curl.js';
import { curlCall, curlStream, ndjsonLines, stableValue, type CurlAuth, type CurlReply } from '../helpers/e2e/sql-curl.js';
import { SQL_PASSWORD_ENV, sqlSource, startSqlDatabase, type SqlDatabase } from '../helpers/e2e/sql-database.js';
import { AGENT_PASSWORD, API_TOKEN, secretHashes, startAgentProcess, startHubProcess, writeHubConfig, type HubProcess, type StackEnv } from '../helpers/e2e/stack.js';

const ROWS = 100_000;
const PAGE_SIZE = 500;
/** Keyset paging: 200 full pages, then one query that finds no row (a full page may not be the last). */
const PAGE_QUERIES = ROWS / PAGE_SIZE + 1;
const SOURCE = 'hr';
/** Each test streams tens of MB through hub and agent on a shared 2-core machine: room to be slow. */
const TEST_TIMEOUT_MS = 180_000;

let dir: string;
let pki: TestPki;
let env: StackEnv;
let db: SqlDatabase;
let auth: CurlAuth;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-e2e-sql-'));
  pki = makeTestPki(join(dir, 'pki'));
  env = { dir, pki };
  auth = { caFile: pki.ca.file, token: API_TOKEN };
  const started = performance.now();
  [db] = await Promise.all([startSqlDatabase(ROWS), secretHashes()]);
  report(`PostgreSQL ${db.server.version} started and seeded with ${db.seed.people} people, ${db.seed.memberships} memberships in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}, 180_000);

afterAll(async () => {
  const figures = contractFigures();
  report(`OpenAPI contract: ${figures.responses} answers, ${figures.jsonBodies} JSON bodies, ${figures.ndjsonLines} NDJSON lines checked, ${figures.violations} violations`);
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Run after each test, last added first. */
const cleanups: Array<() => unknown> = [];
const daemons: Array<{ daemon: Daemon; name: string }> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  const exits = [];
  for (const d of daemons.splice(0).reverse()) exits.push({ ...d, code: await d.daemon.stop('SIGTERM') });
  expect(exits.map((e) => `${e.name}: exit ${e.code}`)).toEqual(exits.map((e) => `${e.name}: exit 0`));
  const errors = exits.flatMap((e) => e.daemon.logs.filter((r) => (r['level'] as number) >= 50).map((r) => `${e.name}: ${JSON.stringify(r)}`));
  expect(errors).toEqual([]);
  // The database password reaches the agent through its environment only: no log line has it.
  const secrets = [db.seed.agentPassword, db.server.superuserPassword, API_TOKEN, AGENT_PASSWORD];
  for (const e of exits) {
    const output = JSON.stringify(e.daemon.logs) + e.daemon.stderr();
    expect(secrets.filter((s) => output.includes(s)), e.name).toEqual([]);
  }
});

/** A hub and an agent offering `hr`, the SQL source on the private PostgreSQL. */
async function startStack(): Promise<HubProcess> {
  const hub = await startHubProcess(await writeHubConfig(env));
  daemons.push({ daemon: hub.daemon, name: 'hub' });
  const agent = await startAgentProcess(env, { id: 'site-sql', hubs: [hub], dataSources: sqlSource(SOURCE, db, PAGE_SIZE), env: { [SQL_PASSWORD_ENV]: db.seed.agentPassword } });
  daemons.push({ daemon: agent.daemon, name: 'agent' });
  return hub;
}

const url = (hub: HubProcess, op: string): string => `${hub.apiUrl}/v1/data-sources/${SOURCE}/${op}`;

/** curl's answer (status and body as curl saw them) checked against the hub's OpenAPI document. */
async function checked(hub: HubProcess, method: string, op: string, reply: Promise<CurlReply>): Promise<CurlReply> {
  const r = await reply;
  (await contractAt(hub.apiUrl, pki.ca.certPem)).text(method, `/v1/data-sources/${SOURCE}/${op}`, r.status, r.body);
  return r;
}
const json = ['-H', 'Content-Type: application/json'];
const report = (line: string): void => console.log(`[e2e sql] ${line}`);

/** A timestamp as compared: ISO with six fraction digits and `+00:00` (servers trim zeros). */
function instant(iso: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  return m === null ? `unparsable ${iso}` : `${m[1]}.${(m[2] ?? '').padEnd(6, '0')}${m[3] === 'Z' ? '+00:00' : m[3]}`;
}

/** The entry person `i` must read back as (docs/sql.md, lossless types), timestamps normalised. */
function expectedPerson(i: number): Record<string, unknown> {
  const p = personRow(i, ROWS);
  const a: Record<string, unknown[]> = { id: [p.id.toString()], login: [p.login], display_name: [p.displayName], active: [p.active], balance: [p.balance], created_at: [instant(p.createdAt)] };
  if (p.email !== null) a['email'] = [p.email];
  if (p.salary !== null) a['salary'] = [p.salary];
  if (p.photo !== null) a['photo;binary'] = [p.photo.toString('base64')];
  if (p.updatedAt !== null) a['updated_at'] = [instant(p.updatedAt)];
  if (p.profile !== null) a['profile'] = [p.profile];
  if (p.nicknames !== null && p.nicknames.length > 0) a['nicknames'] = [...p.nicknames];
  const groups = groupsOfPerson(i, ROWS).sort((x, y) => x - y);
  if (groups.length > 0) a['groups'] = groups;
  return { objectType: 'people', key: p.id.toString(), attributes: a };
}

function comparable(entry: Record<string, unknown>): Record<string, unknown> {
  const attributes = { ...(entry['attributes'] as Record<string, unknown[]>) };
  for (const k of ['created_at', 'updated_at']) if (attributes[k] !== undefined) attributes[k] = attributes[k].map((v) => instant(String(v)));
  return { ...entry, attributes };
}

describe('test, schema and get with curl', () => {
  it('1. test answers the server version; schema lists the mapped tables from the catalog; get reads rows losslessly, NOT_FOUND for a missing key', async () => {
    const hub = await startStack();

    const test = await checked(hub, 'POST', 'test', curlCall(auth, ['-X', 'POST', '-H', 'X-Request-Id: e2e-sql-test', url(hub, 'test')]));
    expect(test.status, test.body).toBe(200);
    const tested = JSON.parse(test.body) as { dataSource: string; requestId: string; data: Record<string, unknown> };
    expect(tested).toMatchObject({ dataSource: SOURCE, requestId: 'e2e-sql-test', data: { ok: true, server: `PostgreSQL ${db.server.version.split(' ')[0]}` } });
    expect(tested.data['latencyMs']).toEqual(expect.any(Number));

    const schema = await checked(hub, 'GET', 'schema', curlCall(auth, [url(hub, 'schema')]));
    expect(schema.status, schema.body).toBe(200);
    const catalog = (JSON.parse(schema.body) as { data: { dialect: string; tables: Array<{ table: string; columns: Array<{ name: string; type: string; primaryKey: boolean; nullable: boolean }> }> } }).data;
    expect(catalog.dialect).toBe('postgres');
    const tables = Object.fromEntries(catalog.tables.map((t) => [t.table.replace(/^public\./, ''), t.columns]));
    expect(Object.keys(tables).sort()).toEqual(['group_members', 'people', WRITABLE_TABLE].sort());
    expect(tables['people']!.map((c) => c.name)).toEqual([...PEOPLE_COLUMNS]);
    expect(tables['people']!.find((c) => c.name === 'id')).toMatchObject({ type: 'bigint', primaryKey: true, nullable: false });
    expect(tables['people']!.find((c) => c.name === 'photo')).toMatchObject({ type: 'bytea', primaryKey: false, nullable: true });

    // Row 50: key beyond 2^53, NULL photo (absent). Row 3: a hostile display name, non-UTF-8 bytes.
    const got: string[] = [];
    for (const i of [50, 3, ROWS]) {
      const key = personId(i, ROWS).toString();
      const r = await checked(hub, 'POST', 'get', curlCall(auth, [...json, '-d', JSON.stringify({ objectType: 'people', key }), url(hub, 'get')]));
      expect(r.status, r.body).toBe(200);
      const entry = (JSON.parse(r.body) as { data: Record<string, unknown> }).data;
      expect(comparable(entry)).toEqual(expectedPerson(i));
      // The key travels as the exact decimal text, never through a double.
      expect(r.body).toContain(`"key":"${key}"`);
      got.push(key);
    }
    const missing = await checked(hub, 'POST', 'get', curlCall(auth, [...json, '-d', JSON.stringify({ objectType: 'people', key: '4' + '0'.repeat(15) }), url(hub, 'get')]));
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ code: 'NOT_FOUND', retryable: false });
    report(
      `test: ${String(tested.data['server'])} in ${String(tested.data['latencyMs'])} ms; schema: ${catalog.tables.length} tables (${catalog.tables.map((t) => `${t.table} ${t.columns.length} columns`).join(', ')}); ` +
        `get of keys ${got.join(', ')} equal to the generated rows; missing key → ${missing.status} NOT_FOUND`,
    );
  }, TEST_TIMEOUT_MS);
});

describe('a 100,000-row search read slowly with curl', () => {
  it('2. curl stopped after the first lines: the page queries stop short (pg_stat_statements), no transaction is held; resumed, every row in key order and the summary', async () => {
    const hub = await startStack();
    const before = await db.pageQueries();
    const pageQueries = async (): Promise<number> => (await db.pageQueries()) - before;
    let previous = -1n;
    let ordered = true;
    let entries = 0;
    // Each line is checked against the hub's OpenAPI document as curl delivers it.
    const searchLine = (await contractAt(hub.apiUrl, pki.ca.certPem)).lines('POST', `/v1/data-sources/${SOURCE}/search`);
    const stream = curlStream(auth, [...json, '-H', 'X-Request-Id: e2e-sql-slow', '-d', JSON.stringify({ objectType: 'people' }), url(hub, 'search')], (line) => {
      if (searchLine(line) !== 'SearchEntry') return;
      const key = BigInt(line['key'] as string);
      if (key <= previous) ordered = false;
      previous = key;
      entries += 1;
    });
    cleanups.push(() => stream.kill());

    await stream.waitForLines(1, 60_000);
    stream.pause();
    const linesAtPause = stream.lines;
    const queriesAtPause = await pageQueries();
    // Pages go on until every buffer on the way is full (agent credit, hub, TLS, TCP, curl's
    // pipe); then the agent has no credit and queries nothing more.
    const stopped = await stableValue(pageQueries, { polls: 8, intervalMs: 500, timeoutMs: 90_000 });
    const sessions = await db.sessions();
    expect(sessions['idle in transaction'] ?? 0, JSON.stringify(sessions)).toBe(0);
    expect(sessions['active'] ?? 0, JSON.stringify(sessions)).toBe(0);
    expect(stopped).toBeGreaterThan(0);
    expect(stopped).toBeLessThan(PAGE_QUERIES / 2);
    const linesWhilePaused = stream.lines;

    stream.resume();
    const end = await stream.done;
    expect(end.code, end.stderr).toBe(0);
    expect(end.last).toEqual({ end: true, count: ROWS, truncated: false });
    expect(end.lines).toBe(ROWS + 1);
    expect(entries).toBe(ROWS);
    expect(ordered).toBe(true);
    expect(previous).toBe(personId(ROWS, ROWS));
    const total = await pageQueries();
    expect(total).toBe(PAGE_QUERIES);
    const after = await db.sessions();
    expect(after['idle in transaction'] ?? 0).toBe(0);
    report(
      `slow search: ${ROWS} rows, pageSize ${PAGE_SIZE}; curl SIGSTOPped after ${linesAtPause} lines (${queriesAtPause} page queries then); ` +
        `page queries stopped at ${stopped} of ${PAGE_QUERIES} (unchanged over 8 polls), ${linesWhilePaused} lines delivered; agent sessions while stopped ${JSON.stringify(sessions)}; ` +
        `SIGCONT → ${end.lines - 1} entry lines in key order + ${JSON.stringify(end.last)}, ${total} page queries in total`,
    );
  }, TEST_TIMEOUT_MS);
});

describe('an export with curl', () => {
  it('3. five inserts, the third violating a CHECK constraint: per-record results in order, the third CONSTRAINT_VIOLATION, the others in the table', async () => {
    const hub = await startStack();
    const keys = [900_001, 900_002, 900_003, 900_004, 900_005];
    const records = keys.map((id, i) => ({
      op: 'insert',
      objectType: 'accounts',
      key: String(id),
      attributes: {
        login: `e2e-${id}`,
        // The CHECK of provisioned_accounts: an email must contain '@'.
        email: i === 2 ? 'no-at-sign.example.test' : `e2e-${id}@example.test`,
        display_name: [`E2E ${id}`],
        'photo;binary': [Buffer.from([0xff, 0x00, i]).toString('base64')],
      },
    }));
    const body = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const r = await checked(hub, 'POST', 'export', curlCall(auth, ['-H', 'Content-Type: application/x-ndjson', '-H', 'X-Request-Id: e2e-sql-export', '--data-binary', '@-', url(hub, 'export')], body));
    expect(r.status, r.body).toBe(200);
    const lines = ndjsonLines(r.body);
    expect(lines).toHaveLength(keys.length + 1);
    expect(lines.slice(0, keys.length).map((l) => [l['index'], l['ok']])).toEqual(keys.map((_, i) => [i, i !== 2]));
    for (const i of [0, 1, 3, 4]) expect(lines[i]).toEqual({ index: i, ok: true, data: { action: 'inserted' } });
    expect(lines[2]).toMatchObject({ index: 2, ok: false, code: 'CONSTRAINT_VIOLATION', retryable: false });
    expect(lines[keys.length]).toEqual({ end: true, count: 5, ok: 4, failed: 1 });

    const rows = (await db.sql(`SELECT id, login, email, display_name, encode(photo, 'hex') FROM ${WRITABLE_TABLE} WHERE id BETWEEN 900001 AND 900005 ORDER BY id;`))
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(rows).toEqual([0, 1, 3, 4].map((i) => [String(keys[i]), `e2e-${keys[i]}`, `e2e-${keys[i]}@example.test`, `E2E ${keys[i]}`, `ff00${i.toString(16).padStart(2, '0')}`]));
    report(
      `export: ${keys.length} inserts → results ${lines
        .slice(0, keys.length)
        .map((l) => (l['ok'] ? `${String(l['index'])} ok` : `${String(l['index'])} ${String(l['code'])}`))
        .join(', ')}; end ${JSON.stringify(lines[keys.length])}; rows in ${WRITABLE_TABLE}: ${rows.map((row) => row[0]).join(', ')}`,
    );
  }, TEST_TIMEOUT_MS);
});
