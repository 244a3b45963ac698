/**
 * The PostgreSQL side of the SQL source, on `pg` (imported only when a `dialect: postgres`
 * source is first used). One pool per data source; every session has the time zone UTC and the
 * configured `statement_timeout`, set at connection start-up. Every statement goes through the
 * extended query protocol (`queryMode: 'extended'`): values travel as bound parameters, and the
 * server's log shows them as such. A running statement is cancelled with `pg_cancel_backend`
 * from a second, short-lived connection.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { SqlConfig } from './config.js';
import { defaultPort } from './config.js';
import { postgresDialect } from './dialect.js';
import { textOf, type CatalogColumn, type OnRow, type QueryResult, type SqlDriver, type SqlSession } from './driver.js';
import { postgresTypes, type ArrayParser } from './postgres-values.js';
import type { Statement } from './queries.js';
import { tlsOptions } from './tls-files.js';

export function connectionConfig(config: SqlConfig): pg.ClientConfig {
  const ssl = tlsOptions(config.tls);
  return {
    ...(config.url === undefined
      ? { host: config.host ?? 'localhost', port: config.port ?? defaultPort('postgres'), ...(config.database === undefined ? {} : { database: config.database }), ...(config.user === undefined ? {} : { user: config.user }) }
      : { connectionString: config.url }),
    ...(config.password === undefined ? {} : { password: config.password }),
    ssl: ssl ?? false,
    application_name: 'datasync-agent',
    connectionTimeoutMillis: config.connectTimeoutMs ?? 10_000,
    statement_timeout: config.statementTimeoutMs ?? 30_000,
    options: '-c TimeZone=UTC',
    types: postgresTypes((pg.types as unknown as { arrayParser: ArrayParser }).arrayParser),
  };
}

class PostgresSession implements SqlSession {
  constructor(
    private readonly client: pg.PoolClient,
    private readonly config: pg.ClientConfig,
  ) {}

  async run(statement: Statement): Promise<QueryResult> {
    const r = await this.client.query({ text: statement.text, values: [...statement.values], queryMode: 'extended' } as pg.QueryConfig);
    return { rows: r.rows as Record<string, unknown>[], columns: r.fields.map((f) => f.name), affectedRows: r.rowCount ?? 0 };
  }

  /** Rows as arrays (`rowMode: 'array'`), each handed over as pg parses it (a `Query` with a row listener keeps none). */
  eachRow(statement: Statement, onRow: OnRow): Promise<number> {
    return new Promise((resolve, reject) => {
      const query = new pg.Query({ text: statement.text, values: [...statement.values], queryMode: 'extended', rowMode: 'array' } as pg.QueryConfig);
      let columns: string[] | undefined;
      let count = 0;
      let failed: { readonly err: unknown } | undefined;
      query.on('row', (row: unknown[], result?: pg.ResultBuilder) => {
        if (failed !== undefined) return;
        columns ??= (result?.fields ?? []).map((f) => f.name);
        try {
          onRow(row, columns);
          count += 1;
        } catch (err) {
          // Not thrown into pg's parser: the statement runs to its end and fails then.
          failed = { err };
        }
      });
      query.on('end', () => (failed === undefined ? resolve(count) : reject(failed.err instanceof Error ? failed.err : new Error(String(failed.err)))));
      query.on('error', reject);
      void this.client.query(query);
    });
  }

  async cancel(): Promise<void> {
    const pid = (this.client as unknown as { processID: number | null }).processID;
    if (pid === null) return;
    const canceller = new pg.Client({ ...this.config, statement_timeout: 5_000 });
    canceller.on('error', () => undefined);
    try {
      await canceller.connect();
      await canceller.query({ text: 'SELECT pg_cancel_backend($1)', values: [pid] });
    } finally {
      await canceller.end().catch(() => undefined);
    }
  }

  release(destroy: boolean): void {
    this.client.release(destroy ? true : undefined);
  }
}

/** Columns from information_schema; the primary key from pg_index (information_schema's constraint views hide it from a SELECT-only role). */
const CATALOG_SQL = `SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.udt_name, c.is_nullable, c.is_generated, c.is_identity,
  EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indisprimary AND i.indrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass AND a.attname = c.column_name) AS primary_key
FROM information_schema.columns c
WHERE (c.table_schema = $1 OR ($1 IS NULL AND c.table_schema = ANY (current_schemas(false)))) AND c.table_name = $2
ORDER BY c.ordinal_position`;

export function createPostgresDriver(config: SqlConfig, log: Logger): SqlDriver {
  const clientConfig = connectionConfig(config);
  const pool = new pg.Pool({ ...clientConfig, max: config.poolSize ?? 4 });
  // An idle client's connection dropping is reported here; without a listener it would throw.
  pool.on('error', (err) => log.warn({ err: { message: err.message, code: (err as { code?: unknown }).code } }, 'sql: an idle connection failed'));
  return {
    dialect: postgresDialect((id) => pg.escapeIdentifier(id)),
    acquire: async () => new PostgresSession(await pool.connect(), clientConfig),
    async serverVersion(session) {
      const r = await session.run({ text: 'SHOW server_version', values: [] });
      const v = textOf(r.rows[0]?.['server_version']).split(' ')[0] ?? '';
      return `PostgreSQL ${v}`;
    },
    async catalog(session, tables) {
      const out: CatalogColumn[] = [];
      for (const table of tables) {
        const dot = table.lastIndexOf('.');
        const r = await session.run({ text: CATALOG_SQL, values: [dot < 0 ? null : table.slice(0, dot), dot < 0 ? table : table.slice(dot + 1)] });
        for (const row of r.rows) {
          const dataType = String(row['data_type']);
          out.push({
            table,
            column: String(row['column_name']),
            type: dataType === 'ARRAY' ? `${String(row['udt_name']).replace(/^_/, '')}[]` : dataType === 'USER-DEFINED' ? String(row['udt_name']) : dataType,
            nullable: row['is_nullable'] === 'YES',
            primaryKey: row['primary_key'] === true,
            generated: row['is_generated'] === 'ALWAYS',
          });
        }
      }
      return out;
    },
    close: () => pool.end(),
  };
}
