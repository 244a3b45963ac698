/**
 * The one interface the adapter has to a database, whatever the dialect: a pool of sessions
 * that run statements (values always bound, never in the text), the cancel of a running
 * statement through a second connection, and the catalog facts `test` and `attributes` need.
 *
 * The drivers (`pg`, `mysql2`) are imported on first use (load-driver.ts), so an agent without
 * SQL data sources never loads them.
 *
 * Rows come back with lossless values (postgres-values.ts, mysql-values.ts): strings for big
 * integers, decimals and date-times, Buffers for binary, parsed JSON, arrays for lists; `null`
 * for NULL.
 */
import type { SqlDialect } from './dialect.js';
import type { Statement } from './queries.js';

export interface QueryResult {
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  /** The result's column names, in order. */
  readonly columns: readonly string[];
  /** Rows inserted, updated or deleted (writes). */
  readonly affectedRows: number;
}

/**
 * Called with each row of a read statement as it arrives, as an array in column order, and the
 * result's column names (the same array for every row of a statement; a name may occur twice).
 */
export type OnRow = (row: readonly unknown[], columns: readonly string[]) => void;

export interface SqlSession {
  run(statement: Statement): Promise<QueryResult>;
  /**
   * A read statement whose rows are handed to `onRow` one by one (same values as `run` gives)
   * and not kept: the search writes each row's JSON as it comes, so a page's rows are never all
   * in memory at once. Resolves with the number of rows; a throw of `onRow` fails the statement.
   */
  eachRow(statement: Statement, onRow: OnRow): Promise<number>;
  /** Cancels the statement running on this session now, through a second connection. */
  cancel(): Promise<void>;
  /** Back to the pool; `destroy`: close the connection instead (after a cancel or a failure). */
  release(destroy: boolean): void;
}

/** One column as the catalog describes it. */
export interface CatalogColumn {
  readonly table: string;
  readonly column: string;
  readonly type: string;
  readonly nullable: boolean;
  readonly primaryKey: boolean;
  readonly generated: boolean;
}

export interface SqlDriver {
  readonly dialect: SqlDialect;
  acquire(): Promise<SqlSession>;
  /** The server's product and version, e.g. `PostgreSQL 15.18`, `MariaDB 10.11.6`. */
  serverVersion(session: SqlSession): Promise<string>;
  /** The columns of the named tables (`schema.table` or `table` in the connection's database). */
  catalog(session: SqlSession, tables: readonly string[]): Promise<CatalogColumn[]>;
  close(): Promise<void>;
}

/** Statements run on one session; what the abort of `signal` does to them. */
export async function withSession<T>(driver: SqlDriver, signal: AbortSignal | undefined, use: (session: SqlSession) => Promise<T>): Promise<T> {
  const session = await driver.acquire();
  let failed = false;
  // A cancel may land after the statement ended: the session is then closed, never reused.
  const onAbort = (): void => void session.cancel().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted === true) throw new Error('cancelled');
    return await use(session);
  } catch (err) {
    // A statement the server refused leaves a usable connection; anything else may not.
    failed = !isServerError(err);
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    session.release(failed || signal?.aborted === true);
  }
}

/** A catalog value as text (a string, a number; anything else is empty). */
export const textOf = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');

/** An error the server answered with a SQLSTATE (pg `code`, mysql2 `sqlState`): the connection is fine. */
export function isServerError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; sqlState?: unknown };
  return typeof e.sqlState === 'string' || (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code));
}
