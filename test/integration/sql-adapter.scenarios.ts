/**
 * The integration scenarios of the `type: sql` adapter, run by sql-adapter.postgres.test.ts and
 * sql-adapter.mysql.test.ts against a private server each (test/helpers/postgres.ts,
 * mariadb.ts) seeded with the generated people of test/fixtures/sql: lossless values compared
 * with the generator's own rows, filters against counts computed from the same rows, keyset
 * paging, cancel of a running page query (seen in the server's own activity list), coded
 * errors, export, and filter/key injection attempts checked in the server's statement log.
 */
import fc from 'fast-check';
import pino from 'pino';
import { firstValueFrom, lastValueFrom, from, toArray, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOrThrow, isProtocolError, JsonBatch, type DataSourceAdapter, type ExportResult, type OperationContext, type PageSource } from '../../src/adapter-kit/index.js';
import { SqlSettings, type SqlConfig } from '../../src/adapters/sql/config.js';
import { sqlDataSource } from '../../src/adapters/sql/definition.js';
import type { SqlEntry } from '../../src/adapters/sql/entries.js';
import { groupsOfPerson, personRow, type PersonRow } from '../fixtures/sql/data.js';
import { FORBIDDEN_TABLE } from '../fixtures/sql/schema.js';

export interface SqlTarget {
  readonly dialect: 'postgres' | 'mysql';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly rows: number;
  readonly agentUser: string;
  readonly agentPassword: string;
  /** Runs SQL as the superuser (tab-separated output). */
  superSql(text: string): Promise<string>;
  /** The SQL texts the server received as text since `from` (bound values excluded). */
  sqlTexts(from: number): string[];
  /** Every statement execution logged since `from` (a prepared statement is prepared once, executed often). */
  executions(from: number): string[];
  logSize(): number;
  /** How many sessions are running a statement containing `marker` now. */
  running(marker: string): Promise<number>;
  /** A read-only query whose every row takes long (the cancel scenario). */
  readonly slowQuery: string;
  /** `active` as the dialect reads it. */
  readonly bool: (b: boolean) => unknown;
  /** Filter value of `active = true`. */
  readonly trueText: string;
}

export const log = pino({ level: 'silent' });
let nextId = 0;
export const ctx = (): OperationContext => ({ requestId: `r${++nextId}`, dataSource: 'db', log });

export function configOf(target: SqlTarget, extra: Record<string, unknown> = {}): SqlConfig {
  const settings = decodeOrThrow(
    SqlSettings,
    {
      type: 'sql',
      dialect: target.dialect,
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.agentUser,
      password: target.agentPassword,
      pageSize: 100,
      poolSize: 2,
      objectTypes: {
        people: {
          table: 'people',
          key: 'id',
          multiValued: { groups: { table: 'group_members', foreignKey: 'person_id', column: 'group_id' }, nicknames: { arrayColumn: 'nicknames' } },
        },
        active: { query: 'SELECT id, login, email FROM active_people', key: 'id', attributes: { uid: 'login', mail: 'email' } },
        accounts: { table: 'provisioned_accounts', key: 'id' },
        slow: { query: target.slowQuery, key: 'id' },
      },
      ...extra,
    },
    'settings',
  );
  return { ...settings, operations: ['test', 'attributes', 'schema', 'get', 'search', 'export'] };
}

/** Every page of a search, and how many pulls it took. */
export async function readAll(source: PageSource<unknown>): Promise<{ items: SqlEntry[]; pulls: number }> {
  const items: SqlEntry[] = [];
  let pulls = 0;
  try {
    for (;;) {
      pulls += 1;
      const page = await firstValueFrom(source.pull());
      // The SQL search's pages are JsonBatches (entries already serialised); anything else, values.
      const pageItems: unknown = page.items;
      items.push(...(pageItems instanceof JsonBatch ? pageItems.texts().map((text) => JSON.parse(text) as SqlEntry) : (pageItems as SqlEntry[])));
      if (page.last) return { items, pulls };
    }
  } finally {
    source.close();
  }
}

