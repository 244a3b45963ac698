/**
 * What differs between PostgreSQL and MariaDB/MySQL in the SQL text the adapter writes: how an
 * identifier is quoted (the driver's own function, handed in by the driver module), how a bound
 * parameter is written, how a value is compared as text, how the elements of a list column are
 * read, and the upsert statement. Everything else the adapter writes is the SQL both accept.
 *
 * Values never go into SQL text: a builder adds them to a `Params` list and writes the
 * placeholder; identifiers come only from the configured mapping or the server's catalog, and
 * are quoted.
 */
import type { Dialect } from './config.js';

export interface SqlDialect {
  readonly name: Dialect;
  /** One identifier, quoted (a `.` is part of the name, not a qualifier). */
  quoteIdentifier(identifier: string): string;
  /** The placeholder of the n-th (1-based) bound parameter. */
  placeholder(index: number): string;
  /** `expr` as text, for LIKE on a column of any type. */
  asText(expr: string): string;
  /** A FROM item with one row per element of the list in `expr`, in column `v`. */
  elementsOf(expr: string, alias: string): string;
  /**
   * Insert-or-update of one row by its key; the statement tells whether it inserted: pg
   * returns a row `{ inserted }`, MySQL's affected-rows says 1 (inserted), 2 (updated) or 0.
   */
  upsert(table: string, columns: readonly string[], placeholders: readonly string[], keyColumn: string): string;
}

/** A table name as configured (`schema.table` or `table`), quoted part by part. */
export function quoteTable(dialect: SqlDialect, table: string): string {
  return table
    .split('.')
    .map((part) => dialect.quoteIdentifier(part))
    .join('.');
}

export function postgresDialect(quoteIdentifier: (identifier: string) => string): SqlDialect {
  return {
    name: 'postgres',
    quoteIdentifier,
    placeholder: (index) => `$${index}`,
    asText: (expr) => `CAST(${expr} AS text)`,
    elementsOf: (expr, alias) => `unnest(${expr}) AS ${alias}(v)`,
    upsert: (table, columns, placeholders, keyColumn) => {
      const key = quoteIdentifier(keyColumn);
      const others = columns.filter((c) => c !== keyColumn).map(quoteIdentifier);
      const action = others.length === 0 ? `DO UPDATE SET ${key} = EXCLUDED.${key}` : `DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`;
      return `INSERT INTO ${table} (${columns.map(quoteIdentifier).join(', ')}) VALUES (${placeholders.join(', ')}) ON CONFLICT (${key}) ${action} RETURNING (xmax = 0) AS inserted`;
    },
  };
}

export function mysqlDialect(quoteIdentifier: (identifier: string) => string): SqlDialect {
  return {
    name: 'mysql',
    quoteIdentifier,
    placeholder: () => '?',
    asText: (expr) => `CAST(${expr} AS CHAR)`,
    elementsOf: (expr, alias) => `JSON_TABLE(${expr}, '$[*]' COLUMNS (v LONGTEXT PATH '$')) AS ${alias}`,
    upsert: (table, columns, placeholders, keyColumn) => {
      const key = quoteIdentifier(keyColumn);
      const others = columns.filter((c) => c !== keyColumn).map(quoteIdentifier);
      const action = others.length === 0 ? `${key} = ${key}` : others.map((c) => `${c} = VALUES(${c})`).join(', ');
      return `INSERT INTO ${table} (${columns.map(quoteIdentifier).join(', ')}) VALUES (${placeholders.join(', ')}) ON DUPLICATE KEY UPDATE ${action}`;
    },
  };
}

/** Quoting as the drivers do it (pg `escapeIdentifier`, mysql2 `escapeId` unqualified). */
export const quotePostgres = (identifier: string): string => `"${identifier.replace(/"/g, '""')}"`;
export const quoteMysql = (identifier: string): string => `\`${identifier.replace(/`/g, '``')}\``;

/** The bound values of one statement, and their placeholders. */
export class Params {
  readonly values: unknown[] = [];
  constructor(private readonly dialect: SqlDialect) {}

  /** Binds `value` and answers its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return this.dialect.placeholder(this.values.length);
  }
}
