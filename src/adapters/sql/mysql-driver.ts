/**
 * The MariaDB/MySQL side of the SQL source, on `mysql2` (imported only when a `dialect: mysql`
 * source is first used). One pool per data source; each new connection gets the session time
 * zone UTC and the statement time limit (MariaDB `max_statement_time`, MySQL
 * `max_execution_time`) before its first use. A statement with values runs as a server-side
 * prepared statement (`execute`: mysql2's `query(sql, values)` would interpolate on the client);
 * one without values (`BEGIN`, `COMMIT`) as plain text. A running statement is cancelled with
 * `KILL QUERY <connection id>` from a second, short-lived connection.
 */
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import type { SqlConfig } from './config.js';
import { defaultPort } from './config.js';
import { mysqlDialect } from './dialect.js';
import { textOf, type CatalogColumn, type OnRow, type QueryResult, type SqlDriver, type SqlSession } from './driver.js';
import { mysqlRow, mysqlValue, type MysqlField } from './mysql-values.js';
import type { Statement } from './queries.js';
import { tlsOptions } from './tls-files.js';

export function connectionOptions(config: SqlConfig): mysql.ConnectionOptions {
  const ssl = tlsOptions(config.tls);
  return {
    ...(config.url === undefined
      ? { host: config.host ?? 'localhost', port: config.port ?? defaultPort('mysql'), ...(config.database === undefined ? {} : { database: config.database }), ...(config.user === undefined ? {} : { user: config.user }) }
      : { uri: config.url.replace(/^mariadb:/, 'mysql:') }),
    ...(config.password === undefined ? {} : { password: config.password }),
    ...(ssl === undefined ? {} : { ssl }),
    connectTimeout: config.connectTimeoutMs ?? 10_000,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    decimalNumbers: false,
    timezone: 'Z',
    multipleStatements: false,
    charset: 'utf8mb4',
  };
}

const prepared = new WeakSet<object>();

/** Session settings, once per connection. */
async function prepare(conn: mysql.PoolConnection, statementTimeoutMs: number): Promise<void> {
  const core = (conn as unknown as { connection: object }).connection;
  if (prepared.has(core)) return;
  await conn.query("SET time_zone = '+00:00'");
  // MariaDB: seconds, any statement; MySQL: ms, SELECT only (unknown variable 1193 on the other).
  try {
    await conn.query(`SET SESSION max_statement_time = ${Math.max(statementTimeoutMs, 1) / 1000}`);
  } catch (err) {
    if ((err as { errno?: unknown }).errno !== 1193) throw err;
    await conn.query(`SET SESSION max_execution_time = ${Math.trunc(statementTimeoutMs)}`);
  }
  prepared.add(core);
}

class MysqlSession implements SqlSession {
  constructor(
    private readonly conn: mysql.PoolConnection,
    private readonly options: mysql.ConnectionOptions,
  ) {}

  async run(statement: Statement): Promise<QueryResult> {
    const [result, fields] =
      statement.values.length === 0 ? await this.conn.query(statement.text) : await this.conn.execute(statement.text, statement.values as never[]);
    if (!Array.isArray(result)) return { rows: [], columns: [], affectedRows: (result as mysql.ResultSetHeader).affectedRows };
    const f = (fields ?? []) as unknown as MysqlField[];
    return { rows: (result as Record<string, unknown>[]).map((row) => mysqlRow(row, f)), columns: f.map((x) => x.name), affectedRows: 0 };
  }

  /** Rows as arrays (`rowsAsArray`: no object per row), finished in place and handed over once the result is read. */
  async eachRow(statement: Statement, onRow: OnRow): Promise<number> {
    const options = { sql: statement.text, rowsAsArray: true };
    const [result, fields] = statement.values.length === 0 ? await this.conn.query(options) : await this.conn.execute(options, statement.values as never[]);
    if (!Array.isArray(result)) return 0;
    const f = (fields ?? []) as unknown as MysqlField[];
    const columns = f.map((x) => x.name);
    const types = f.map((x) => x.columnType);
    const rows = result as unknown[][];
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as unknown[];
      for (let i = 0; i < types.length; i++) row[i] = mysqlValue(row[i], types[i]);
      onRow(row, columns);
      rows[r] = []; // handed over: not kept here
    }
    return rows.length;
  }

  async cancel(): Promise<void> {
    const id = this.conn.threadId;
    if (!Number.isSafeInteger(id)) return;
    const killer = await mysql.createConnection(this.options);
    killer.on('error', () => undefined);
    try {
      await killer.query(`KILL QUERY ${id}`);
    } finally {
      await killer.end().catch(() => undefined);
    }
  }

  release(destroy: boolean): void {
    if (destroy) this.conn.destroy();
    else this.conn.release();
  }
}

const CATALOG_SQL = `SELECT c.COLUMN_NAME AS column_name, c.COLUMN_TYPE AS column_type, c.IS_NULLABLE AS is_nullable, c.COLUMN_KEY AS column_key, c.EXTRA AS extra
FROM information_schema.COLUMNS c
WHERE c.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND c.TABLE_NAME = ?
ORDER BY c.ORDINAL_POSITION`;

export function createMysqlDriver(config: SqlConfig, log: Logger): SqlDriver {
  const options = connectionOptions(config);
  const pool = mysql.createPool({ ...options, connectionLimit: config.poolSize ?? 4, waitForConnections: true, queueLimit: 0 });
  const timeout = config.statementTimeoutMs ?? 30_000;
  (pool as unknown as { pool: { on(event: 'error', l: (err: Error) => void): void } }).pool.on?.('error', (err) => log.warn({ err: { message: err.message } }, 'sql: a pooled connection failed'));
  return {
    dialect: mysqlDialect((id) => mysql.escapeId(id, true)),
    async acquire() {
      const conn = await pool.getConnection();
      try {
        await prepare(conn, timeout);
      } catch (err) {
        conn.destroy();
        throw err;
      }
      return new MysqlSession(conn, options);
    },
    async serverVersion(session) {
      const r = await session.run({ text: 'SELECT VERSION() AS v', values: [] });
      const v = textOf(r.rows[0]?.['v']);
      const m = /^([\d.]+)-.*MariaDB/i.exec(v);
      return m !== null ? `MariaDB ${m[1] ?? v}` : `MySQL ${v}`;
    },
    async catalog(session, tables) {
      const out: CatalogColumn[] = [];
      for (const table of tables) {
        const dot = table.lastIndexOf('.');
        const r = await session.run({ text: CATALOG_SQL, values: [dot < 0 ? null : table.slice(0, dot), dot < 0 ? table : table.slice(dot + 1)] });
        for (const row of r.rows) {
          const extra = textOf(row['extra']).toUpperCase();
          out.push({
            table,
            column: String(row['column_name']),
            type: String(row['column_type']),
            nullable: row['is_nullable'] === 'YES',
            primaryKey: row['column_key'] === 'PRI',
            generated: extra.includes('GENERATED'),
          });
        }
      }
      return out;
    },
    close: () => pool.end(),
  };
}