export async function failure(o: Observable<unknown> | (() => unknown)): Promise<{ code: string; details: unknown; message: string }> {
  try {
    if (typeof o === 'function') await Promise.resolve(o());
    else await lastValueFrom(o);
  } catch (err) {
    if (!isProtocolError(err)) throw err;
    return { code: err.code, details: (err as { context?: { details?: unknown } }).context?.details, message: err.message };
  }
  throw new Error('expected a failure');
}

/** A timestamp as compared: ISO with six fraction digits and `+00:00`. */
function instant(iso: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (m === null) return `unparsable ${iso}`;
  return `${m[1]}.${(m[2] ?? '').padEnd(6, '0')}${m[3] === 'Z' ? '+00:00' : m[3]}`;
}

/** What the entry of person row `p` must be. */
export function expectedEntry(target: SqlTarget, i: number): SqlEntry {
  const p: PersonRow = personRow(i, target.rows);
  const a: Record<string, unknown[]> = {
    id: [p.id.toString()],
    login: [p.login],
    display_name: [p.displayName],
    active: [target.bool(p.active)],
    balance: [p.balance],
    created_at: [instant(p.createdAt)],
  };
  if (p.email !== null) a['email'] = [p.email];
  if (p.salary !== null) a['salary'] = [p.salary];
  if (p.photo !== null) a['photo;binary'] = [p.photo.toString('base64')];
  if (p.updatedAt !== null) a['updated_at'] = [instant(p.updatedAt)];
  if (p.profile !== null) a['profile'] = [p.profile];
  if (p.nicknames !== null && p.nicknames.length > 0) a['nicknames'] = [...p.nicknames];
  const groups = groupsOfPerson(i, target.rows).sort((x, y) => x - y);
  if (groups.length > 0) a['groups'] = groups;
  return { objectType: 'people', key: p.id.toString(), attributes: a };
}

/** Timestamps normalised (servers print fractions differently; the instant must be exact). */
function comparable(e: SqlEntry): SqlEntry {
  const attributes = { ...e.attributes };
  for (const k of ['created_at', 'updated_at']) if (attributes[k] !== undefined) attributes[k] = attributes[k].map((v) => instant(String(v)));
  return { ...e, attributes };
}

const people = (target: SqlTarget): PersonRow[] => Array.from({ length: target.rows }, (_, i) => personRow(i + 1, target.rows));

