/** The data-source contract against a real SCIM 2.0 server (scimmy, seeded with 1,200 users). */
import { dataSourceContract } from './suite.js';
import { startScimServer } from '../helpers/scim-server.js';

dataSourceContract('scim (scimmy test server)', async () => {
  const server = await startScimServer({ users: 1200 });
  const entry = (baseUrl: string, token: string, operations: string) => `    type: scim
    baseUrl: ${baseUrl}
    bearerToken: ${token}
    pageSize: 100
    timeoutMs: 3000
    operations: ${operations}`;
  const all = '[test, schema, attributes, resourceTypes, get, search, export]';
  const target = server.userByName('user00042');
  if (!target) throw new Error('the SCIM test server has no user00042');
  return {
    dataSource: (kind) =>
      kind === 'ok'
        ? entry(server.url, server.token, all)
        : kind === 'badCredentials'
          ? entry(server.url, 'not-the-token', all)
          : kind === 'unreachable'
            ? entry('http://127.0.0.1:1/scim/v2', server.token, all)
            : entry(server.url, server.token, '[test, schema, attributes, resourceTypes, get, search]'),
    searchParams: { resourceType: 'User' },
    searchCount: 1200,
    searchTotal: 1200,
    getParams: { resourceType: 'User', id: target.id },
    isGetResult: (r) => typeof r === 'object' && r !== null && (r as { userName?: string }).userName === 'user00042',
    exportRecords: () => [
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
    upstreamSearchRequests: () => server.requests.filter((r) => r.method === 'GET' && /\/Users$/.test(r.path)).length,
    close: () => server.close(),
  };
});
