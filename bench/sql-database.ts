/**
 * The database of the SQL search benchmark (`npm run bench:sql`): a private PostgreSQL
 * (test/helpers/postgres.ts) seeded with the generated people of test/fixtures/sql (hostile
 * strings, big keys, bytea, jsonb, text[], a child table of group memberships), with
 * `pg_stat_statements` loaded so that the server itself counts every page query per role, and
 * `log_statement` off (the tests' statement log would add the same disk writes to every path).
 *
 * The agent connects as the least-privilege agent role; the direct client as the superuser, so
 * that the server's statistics tell the two clients apart. Also here: the data source's settings,
 * the same for the agent's YAML and for the direct client, so both read the same mapping.
 */
import { startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { seedPostgres, type SeededData } from '../test/fixtures/sql/seed.js';
import { decodeOrThrow } from '../src/adapter-kit/index.js';
import { SqlSettings, type SqlConfig } from '../src/adapters/sql/config.js';

export interface BenchDatabase {
  readonly server: PostgresServer;
  readonly seed: SeededData;
  /** Seconds the seeding took (schema, 100k rows through `\copy`, grants). */
  readonly seedSeconds: number;
  /** The data source's settings as the agent's role uses them (agent YAML). */
  readonly agentSettings: Record<string, unknown>;
  /** The same settings with the superuser's role (the direct client). */
  readonly directConfig: SqlConfig;
  /** Page (keyset) statements the role has executed so far, as counted by pg_stat_statements. */
  pageQueries(role: string): Promise<number>;
  /** Sessions of the role that are `idle in transaction` (or aborted in one) now. */
  idleInTransaction(role: string): Promise<number>;
  /** Sessions of the role running a statement now. */
  activeSessions(role: string): Promise<number>;
  /** The normalised statement texts the role has executed on `people` / `group_members`. */
  statementTexts(role: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** The object type every path reads: all columns of `people`, groups from the child table, nicknames from the array. */
export const OBJECT_TYPE = 'people';

function settings(server: PostgresServer, user: string, password: string, pageSize: number): Record<string, unknown> {
  return {
    type: 'sql',
    dialect: 'postgres',
    host: server.host,
    port: server.port,
    database: server.database,
    user,
    password,
    pageSize,
    objectTypes: {
      [OBJECT_TYPE]: {
        table: 'people',
        key: 'id',
        multiValued: { groups: { table: 'group_members', foreignKey: 'person_id', column: 'group_id' }, nicknames: { arrayColumn: 'nicknames' } },
      },
    },
  };
}

/** The settings as YAML lines under `dataSources:` (JSON is YAML; indented as a mapping entry). */
export function dataSourceYaml(name: string, s: Record<string, unknown>): string {
  return `  ${name}: ${JSON.stringify(s)}`;
}

export async function startBenchDatabase(rows: number, pageSize: number): Promise<BenchDatabase> {
  const server = await startPostgres({ settings: { shared_preload_libraries: 'pg_stat_statements', log_statement: 'none', 'pg_stat_statements.track': 'all' } });
  try {
    const t0 = performance.now();
    const seed = await seedPostgres(server, { rows });
    const seedSeconds = (performance.now() - t0) / 1000;
    await server.sql('CREATE EXTENSION pg_stat_statements;');
    const count = async (sql: string): Promise<number> => Number((await server.sql(sql)).trim());
    const role = (r: string): string => {
      if (!/^[a-z_][a-z0-9_]*$/.test(r)) throw new Error(`unexpected role name ${r}`);
      return `'${r}'`;
    };
    const direct = decodeOrThrow(SqlSettings, settings(server, server.superuser, server.superuserPassword, pageSize), 'bench direct settings');
    return {
      server,
      seed,
      seedSeconds,
      agentSettings: settings(server, seed.agentUser, seed.agentPassword, pageSize),
      directConfig: { ...direct, operations: ['search'] },
      pageQueries: (r) =>
        count(
          `SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_roles u ON u.oid = s.userid ` +
            `WHERE u.rolname = ${role(r)} AND s.query LIKE '%FROM "people" AS s%ORDER BY%';`,
        ),
      idleInTransaction: (r) => count(`SELECT count(*) FROM pg_stat_activity WHERE usename = ${role(r)} AND state LIKE 'idle in transaction%';`),
      activeSessions: (r) => count(`SELECT count(*) FROM pg_stat_activity WHERE usename = ${role(r)} AND state = 'active';`),
      statementTexts: async (r) =>
        JSON.parse(
          await server.sql(
            `SELECT coalesce(json_agg(DISTINCT s.query), '[]') FROM pg_stat_statements s JOIN pg_roles u ON u.oid = s.userid ` +
              `WHERE u.rolname = ${role(r)} AND (s.query LIKE '%"people"%' OR s.query LIKE '%"group_members"%');`,
          ),
        ) as string[],
      stop: () => server.stop(),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
