/**
 * The `type: sql` adapter (`dialect: mysql`) against a private MariaDB server
 * (test/helpers/mariadb.ts) seeded with the generated people: the scenarios of
 * sql-adapter.scenarios.ts. SQL text the server received is what the general log shows as
 * `Query` and `Prepare`; an `Execute` line prints the bound values substituted for logging only
 * (they travel as binary parameters), so it is not SQL text.
 */
import { describe } from 'vitest';
import { startMariadb, type MariadbServer } from '../helpers/mariadb.js';
import { seedMariadb } from '../fixtures/sql/seed.js';
import { sqlAdapterScenarios, type SqlTarget } from './sql-adapter.scenarios.js';

const ROWS = 1200;
let server: MariadbServer | undefined;

async function start(): Promise<SqlTarget> {
  const db = await startMariadb();
  server = db;
  const seed = await seedMariadb(db, { rows: ROWS });
  return {
    dialect: 'mysql',
    host: db.host,
    port: db.port,
    database: db.database,
    rows: ROWS,
    agentUser: seed.agentUser,
    agentPassword: seed.agentPassword,
    superSql: (text) => db.sql(text),
    sqlTexts: (from) => db.statements(from).filter((e) => e.command === 'Query' || e.command === 'Prepare').map((e) => e.text),
    executions: (from) => db.statements(from).filter((e) => e.command === 'Query' || e.command === 'Execute').map((e) => e.text),
    logSize: () => db.statementLogSize(),
    running: async (marker) =>
      Number(
        (
          await db.sql(
            `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '${seed.agentUser}' AND COMMAND IN ('Query', 'Execute') AND INSTR(INFO, '${marker}') > 0;`,
          )
        ).trim(),
      ),
    slowQuery: 'SELECT id, SLEEP(0.5) AS z FROM people',
    bool: (b) => (b ? 1 : 0),
    trueText: '1',
  };
}

describe('sql adapter on MariaDB', () => {
  sqlAdapterScenarios(start, async () => {
    await server?.stop();
  });
});