export function sqlAdapterScenarios(start: () => Promise<SqlTarget>, stop: () => Promise<void>): void {
  let target: SqlTarget;
  let adapter: DataSourceAdapter;

  beforeAll(async () => {
    target = await start();
    adapter = sqlDataSource.create('db', configOf(target), log);
  });
  afterAll(async () => {
    await adapter?.close();
    await stop();
  });

  describe('test', () => {
    it('connects, names the server and reads every object type', async () => {
      const r = (await firstValueFrom(adapter.test(ctx()))) as Record<string, unknown>;
      expect(r['ok']).toBe(true);
      expect(String(r['server'])).toMatch(target.dialect === 'postgres' ? /^PostgreSQL \d+\.\d+/ : /^MariaDB \d+\.\d+/);
      expect(r['objectTypes']).toEqual(['people', 'active', 'accounts', 'slow']);
    });

    it('answers coded errors: wrong password, unknown database, missing table, no privilege', async () => {
      const make = (extra: Record<string, unknown>): DataSourceAdapter => sqlDataSource.create('db', configOf(target, extra), log);
      const cases: [Record<string, unknown>, string, string][] = [
        [{ password: 'not-the-password' }, 'UPSTREAM_AUTH_FAILED', 'authentication'],
        // MariaDB does not tell a user without privileges that a database is missing (1044).
        [{ database: 'no_such_db' }, target.dialect === 'postgres' ? 'NOT_FOUND' : 'UPSTREAM_AUTH_FAILED', target.dialect === 'postgres' ? 'unknown-database' : 'permission'],
        // MariaDB answers a user without privileges on a missing table "SELECT command denied" (1142).
        [{ objectTypes: { t: { table: 'no_such_table', key: 'id' } } }, target.dialect === 'postgres' ? 'NOT_FOUND' : 'UPSTREAM_AUTH_FAILED', target.dialect === 'postgres' ? 'unknown-table' : 'permission'],
        [{ objectTypes: { t: { table: FORBIDDEN_TABLE, key: 'person_id' } } }, 'UPSTREAM_AUTH_FAILED', 'permission'],
      ];
      for (const [extra, code, reason] of cases) {
        const a = make(extra);
        try {
          const f = await failure(a.test(ctx()));
          expect(f.code, JSON.stringify(extra)).toBe(code);
          if (reason !== '') expect((f.details as { reason?: string }).reason).toBe(reason);
          expect(f.message).not.toContain(target.agentPassword);
        } finally {
          await a.close();
        }
      }
    });
  });

  describe('get and lossless values', () => {
    it('reads rows exactly as the generator wrote them (big keys, decimals, bytes, microseconds, JSON, lists, NULLs absent)', async () => {
      for (const i of [1, 3, 5, 7, 9, 13, 17, 50, 100, 250, target.rows]) {
        const key = personRow(i, target.rows).id.toString();
        const entry = (await firstValueFrom(adapter.get!({ objectType: 'people', key }, ctx()))) as SqlEntry;
        expect(comparable(entry), `row ${i}`).toEqual(expectedEntry(target, i));
        for (const ts of entry.attributes['created_at'] ?? []) expect(String(ts)).toMatch(/T\d\d:\d\d:\d\d(\.\d+)?\+00:00$/);
      }
    });

    it('NOT_FOUND for a missing key, BAD_REQUEST for an unknown object type', async () => {
      expect((await failure(adapter.get!({ objectType: 'people', key: '424242' }, ctx()))).code).toBe('NOT_FOUND');
      expect((await failure(adapter.get!({ objectType: 'nope', key: '1' }, ctx()))).code).toBe('BAD_REQUEST');
    });
  });

  describe('search', () => {
    it('pages through every row in key order, one statement per pull', async () => {
      const before = target.logSize();
      const { items, pulls } = await readAll(adapter.search!({ objectType: 'people' }, ctx()) as PageSource<unknown>);
      expect(items).toHaveLength(target.rows);
      expect(pulls).toBe(Math.floor(target.rows / 100) + 1);
      const keys = items.map((e) => BigInt(e.key));
      expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(new Set(items.map((e) => e.key)).size).toBe(target.rows);
      const pageQueries = target.executions(before).filter((t) => /FROM\s+\S*people\S* AS s/.test(t) && /ORDER BY/.test(t));
      // One page statement per pull (the last pull, after a short page, asks nothing).
      expect(pageQueries).toHaveLength(pulls);
      expect(comparable(items[2]!)).toEqual(expectedEntry(target, 3));
    });

    const count = async (filter: string, objectType = 'people'): Promise<number> =>
      (await readAll(adapter.search!({ objectType, filter }, ctx()) as PageSource<unknown>)).items.length;

    it('filters as LDAP filters: and, or, not, presence, ranges, substrings, multi-valued', async () => {
      const rows = people(target);
      const n = (pred: (p: PersonRow, i: number) => boolean): number => rows.filter((p, i) => pred(p, i + 1)).length;
      expect(await count('(email=*)')).toBe(n((p) => p.email !== null));
      expect(await count('(!(email=*))')).toBe(n((p) => p.email === null));
      expect(await count(`(&(active=${target.trueText})(|(login=user00001*)(login=user0002*)))`)).toBe(
        n((p) => p.active && (p.login.startsWith('user00001') || p.login.startsWith('user0002'))),
      );
      expect(await count('(&(login>=user000100)(login<=user000199))')).toBe(100);
      expect(await count('(display_name=*percent % and underscore _*)')).toBe(n((p) => p.displayName.includes('percent % and underscore _')));
      expect(await count('(display_name=*\\2a*)')).toBe(n((p) => p.displayName.includes('*')));
      expect(await count('(groups=3)')).toBe(n((_p, i) => groupsOfPerson(i, target.rows).includes(3)));
      expect(await count('(!(groups=*))')).toBe(n((_p, i) => groupsOfPerson(i, target.rows).length === 0));
      expect(await count('(nicknames=a,b)')).toBe(n((p) => p.nicknames?.includes('a,b') === true));
      expect(await count('(uid=user00000*)', 'active')).toBe(n((p, i) => p.active && i < 10));
    });

    it('refuses an unknown attribute and a malformed filter with BAD_REQUEST', async () => {
      expect((await failure(() => readAll(adapter.search!({ objectType: 'people', filter: '(nosuch=1)' }, ctx()) as PageSource<unknown>))).code).toBe('BAD_REQUEST');
      expect((await failure(() => adapter.search!({ objectType: 'people', filter: '(&(a=1)' }, ctx()))).code).toBe('BAD_REQUEST');
      expect((await failure(() => adapter.search!({ objectType: 'people', filter: '(login~=x)' }, ctx()))).code).toBe('BAD_REQUEST');
    });

    it('close() cancels a running page query on the server', async () => {
      const source = adapter.search!({ objectType: 'slow' }, ctx()) as PageSource<unknown>;
      const sub = source.pull().subscribe({ error: () => undefined });
      const marker = target.dialect === 'postgres' ? 'pg_sleep' : 'SLEEP(';
      while ((await target.running(marker)) === 0) await new Promise((r) => setImmediate(r));
      source.close();
      sub.unsubscribe();
      while ((await target.running(marker)) > 0) await new Promise((r) => setImmediate(r));
      expect(await target.running(marker)).toBe(0);
    });
  });

  describe('attributes and schema', () => {
    it('describes the mapped attributes from the catalog', async () => {
      const r = (await firstValueFrom(adapter.attributes!(ctx()))) as { objectTypes: Record<string, { key: string; attributes: { name: string; singleValue: boolean; required?: boolean; syntax?: string }[] }> };
      const people = r.objectTypes['people']!;
      expect(people.key).toBe('id');
      const byName = new Map(people.attributes.map((a) => [a.name, a]));
      expect(byName.get('login')).toMatchObject({ singleValue: true, required: true });
      expect(byName.get('email')).toMatchObject({ singleValue: true, required: false });
      expect(byName.get('groups')).toMatchObject({ singleValue: false });
      expect(byName.get('nicknames')).toMatchObject({ singleValue: false });
      expect(byName.has('photo;binary')).toBe(true);
      // A query-mapped type with configured attributes has exactly those (the key column is not one).
      expect(r.objectTypes['active']!.attributes.map((a) => a.name)).toEqual(['mail', 'uid']);
      const schema = (await firstValueFrom(adapter.schema!(ctx()))) as { tables: { table: string; columns: { name: string; primaryKey: boolean }[] }[] };
      expect(schema.tables.find((t) => t.table === 'people')?.columns.find((c) => c.name === 'id')?.primaryKey).toBe(true);
    });
  });

  describe('export', () => {
    const run = (records: unknown[]): Promise<ExportResult[]> => lastValueFrom(adapter.export!(from(records), ctx()).pipe(toArray()));

    it('writes each record in its own transaction, goes on after a failure, maps constraint errors', async () => {
      const photo = Buffer.from([0, 0xff, 0x80, 0x0a]).toString('base64');
      const results = await run([
        { op: 'insert', objectType: 'accounts', key: '9007199254740993', attributes: { login: ['ada'], email: 'ada@x.test', salary: '12345.67', 'photo;binary': [photo], profile: [{ a: [1, 'two'] }] } },
        { op: 'insert', objectType: 'accounts', key: '9007199254740993', attributes: { login: 'ada2' } },
        { op: 'insert', objectType: 'accounts', key: '2', attributes: { login: 'bob', email: 'no-at-sign' } },
        { op: 'update', objectType: 'accounts', key: '3', attributes: { login: 'carl' } },
        { op: 'upsert', objectType: 'accounts', key: '4', attributes: { login: 'dora' } },
        { op: 'upsert', objectType: 'accounts', key: '4', attributes: { login: 'dora2' } },
        { op: 'update', objectType: 'accounts', key: '9007199254740993', attributes: { display_name: ['Ada L.'] } },
        { op: 'insert', objectType: 'active', key: '5', attributes: { uid: 'x' } },
        { op: 'insert', objectType: 'accounts', key: '6', attributes: { nosuch: 'x' } },
        { op: 'delete', objectType: 'accounts', key: '4' },
        { op: 'delete', objectType: 'accounts', key: '4' },
      ]);
      expect(results.map((r) => (r.ok ? (r.data as { action: string }).action : r.code))).toEqual([
        'inserted',
        'ALREADY_EXISTS',
        'CONSTRAINT_VIOLATION',
        'NOT_FOUND',
        'inserted',
        'updated',
        'updated',
        'OPERATION_NOT_ALLOWED',
        'BAD_REQUEST',
        'deleted',
        'NOT_FOUND',
      ]);
      const entry = (await firstValueFrom(adapter.get!({ objectType: 'accounts', key: '9007199254740993' }, ctx()))) as SqlEntry;
      expect(entry.attributes).toMatchObject({ id: ['9007199254740993'], login: ['ada'], email: ['ada@x.test'], salary: ['12345.67'], 'photo;binary': [photo], profile: [{ a: [1, 'two'] }], display_name: ['Ada L.'] });
      expect(await target.superSql("SELECT count(*) FROM provisioned_accounts WHERE id IN (2, 3, 4)")).toMatch(/^0\s*$/);
    });
  });

  describe('injection', () => {
    it('values in filters and keys reach the server only as bound parameters; hostile attribute names never reach it', async () => {
      const marker = (s: string): string => `zq${s}`;
      const escapeFilter = (s: string): string => s.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
      const payload = fc.string({ unit: fc.constantFrom(...`'"\\;-–/*%_$?:\`()= ORDROPSELECTUNION1xy`.split('')), minLength: 4, maxLength: 30 }).map(marker);
      await fc.assert(
        fc.asyncProperty(payload, payload, async (value, key) => {
          const before = target.logSize();
          const { items } = await readAll(adapter.search!({ objectType: 'people', filter: `(|(login=${escapeFilter(value)})(display_name=*${escapeFilter(value)}*))` }, ctx()) as PageSource<unknown>);
          expect(items.every((e) => e.attributes['login']?.[0] === value || String(e.attributes['display_name']?.[0]).includes(value))).toBe(true);
          await failure(adapter.get!({ objectType: 'people', key }, ctx())).catch(() => undefined);
          const badAttr = await failure(() => adapter.search!({ objectType: 'people', filter: `(${value.replace(/[()=<>~:*\\]/g, '')}x)=1)` }, ctx())).catch(() => ({ code: 'BAD_REQUEST' }));
          expect(badAttr.code).toBe('BAD_REQUEST');
          expect(target.executions(before).length).toBeGreaterThan(0);
          const texts = target.sqlTexts(before);
          for (const t of texts) {
            expect(t).not.toContain(value);
            expect(t).not.toContain(key);
          }
        }),
        { seed: 12, numRuns: 25 },
      );
    });
  });
}
