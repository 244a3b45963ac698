/**
 * Path (a) of the SQL search benchmark: the same keyset pages as the agent's `search`, read
 * directly with the same driver, the same statements and the same connection settings.
 *
 * - Statements: built by the adapter's own statement builders (src/adapters/sql/queries.ts:
 *   `pageStatement`, `childStatement`) from the same mapping, so the SQL text is the agent's
 *   byte for byte (the benchmark also compares the texts the server's pg_stat_statements
 *   recorded for both roles). Per page: the page query (`WHERE key > $1 ORDER BY key LIMIT n`)
 *   and, when it returned rows, the child-table query for the page's keys; the same stop rule
 *   as the adapter (a page shorter than the page size is the last).
 * - Driver and settings: `pg` with the adapter's `connectionConfig` (extended protocol, the
 *   lossless type parsers, session time zone UTC, statement timeout) on one connection held for
 *   the whole read (the best case for a client; the agent takes a pooled connection per page).
 * - Output: each row and each child row is serialised with `JSON.stringify` (binary values as
 *   base64 first, as any JSON producer must), since the relay path serialises every entry too;
 *   the rows are not merged into entries (that work is the agent's overhead, and it is part of
 *   what the ratio measures).
 */
import pg from 'pg';
import type { SqlConfig } from '../src/adapters/sql/config.js';
import { postgresDialect } from '../src/adapters/sql/dialect.js';
import { AttributeIndex, mappingsOf } from '../src/adapters/sql/mapping.js';
import { connectionConfig } from '../src/adapters/sql/postgres-driver.js';
import { childStatement, pageStatement, probeStatement, type Statement } from '../src/adapters/sql/queries.js';

export interface DirectRead {
  /** Rows of the object type read (entries the relay would send). */
  readonly rows: number;
  readonly seconds: number;
  /** Page statements run (the last one returns fewer rows than the page size). */
  readonly pages: number;
  /** Bytes of JSON produced. */
  readonly jsonBytes: number;
}

export interface DirectReader {
  read(): Promise<DirectRead>;
  close(): Promise<void>;
}

/** Binary values as base64, in place, so that `JSON.stringify` writes what a JSON client would. */
function base64Binary(row: Record<string, unknown>): Record<string, unknown> {
  for (const k in row) if (Buffer.isBuffer(row[k])) row[k] = row[k].toString('base64');
  return row;
}

export async function startDirectReader(config: SqlConfig, objectType: string): Promise<DirectReader> {
  const client = new pg.Client(connectionConfig(config));
  await client.connect();
  const run = (s: Statement): Promise<pg.QueryResult<Record<string, unknown>>> =>
    client.query({ text: s.text, values: [...s.values], queryMode: 'extended' } as pg.QueryConfig);
  const dialect = postgresDialect((id) => pg.escapeIdentifier(id));
  const mapping = mappingsOf(config).get(objectType);
  if (mapping === undefined) throw new Error(`no object type ${objectType}`);
  // As the adapter builds its index: the columns the server reports for the table.
  const probe = await run(probeStatement(dialect, mapping));
  const index = new AttributeIndex(mapping, probe.fields.map((f) => f.name));
  const pageSize = config.pageSize ?? 500;
  const context = { requestId: 'bench-direct', dataSource: 'bench-direct' };

  return {
    async read() {
      const t0 = performance.now();
      let after: unknown;
      let rows = 0;
      let pages = 0;
      let jsonBytes = 0;
      for (;;) {
        const page = await run(pageStatement(dialect, index, undefined, after, pageSize, context));
        pages += 1;
        const keys = page.rows.map((row) => row[mapping.key]);
        for (const row of page.rows) jsonBytes += JSON.stringify(base64Binary(row)).length;
        if (page.rows.length > 0) {
          for (const [, child] of index.children()) {
            const values = await run(childStatement(dialect, child, keys));
            for (const row of values.rows) jsonBytes += JSON.stringify(base64Binary(row)).length;
          }
          after = keys[keys.length - 1];
        }
        rows += page.rows.length;
        if (page.rows.length < pageSize) break;
      }
      return { rows, pages, jsonBytes, seconds: (performance.now() - t0) / 1000 };
    },
    close: () => client.end(),
  };
}
