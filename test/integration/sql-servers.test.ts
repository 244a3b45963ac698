/**
 * The private database servers the SQL data source tests run against (test/helpers/postgres.ts,
 * test/helpers/mariadb.ts) and their seed data (test/fixtures/sql/): both start on loopback high
 * ports under temporary directories, load the same 1,200 generated people, read every row back
 * unchanged through their own command-line clients, enforce the agent account's least privilege,
 * log every statement (PostgreSQL's `log_statement`, extended-protocol parameters included;
 * MariaDB's general log), and stop by pid leaving no process and no directory behind.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariadb, type MariadbServer } from '../helpers/mariadb.js';
import { postgresBinDir, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { groupCount, groupRow, membershipCount, personRow, type PersonRow } from '../fixtures/sql/data.js';
import { FORBIDDEN_TABLE } from '../fixtures/sql/schema.js';
import { seedMariadb, seedPostgres, type SeededData } from '../fixtures/sql/seed.js';
import { processExists, runClient } from '../fixtures/sql/server-process.js';

const ROWS = 1200;
let pg: PostgresServer;
let maria: MariadbServer;
let pgSeed: SeededData;
let mariaSeed: SeededData;

beforeAll(async () => {
  [pg, maria] = await Promise.all([startPostgres(), startMariadb()]);
  [pgSeed, mariaSeed] = await Promise.all([seedPostgres(pg, { rows: ROWS }), seedMariadb(maria, { rows: ROWS })]);
});
afterAll(async () => {
  await Promise.all([pg?.stop(), maria?.stop()]);
});

/** A row as both servers are asked to render it: exact text for numbers and times, hex bytes. */
function expected(p: PersonRow): Record<string, unknown> {
  return {
    id: p.id.toString(),
    login: p.login,
    display_name: p.displayName,
    email: p.email,
    active: p.active,
    salary: p.salary,
    balance: p.balance,
    photo: p.photo?.toString('hex') ?? null,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    profile: p.profile,
    nicknames: p.nicknames,
  };
}

/** One JSON object per output line; JSON held as text (MariaDB) parsed, 0/1 booleans as booleans. */
function rowsOf(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const row = JSON.parse(l) as Record<string, unknown>;
      for (const k of ['profile', 'nicknames']) if (typeof row[k] === 'string') row[k] = JSON.parse(row[k]);
      row['active'] = Boolean(row['active']);
      return row;
    });
}

const expectedRows = (): Record<string, unknown>[] =>
  Array.from({ length: ROWS }, (_, i) => personRow(i + 1, ROWS))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map(expected);

describe('PostgreSQL', () => {
  it('runs the installed server, not the system service, on a loopback high port', async () => {
    expect(pg.version).toMatch(/^\d+\.\d+/);
    expect(pg.port).toBeGreaterThan(1024);
    expect(await pg.sql(`SELECT current_setting('data_directory'), current_setting('TimeZone'), inet_server_addr();`)).toBe(
      `${join(pg.dir, 'data')}\tUTC\t127.0.0.1\n`,
    );
  });

  it('holds the seeded counts', async () => {
    expect(pgSeed).toMatchObject({ people: ROWS, groups: groupCount(ROWS), memberships: membershipCount(ROWS) });
    const counts = await pg.sql('SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM groups), (SELECT count(*) FROM group_members);');
    expect(counts).toBe(`${ROWS}\t${groupCount(ROWS)}\t${membershipCount(ROWS)}\n`);
  });

  it('reads every row back exactly as generated', async () => {
    const out = await pg.sql(`
      SELECT json_build_object(
        'id', id::text, 'login', login, 'display_name', display_name, 'email', email, 'active', active,
        'salary', salary::text, 'balance', balance::text, 'photo', encode(photo, 'hex'),
        'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'profile', profile, 'nicknames', nicknames)
      FROM people ORDER BY id;`);
    expect(rowsOf(out)).toEqual(expectedRows());
    expect(await pg.sql('SELECT name FROM groups WHERE id = 3;')).toBe(`${groupRow(3).name}\n`);
  });

  it('gives the agent account exactly its grants', async () => {
    const agent = { user: pgSeed.agentUser, password: pgSeed.agentPassword };
    expect(await pg.sql('SELECT count(*) FROM active_people;', agent)).toMatch(/^\d+\n$/);
    await pg.sql(`INSERT INTO provisioned_accounts (id, login, email) VALUES (1, 'a', 'a@x'); DELETE FROM provisioned_accounts WHERE id = 1;`, agent);
    const secret = await pg.trySql(`SELECT * FROM ${FORBIDDEN_TABLE};`, agent);
    expect(secret.stderr).toContain('permission denied');
    const write = await pg.trySql(`DELETE FROM people WHERE id = 1;`, agent);
    expect(write.stderr).toContain('permission denied');
    const wrongPassword = await pg.trySql('SELECT 1;', { ...agent, password: 'wrong' });
    expect(wrongPassword.stderr).toContain('password authentication failed');
  });

  it('logs simple queries, and extended-protocol executions with their parameters apart', async () => {
    const from = pg.statementLogSize();
    await pg.sql(`SELECT 'marker-simple-query';`, { user: pgSeed.agentUser, password: pgSeed.agentPassword });
    // pgbench -M extended sends the script's :variables as bound parameters (Parse/Bind/Execute).
    const script = join(pg.dir, 'bound.sql');
    await pg.sql(`\\o ${script}\n\\qecho '\\\\set k 4242'\n\\qecho 'SELECT login FROM people WHERE id = :k;'`);
    const bench = await runClient(
      join(postgresBinDir(), 'pgbench'),
      ['-n', '-t', '1', '-M', 'extended', '-f', script, '-h', pg.host, '-p', String(pg.port), '-U', pg.superuser, pg.database],
      { PGPASSWORD: pg.superuserPassword },
    );
    expect(bench.code, bench.stderr).toBe(0);

    expect(pg.statementLog(from)).toContain(`statement: SELECT 'marker-simple-query';`);
    const entries = pg.statements(from);
    expect(entries).toContainEqual(
      expect.objectContaining({ kind: 'statement', user: pgSeed.agentUser, database: pg.database, text: `SELECT 'marker-simple-query';` }),
    );
    const bound = entries.find((e) => e.kind === 'execute' && e.text.includes('FROM people WHERE id = $1'));
    expect(bound).toMatchObject({ user: pg.superuser, parameters: `$1 = '4242'` });
    expect(entries.filter((e) => e.text.includes('4242'))).toEqual([]);
  });
});

