/**
 * The `type: sql` adapter against a private PostgreSQL server (test/helpers/postgres.ts) seeded
 * with the generated people: the scenarios of sql-adapter.scenarios.ts. The statement log is
 * the server's own (`log_statement=all`): SQL text is what `statement:`/`parse`/`execute`
 * entries show; bound values appear only in their `parameters:` detail.
 */
import { describe } from 'vitest';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { seedPostgres } from '../fixtures/sql/seed.js';
import { sqlAdapterScenarios, type SqlTarget } from './sql-adapter.scenarios.js';

const ROWS = 1200;
let server: PostgresServer | undefined;

async function start(): Promise<SqlTarget> {
  const pg = await startPostgres();
  server = pg;
  const seed = await seedPostgres(pg, { rows: ROWS });
  return {
    dialect: 'postgres',
    host: pg.host,
    port: pg.port,
    database: pg.database,
    rows: ROWS,
    agentUser: seed.agentUser,
    agentPassword: seed.agentPassword,
    superSql: (text) => pg.sql(text),
    sqlTexts: (from) => pg.statements(from).map((e) => e.text),
    executions: (from) => pg.statements(from).filter((e) => e.kind === 'statement' || e.kind === 'execute').map((e) => e.text),
    logSize: () => pg.statementLogSize(),
    running: async (marker) =>
      Number((await pg.sql(`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND usename = '${seed.agentUser}' AND strpos(query, '${marker}') > 0;`)).trim()),
    // GRANTed view and table only: the slowness comes from pg_sleep per row.
    slowQuery: 'SELECT id, pg_sleep(0.5) AS z FROM people',
    bool: (b) => b,
    trueText: 'true',
  };
}

describe('sql adapter on PostgreSQL', () => {
  sqlAdapterScenarios(start, async () => {
    await server?.stop();
  });
});
