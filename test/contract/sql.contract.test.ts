/**
 * The shipped data-source contract (src/contract) against the `type: sql` adapter, once per
 * dialect: a private PostgreSQL and a private MariaDB server (test/helpers/postgres.ts,
 * mariadb.ts) seeded with the generated people (test/fixtures/sql), the agent connecting as the
 * least-privilege account.
 *
 * - unreachable: a loopback port nothing listens on (the server's own port, once stopped, is
 *   not used: it may be reused by another test);
 * - bad credentials: the agent account with a wrong password;
 * - upstream requests: the page statements the server executed, read from its own statement log.
 * - export: into `provisioned_accounts`; the middle record breaks its CHECK constraint.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sqlDataSource } from '../../src/adapters/sql/definition.js';
import { dataSourceContract, type ContractFixture } from '../../src/contract/index.js';
import { personRow } from '../fixtures/sql/data.js';
import { seedMariadb, seedPostgres, type SeededData } from '../fixtures/sql/seed.js';
import { startMariadb } from '../helpers/mariadb.js';
import { startPostgres } from '../helpers/postgres.js';

const ROWS = 1200;

interface Running {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly seed: SeededData;
  /** Page statements executed so far (the keyset statement of the people table). */
  pageStatements(): number;
  stop(): Promise<void>;
}

/** A loopback port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const PAGE = /FROM\s+\S*people\S* AS s\b.*ORDER BY/s;

function sqlContract(dialect: 'postgres' | 'mysql', start: () => Promise<Running>): void {
  let running: Running | undefined;
  let deadPort = 0;
  const settings = (kind: 'ok' | 'badCredentials' | 'unreachable'): Record<string, unknown> => {
    const r = running!;
    return {
      type: 'sql',
      dialect,
      host: r.host,
      port: kind === 'unreachable' ? deadPort : r.port,
      database: r.database,
      user: r.seed.agentUser,
      password: kind === 'badCredentials' ? 'wrong-password' : r.seed.agentPassword,
      pageSize: 200,
      connectTimeoutMs: 5000,
      objectTypes: {
        people: { table: 'people', key: 'id', multiValued: { groups: { table: 'group_members', foreignKey: 'person_id', column: 'group_id' } } },
        accounts: { table: 'provisioned_accounts', key: 'id' },
      },
      operations: ['test', 'attributes', 'schema', 'get', 'search', 'export'],
    };
  };
  const key42 = personRow(42, ROWS).id.toString();
  const fixture: ContractFixture = {
    definition: sqlDataSource,
    settings,
    search: { params: { objectType: 'people' }, count: ROWS },
    get: { params: { objectType: 'people', key: key42 }, matches: (r) => typeof r === 'object' && r !== null && (r as { key?: unknown }).key === key42 },
    export: {
      records: () => [
        { op: 'upsert', objectType: 'accounts', key: '7001', attributes: { login: 'contract-1', email: 'c1@x.test' } },
        { op: 'insert', objectType: 'accounts', key: '7002', attributes: { login: 'contract-2', email: 'not-an-address' } },
        { op: 'delete', objectType: 'accounts', key: '7001' },
      ],
      failingIndex: 1,
    },
    upstreamRequests: () => running?.pageStatements() ?? 0,
  };
  const suite = dataSourceContract(fixture);
  beforeAll(async () => {
    running = await start();
    deadPort = await closedPort();
  });
  beforeAll(() => suite.setup());
  afterAll(async () => {
    await suite.teardown();
    await running?.stop();
  });
  for (const c of suite.checks) it(c.name, () => c.run());
}

describe('sql contract: PostgreSQL', () => {
  sqlContract('postgres', async () => {
    const pg = await startPostgres();
    const seed = await seedPostgres(pg, { rows: ROWS });
    return {
      host: pg.host,
      port: pg.port,
      database: pg.database,
      seed,
      pageStatements: () => pg.statements().filter((e) => e.kind === 'execute' && PAGE.test(e.text)).length,
      stop: () => pg.stop(),
    };
  });
});

describe('sql contract: MariaDB', () => {
  sqlContract('mysql', async () => {
    const db = await startMariadb();
    const seed = await seedMariadb(db, { rows: ROWS });
    return {
      host: db.host,
      port: db.port,
      database: db.database,
      seed,
      pageStatements: () => db.statements().filter((e) => e.command === 'Execute' && PAGE.test(e.text)).length,
      stop: () => db.stop(),
    };
  });
});
