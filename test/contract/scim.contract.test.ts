/** The shipped data-source contract (src/contract) against a real SCIM 2.0 server (scimmy, seeded with 1,200 users). */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { scimDataSource } from '../../src/adapters/scim/definition.js';
import { dataSourceContract } from '../../src/contract/index.js';
import { startScimServer } from '../helpers/scim-server.js';

type ScimServer = Awaited<ReturnType<typeof startScimServer>>;
let server: ScimServer | undefined;
const running = (): ScimServer => {
  if (server === undefined) throw new Error('the SCIM server is started in beforeAll');
  return server;
};
const user42 = (): { id: string } => {
  const user = running().userByName('user00042');
  if (!user) throw new Error('the SCIM test server has no user00042');
  return user;
};

const entry = (baseUrl: string, bearerToken: string) => ({
  type: 'scim',
  baseUrl,
  bearerToken,
  pageSize: 100,
  timeoutMs: 3000,
  operations: ['test', 'schema', 'attributes', 'resourceTypes', 'get', 'search', 'export'],
});

const suite = dataSourceContract({
  definition: scimDataSource,
  settings: (kind) =>
    kind === 'ok'
      ? entry(running().url, running().token)
      : kind === 'badCredentials'
        ? entry(running().url, 'not-the-token')
        : entry('http://127.0.0.1:1/scim/v2', running().token),
  search: { params: { resourceType: 'User' }, count: 1200, total: 1200 },
  get get() {
    return {
      params: { resourceType: 'User', id: user42().id },
      matches: (r: unknown) => typeof r === 'object' && r !== null && (r as { userName?: string }).userName === 'user00042',
    };
  },
  export: {
    records: () => [
      { op: 'create', resourceType: 'User', resource: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'contract-1' } },
      { op: 'create', resourceType: 'User', resource: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'user00001' } },
      {
        op: 'upsert',
        resourceType: 'User',
        match: { attribute: 'userName', value: 'contract-2' },
        resource: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'contract-2' },
      },
    ],
    failingIndex: 1,
  },
  // List requests of the search (GET …/Users), as the server recorded them.
  upstreamRequests: () => running().requests.filter((r) => r.method === 'GET' && /\/Users$/.test(r.path)).length,
  close: () => running().close(),
});

describe('data-source contract: scim (scimmy test server)', () => {
  beforeAll(async () => {
    server = await startScimServer({ users: 1200 });
    await suite.setup();
  });
  afterAll(() => suite.teardown());
  for (const check of suite.checks) it(check.name, () => check.run());
});