describe('MariaDB', () => {
  it('runs the installed server, not the system service, on a loopback high port', async () => {
    expect(maria.version).toContain('MariaDB');
    expect(maria.port).toBeGreaterThan(1024);
    expect(await maria.sql('SELECT @@datadir, @@time_zone, @@bind_address, @@log_bin, @@general_log;')).toBe(
      `${join(maria.dir, 'data')}/\t+00:00\t127.0.0.1\t0\t1\n`,
    );
  });

  it('holds the seeded counts', async () => {
    expect(mariaSeed).toMatchObject({ people: ROWS, groups: groupCount(ROWS), memberships: membershipCount(ROWS) });
    const counts = await maria.sql('SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM `groups`), (SELECT count(*) FROM group_members);');
    expect(counts).toBe(`${ROWS}\t${groupCount(ROWS)}\t${membershipCount(ROWS)}\n`);
  });

  it('reads every row back exactly as generated', async () => {
    const out = await maria.sql(`
      SELECT JSON_OBJECT(
        'id', CAST(id AS CHAR), 'login', login, 'display_name', display_name, 'email', email, 'active', active,
        'salary', CAST(salary AS CHAR), 'balance', CAST(balance AS CHAR), 'photo', LOWER(HEX(photo)),
        'created_at', DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
        'updated_at', DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
        'profile', profile, 'nicknames', nicknames)
      FROM people ORDER BY id;`);
    expect(rowsOf(out)).toEqual(expectedRows());
    expect(await maria.sql('SELECT name FROM `groups` WHERE id = 3;')).toBe(`${groupRow(3).name}\n`);
  });

  it('gives the agent account exactly its grants', async () => {
    const agent = { user: mariaSeed.agentUser, password: mariaSeed.agentPassword };
    expect(await maria.sql('SELECT count(*) FROM active_people;', agent)).toMatch(/^\d+\n$/);
    await maria.sql(`INSERT INTO provisioned_accounts (id, login, email) VALUES (1, 'a', 'a@x'); DELETE FROM provisioned_accounts WHERE id = 1;`, agent);
    const secret = await maria.trySql(`SELECT * FROM ${FORBIDDEN_TABLE};`, agent);
    expect(secret.stderr).toContain('command denied');
    const write = await maria.trySql(`DELETE FROM people WHERE id = 1;`, agent);
    expect(write.stderr).toContain('command denied');
    const wrongPassword = await maria.trySql('SELECT 1;', { ...agent, password: 'wrong' });
    expect(wrongPassword.stderr).toContain('Access denied');
  });

  it('logs every statement in the general log', async () => {
    const from = maria.statementLogSize();
    await maria.sql(`SELECT 'marker-general-log';`, { user: mariaSeed.agentUser, password: mariaSeed.agentPassword });
    expect(maria.statementLog(from)).toContain(`SELECT 'marker-general-log'`);
    const entries = maria.statements(from);
    const connect = entries.find((e) => e.command === 'Connect' && e.text.startsWith(`${mariaSeed.agentUser}@127.0.0.1 `));
    expect(connect).toBeDefined();
    const query = entries.find((e) => e.command === 'Query' && e.text === `SELECT 'marker-general-log'`);
    expect(query).toBeDefined();
  });
});

describe('stopping', () => {
  it('ends each server by pid and removes its directory', async () => {
    const servers = [pg, maria];
    for (const s of servers) expect(processExists(s.pid)).toBe(true);
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of servers) {
      expect(processExists(s.pid)).toBe(false);
      expect(existsSync(s.dir)).toBe(false);
    }
    // Nothing answers on the ports any more.
    expect((await pg.trySql('SELECT 1;')).code).not.toBe(0);
    expect((await maria.trySql('SELECT 1;')).code).not.toBe(0);
    // Idempotent: afterAll stops again.
    await Promise.all(servers.map((s) => s.stop()));
  });
});
