/**
 * The PostgreSQL side of the SQL e2e test (test/e2e/sql.e2e.test.ts): a private server
 * (test/helpers/postgres.ts) with `pg_stat_statements` preloaded, seeded with the generated
 * people of test/fixtures/sql (bulk `\copy`, 100,000 rows in seconds) and the least-privilege
 * agent account; the `type: sql` data source entry the agent's YAML gets (password only as
 * `${E2E_SQL_PASSWORD}`); and what the test reads from the server's own statistics — how many
 * keyset page queries the agent has run, and whether it holds a transaction or a running
 * statement — the outside view of "page queries pause while the reader does".
 */
import { seedPostgres, type SeededData } from '../../fixtures/sql/seed.js';
import { WRITABLE_TABLE } from '../../fixtures/sql/schema.js';
import { startPostgres, type PostgresServer } from '../postgres.js';

/** The environment variable the agent's YAML takes the database password from. */
export const SQL_PASSWORD_ENV = 'E2E_SQL_PASSWORD';

export interface SqlDatabase {
  readonly server: PostgresServer;
  readonly seed: SeededData;
  /** Calls of the agent's keyset page queries on `people` (`… ORDER BY … LIMIT`), from pg_stat_statements. */
  pageQueries(): Promise<number>;
  /** The agent's sessions by state (`idle`, `active`, `idle in transaction`, …), from pg_stat_activity. */
  sessions(): Promise<Record<string, number>>;
  /** Runs SQL as the superuser (tab-separated output). */
  sql(text: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts and seeds the server; `rows` people. */
export async function startSqlDatabase(rows: number): Promise<SqlDatabase> {
  const server = await startPostgres({ settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } });
  try {
    const seed = await seedPostgres(server, { rows });
    await server.sql('CREATE EXTENSION pg_stat_statements;');
    const agent = seed.agentUser;
    return {
      server,
      seed,
      pageQueries: async () =>
        Number(
          (
            await server.sql(
              `SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid ` +
                `WHERE r.rolname = '${agent}' AND s.query LIKE 'SELECT %FROM "people" AS s%ORDER BY s."id" LIMIT %';`,
            )
          ).trim(),
        ),
      sessions: async () => {
        const out = await server.sql(`SELECT coalesce(state, 'none'), count(*) FROM pg_stat_activity WHERE usename = '${agent}' GROUP BY 1 ORDER BY 1;`);
        return Object.fromEntries(
          out
            .trim()
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => {
              const [state, n] = l.split('\t');
              return [state!, Number(n)];
            }),
        );
      },
      sql: (text) => server.sql(text),
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * The `dataSources:` entry (indented 2) of a `type: sql, dialect: postgres` source on `db`:
 * `people` (with its child-table and array multi-valued attributes) to read, `accounts`
 * (the writable table) to export to.
 */
export function sqlSource(name: string, db: SqlDatabase, pageSize: number): string {
  return `  ${name}:
    type: sql
    dialect: postgres
    host: ${db.server.host}
    port: ${db.server.port}
    database: ${db.server.database}
    user: ${db.seed.agentUser}
    password: \${${SQL_PASSWORD_ENV}}
    poolSize: 2
    pageSize: ${pageSize}
    operations: [test, attributes, schema, get, search, export]
    objectTypes:
      people:
        table: people
        key: id
        multiValued:
          groups: { table: group_members, foreignKey: person_id, column: group_id }
          nicknames: { arrayColumn: nicknames }
      accounts:
        table: ${WRITABLE_TABLE}
        key: id
`;
}
