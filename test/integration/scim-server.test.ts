/**
 * The SCIM 2.0 test server (test/helpers/scim-server.ts) against plain `fetch`: discovery,
 * authentication (Bearer, Basic, OAuth client credentials), paging over 1,200 seeded users,
 * filters, sorting, projection, create/replace/patch/delete with uniqueness and ETags, groups,
 * fault injection, restart, latency and https.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki } from '../helpers/certs.js';
import { ENTERPRISE, printScimLogOnFailure, startScimServer, type ScimServer, type ScimUser } from '../helpers/scim-server.js';

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

interface ListBody {
  schemas: string[];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: Array<Record<string, unknown> & { id: string }>;
}
interface ErrorBody {
  schemas: string[];
  status: string;
  scimType?: string;
  detail?: string;
}
type UserBody = Record<string, unknown> & {
  id: string;
  userName: string;
  meta: { version: string; location: string; resourceType: string; created: string; lastModified: string };
  emails?: Array<{ value: string; type?: string; primary?: boolean }>;
  groups?: Array<{ value: string; display?: string }>;
  active?: boolean;
};
type GroupBody = Record<string, unknown> & {
  id: string;
  displayName: string;
  members?: Array<{ value: string; display?: string; type?: string; $ref?: string }>;
  meta: { version: string };
};

/** A SCIM client bound to a server (bearer token unless headers say otherwise). */
function client(get: () => ScimServer) {
  const call = async (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const s = get();
    const res = await fetch(`${s.url}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${s.token}`,
        accept: 'application/scim+json',
        ...(init.body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...init.headers,
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    return { res, status: res.status, text, json: <T>() => JSON.parse(text) as T };
  };
  return {
    call,
    list: async (path: string) => {
      const r = await call(path);
      expect(r.status, r.text).toBe(200);
      return r.json<ListBody>();
    },
  };
}

const q = (params: Record<string, string | number>): string =>
  '?' + Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');

// ---------------------------------------------------------------------------------------------

describe('seeded directory (1,200 users, 20 groups)', () => {
  let server: ScimServer;
  let startupMs = 0;
  const { call, list } = client(() => server);
  printScimLogOnFailure(() => server);

  beforeAll(async () => {
    const t = performance.now();
    server = await startScimServer({ basic: { userName: 'scim-admin', password: 'pässword' } });
    startupMs = performance.now() - t;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('starts on 127.0.0.1 with a random port, deterministic data', () => {
    // The start-up time is a figure, not a bound (a loaded machine may take longer).
    console.info(`[measured] SCIM fixture start with 1,200 users and 20 groups: ${startupMs.toFixed(0)} ms`);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/scim/v2`);
    expect(server.port).toBeGreaterThan(0);
    expect(server.store.users.size).toBe(1200);
    expect(server.store.groups.size).toBe(20);
    const u42 = server.userByName('user00042')!;
    expect(u42.emails).toHaveLength(2);
    expect(u42.emails!.filter((e) => e.primary)).toHaveLength(1);
    expect(u42[ENTERPRISE]?.employeeNumber).toBe('E00042');
    expect(u42[ENTERPRISE]?.manager?.value).toBe(server.userByName('user00005')!.id);
    expect(server.userByName('user00001')!.name?.givenName).toBe('Zoë');
    expect(server.userByName('user00002')!.name?.givenName).toBe('José');
    expect(server.userByName('user00010')!.active).toBe(false);
  });

  it('serves ServiceProviderConfig, ResourceTypes and Schemas', async () => {
    const spc = (await call('/ServiceProviderConfig')).json<Record<string, unknown>>();
    expect(spc).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      filter: { supported: true, maxResults: 200 },
      sort: { supported: true },
      etag: { supported: true },
      bulk: { supported: false },
      changePassword: { supported: false },
      pagination: { cursor: false, index: true, defaultPaginationMethod: 'index', maxPageSize: 200 },
    });
    const schemes = (spc.authenticationSchemes as Array<{ type: string }>).map((s) => s.type);
    expect(schemes).toEqual(['oauthbearertoken', 'httpbasic']);

    const types = await list('/ResourceTypes');
    expect(types.schemas).toEqual([LIST]);
    expect(types.totalResults).toBe(2);
    expect(types.itemsPerPage).toBe(2);
    const user = types.Resources.find((r) => r.id === 'User')!;
    expect(user).toMatchObject({ endpoint: '/Users', schema: CORE_USER, schemaExtensions: [{ schema: ENTERPRISE, required: false }] });
    expect(types.Resources.find((r) => r.id === 'Group')).toMatchObject({ endpoint: '/Groups' });

    const schemas = await list('/Schemas');
    expect(schemas.Resources.map((s) => s.id).sort()).toEqual(['urn:ietf:params:scim:schemas:core:2.0:Group', CORE_USER, ENTERPRISE].sort());
    const one = await call(`/Schemas/${ENTERPRISE}`);
    expect(one.status).toBe(200);
    expect(one.json<{ attributes: Array<{ name: string }> }>().attributes.map((a) => a.name)).toContain('employeeNumber');
    expect(one.res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  });

  it('refuses requests without valid credentials (401, WWW-Authenticate, SCIM error)', async () => {
    const none = await fetch(`${server.url}/Users`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+"/);
    expect(none.headers.get('www-authenticate')).toContain('Basic realm=');
    expect(none.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect((await none.json()) as ErrorBody).toMatchObject({ schemas: [ERROR], status: '401' });

    const wrong = await call('/Users', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.res.headers.get('www-authenticate')).toContain('error="invalid_token"');

    const discovery = await fetch(`${server.url}/ServiceProviderConfig`);
    expect(discovery.status).toBe(401);

    const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`, 'utf8').toString('base64')}`;
    expect((await call('/Users?count=1', { headers: { authorization: basic('scim-admin', 'pässword') } })).status).toBe(200);
    expect((await call('/Users?count=1', { headers: { authorization: basic('scim-admin', 'password') } })).status).toBe(401);
  });

  it('pages through all 1,200 users with startIndex/count, recording every request', async () => {
    const before = server.requests.length;
    const seen: string[] = [];
    let startIndex = 1;
    let total = Infinity;
    const t = performance.now();
    while (startIndex <= total) {
      const page = await list(`/Users${q({ startIndex, count: 200 })}`);
      expect(page.schemas).toEqual([LIST]);
      expect(page.startIndex).toBe(startIndex);
      expect(page.itemsPerPage).toBe(page.Resources.length);
      total = page.totalResults;
      seen.push(...page.Resources.map((r) => String(r.userName)));
      startIndex += page.Resources.length;
      if (page.Resources.length === 0) break;
    }
    const elapsed = performance.now() - t;
    expect(total).toBe(1200);
    expect(seen).toHaveLength(1200);
    expect(new Set(seen).size).toBe(1200);
    expect(seen[0]).toBe('user00001');
    expect(seen[1199]).toBe('user01200');
    console.info(`[measured] 1,200 users in 6 pages of 200: ${elapsed.toFixed(0)} ms`);

    const paging = server.requests.slice(before).filter((r) => r.path === '/scim/v2/Users');
    expect(paging.map((r) => r.query.startIndex)).toEqual(['1', '201', '401', '601', '801', '1001']);
    expect(paging.every((r) => r.status === 200 && r.method === 'GET' && r.end !== undefined && r.end >= r.at)).toBe(true);
  });

  it('caps count at maxResults, defaults to it, and honours odd offsets and count=0', async () => {
    const capped = await list(`/Users${q({ count: 1000 })}`);
    expect(capped.Resources).toHaveLength(200);
    expect(capped.itemsPerPage).toBe(200);

    const unspecified = await list('/Users');
    expect(unspecified.Resources).toHaveLength(200);
    expect(unspecified.startIndex).toBe(1);

    const offset = await list(`/Users${q({ startIndex: 101, count: 150 })}`);
    expect(offset.startIndex).toBe(101);
    expect(offset.Resources).toHaveLength(150);
    expect(offset.Resources[0]!.userName).toBe('user00101');
    expect(offset.Resources[149]!.userName).toBe('user00250');

    const last = await list(`/Users${q({ startIndex: 1150, count: 200 })}`);
    expect(last.Resources).toHaveLength(51);
    expect(last.itemsPerPage).toBe(51);

    const beyond = await list(`/Users${q({ startIndex: 5000, count: 10 })}`);
    expect(beyond).toMatchObject({ totalResults: 1200, startIndex: 5000, itemsPerPage: 0, Resources: [] });

    const zero = await list(`/Users${q({ count: 0 })}`);
    expect(zero.totalResults).toBe(1200);
    expect(zero.Resources).toEqual([]);
  });

  it('filters: userName eq (case-insensitively), name.familyName sw "N", extension and multi-valued paths', async () => {
    const one = await list(`/Users${q({ filter: 'userName eq "user00042"' })}`);
    expect(one.totalResults).toBe(1);
    expect(one.Resources[0]).toMatchObject({ userName: 'user00042', id: server.userByName('user00042')!.id });
    expect((await list(`/Users${q({ filter: 'USERNAME eq "User00042"' })}`)).totalResults).toBe(1);

    const users = [...server.store.users.values()];
    const expectedN = users.filter((u) => u.name?.familyName?.toLowerCase().startsWith('n')).length;
    expect(expectedN).toBeGreaterThan(200);
    const n1 = await list(`/Users${q({ filter: 'name.familyName sw "N"', count: 200 })}`);
    const n2 = await list(`/Users${q({ filter: 'name.familyName sw "N"', count: 200, startIndex: 201 })}`);
    expect(n1.totalResults).toBe(expectedN);
    expect(n1.Resources).toHaveLength(200);
    expect(n2.Resources).toHaveLength(Math.min(200, expectedN - 200));
    for (const r of [...n1.Resources, ...n2.Resources]) expect((r.name as { familyName: string }).familyName).toMatch(/^N/i);

    const dept = users.filter((u) => u[ENTERPRISE]?.department === 'Qualité').length;
    const byDept = await list(`/Users${q({ filter: `${ENTERPRISE}:department eq "qualité"`, count: 1 })}`);
    expect(byDept.totalResults).toBe(dept);

    const manager = server.userByName('user00003')!.id;
    const reports = await list(`/Users${q({ filter: `${ENTERPRISE}:manager.value eq "${manager}"` })}`);
    expect(reports.Resources.map((r) => r.userName)).toEqual(['user00021', 'user00022', 'user00023', 'user00024', 'user00025', 'user00026', 'user00027', 'user00028', 'user00029', 'user00030']);

    const email = await list(`/Users${q({ filter: 'emails[type eq "work" and value eq "USER00007@example.org"]' })}`);
    expect(email.Resources.map((r) => r.userName)).toEqual(['user00007']);
    expect((await list(`/Users${q({ filter: 'emails.value ew "@home.example"', count: 0 })}`)).totalResults).toBe(1200);

    const inactive = await list(`/Users${q({ filter: 'active eq false', count: 0 })}`);
    expect(inactive.totalResults).toBe(120);
    const combo = await list(`/Users${q({ filter: '(userName eq "user00010" or userName eq "user00011") and active eq true' })}`);
    expect(combo.Resources.map((r) => r.userName)).toEqual(['user00011']);
    expect((await list(`/Users${q({ filter: 'meta.created gt "2024-01-01T20:00:00Z"', count: 0 })}`)).totalResults).toBe(1200 - 1200);
    expect((await list(`/Users${q({ filter: 'meta.created gt "2024-01-01T10:00:00Z"', count: 0 })}`)).totalResults).toBe(1200 - 600);

    for (const filter of ['userName eq', 'userName xx "a"', '(userName eq "a"']) {
      const bad = await call(`/Users${q({ filter })}`);
      expect(bad.status, filter).toBe(400);
      expect(bad.json<ErrorBody>(), filter).toMatchObject({ schemas: [ERROR], status: '400', scimType: 'invalidFilter' });
    }
  });

  it('sorts by core, multi-valued and extension attributes', async () => {
    const desc = await list(`/Users${q({ sortBy: 'userName', sortOrder: 'descending', count: 3 })}`);
    expect(desc.Resources.map((r) => r.userName)).toEqual(['user01200', 'user01199', 'user01198']);

    const byEmp = await list(`/Users${q({ sortBy: `${ENTERPRISE}:employeeNumber`, sortOrder: 'descending', count: 2, startIndex: 2 })}`);
    expect(byEmp.Resources.map((r) => r.userName)).toEqual(['user01199', 'user01198']);

    const byFamily = await list(`/Users${q({ sortBy: 'name.familyName', count: 200 })}`);
    const names = byFamily.Resources.map((r) => (r.name as { familyName: string }).familyName);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'accent' })));

    // Sorting happens before projection, so the sort key need not be returned.
    const projected = await list(`/Users${q({ sortBy: 'name.familyName', sortOrder: 'descending', attributes: 'userName', count: 200 })}`);
    const familyOf = (userName: unknown) => server.userByName(String(userName))!.name!.familyName!;
    const projectedNames = projected.Resources.map((r) => familyOf(r.userName));
    expect(projectedNames).toEqual([...projectedNames].sort((a, b) => b.localeCompare(a, 'en', { sensitivity: 'accent' })));
    expect(Object.keys(projected.Resources[0]!).sort()).toEqual(['id', 'userName']);

    const byEmail = await list(`/Users${q({ sortBy: 'emails', sortOrder: 'descending', count: 1 })}`);
    expect(byEmail.Resources[0]!.userName).toBe('user01200');

    const bad = await call(`/Users${q({ sortBy: 'shoeSize' })}`);
    expect(bad.status).toBe(400);
    expect(bad.json<ErrorBody>().scimType).toBe('invalidValue');
  });

  it('projects with attributes / excludedAttributes and never returns passwords', async () => {
    const only = await list(`/Users${q({ attributes: 'userName,emails.value', count: 2 })}`);
    expect(Object.keys(only.Resources[0]!).sort()).toEqual(['emails', 'id', 'userName']);
    expect(only.Resources[0]!.emails).toEqual([{ value: 'user00001@example.org' }, { value: expect.stringContaining('@home.example') as string }]);

    const id = server.userByName('user00002')!.id;
    const without = (await call(`/Users/${id}${q({ excludedAttributes: `emails,${ENTERPRISE}` })}`)).json<UserBody>();
    expect(without.emails).toBeUndefined();
    expect(without[ENTERPRISE]).toBeUndefined();
    expect(without.userName).toBe('user00002');
    expect(without.schemas).toContain(CORE_USER);
  });

  it('answers POST /Users/.search like a GET with the same parameters', async () => {
    const r = await call('/Users/.search', {
      method: 'POST',
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
        filter: 'userName sw "user0001"',
        sortBy: 'userName',
        sortOrder: 'descending',
        startIndex: 3,
        count: 2,
        attributes: ['userName'],
      },
    });
    expect(r.status, r.text).toBe(200);
    const body = r.json<ListBody>();
    expect(body).toMatchObject({ schemas: [LIST], totalResults: 10, startIndex: 3, itemsPerPage: 2 });
    expect(body.Resources.map((u) => u.userName)).toEqual(['user00017', 'user00016']);
  });

  it('returns one resource by id with its ETag, 304 on If-None-Match, 404 for unknown ids', async () => {
    const u = server.userByName('user00021')!;
    const r = await call(`/Users/${u.id}`);
    expect(r.status).toBe(200);
    const body = r.json<UserBody>();
    expect(r.res.headers.get('etag')).toBe(body.meta.version);
    expect(body.meta).toMatchObject({ resourceType: 'User', location: `${server.url}/Users/${u.id}`, version: 'W/"1"' });
    expect(body[ENTERPRISE]).toMatchObject({ employeeNumber: 'E00021', manager: { value: server.userByName('user00003')!.id, displayName: expect.any(String) as string } });
    expect(body.groups).toEqual([{ value: expect.any(String) as string, display: expect.any(String) as string, $ref: expect.stringContaining('/Groups/') as string, type: 'direct' }]);

    const notModified = await call(`/Users/${u.id}`, { headers: { 'if-none-match': body.meta.version } });
    expect(notModified.status).toBe(304);

    const missing = await call('/Users/does-not-exist');
    expect(missing.status).toBe(404);
    expect(missing.json<ErrorBody>()).toMatchObject({ schemas: [ERROR], status: '404' });
  });

  it('lists and filters groups by member', async () => {
    const groups = await list(`/Groups${q({ count: 100 })}`);
    expect(groups.totalResults).toBe(20);
    const g1 = groups.Resources[0] as GroupBody;
    expect(g1.displayName).toBe('Engineering');
    expect(g1.members).toHaveLength(60);
    expect(g1.members![0]).toMatchObject({ type: 'User', display: 'Zoë Nuñez', $ref: expect.stringContaining('/Users/') as string });

    const id = server.userByName('user00042')!.id;
    const mine = await list(`/Groups${q({ filter: `members.value eq "${id}"`, attributes: 'displayName' })}`);
    expect(mine.Resources.map((g) => g.displayName)).toEqual(['Sales']);
    expect((await list(`/Groups${q({ filter: 'displayName sw "équipe"' })}`)).Resources.map((g) => g.displayName)).toEqual(['Équipe Qualité', 'Équipe Qualité 2']);
  });

  it('answers 404 with a SCIM error for unknown endpoints and 501 for /Bulk', async () => {
    expect((await call('/Nope')).status).toBe(404);
    const bulk = await call('/Bulk', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] } });
    expect(bulk.status).toBe(501);
  });
});

// ---------------------------------------------------------------------------------------------

describe('writes', () => {
  let server: ScimServer;
  const { call, list } = client(() => server);
  printScimLogOnFailure(() => server);

  beforeAll(async () => {
    server = await startScimServer({ users: 30, groups: 3, token: 'static-token' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const newUser = (userName: string): Record<string, unknown> => ({
    schemas: [CORE_USER, ENTERPRISE],
    userName,
    name: { givenName: 'Renée', familyName: 'Ødegård' },
    displayName: 'Renée Ødegård',
    emails: [{ value: `${userName}@example.org`, type: 'work', primary: true }],
    active: true,
    password: 'S3cret!',
    [ENTERPRISE]: { department: 'Qualité', employeeNumber: 'X1', manager: { value: server.userByName('user00001')!.id } },
  });

  it('creates a user (201, Location, ETag) and refuses a duplicate userName with 409 uniqueness', async () => {
    const created = await call('/Users', { method: 'POST', body: newUser('renee') });
    expect(created.status, created.text).toBe(201);
    const body = created.json<UserBody>();
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.res.headers.get('location')).toBe(`${server.url}/Users/${body.id}`);
    expect(body.meta.location).toBe(`${server.url}/Users/${body.id}`);
    expect(created.res.headers.get('etag')).toBe('W/"1"');
    expect(body.password).toBeUndefined();
    expect(body[ENTERPRISE]).toMatchObject({ department: 'Qualité', manager: { displayName: 'Zoë Nuñez' } });
    expect(server.store.users.get(body.id)).toMatchObject({ userName: 'renee', password: 'S3cret!' });

    const dup = await call('/Users', { method: 'POST', body: newUser('RENEE') });
    expect(dup.status).toBe(409);
    expect(dup.json<ErrorBody>()).toMatchObject({ schemas: [ERROR], status: '409', scimType: 'uniqueness' });
    expect(dup.res.headers.get('location')).toBeNull();

    const invalid = await call('/Users', { method: 'POST', body: { schemas: [CORE_USER], name: { givenName: 'x' } } });
    expect(invalid.status).toBe(400);
    expect(server.store.users.size).toBe(31);
  });

  it('replaces a user with PUT (version bump, If-Match) and keeps userName unique', async () => {
    const u = server.userByName('renee')!;
    const put = await call(`/Users/${u.id}`, {
      method: 'PUT',
      headers: { 'if-match': u.meta.version },
      body: { schemas: [CORE_USER], userName: 'renee', displayName: 'Renée O.', active: false },
    });
    expect(put.status, put.text).toBe(200);
    const body = put.json<UserBody>();
    expect(body).toMatchObject({ id: u.id, displayName: 'Renée O.', active: false, meta: { version: 'W/"2"', created: u.meta.created } });
    expect(body.emails).toBeUndefined();
    expect(body[ENTERPRISE]).toBeUndefined();
    expect(put.res.headers.get('etag')).toBe('W/"2"');
    expect(server.store.users.get(u.id)!.password).toBe('S3cret!');

    const stale = await call(`/Users/${u.id}`, { method: 'PUT', headers: { 'if-match': 'W/"1"' }, body: { schemas: [CORE_USER], userName: 'renee' } });
    expect(stale.status).toBe(412);
    expect(stale.json<ErrorBody>()).toMatchObject({ schemas: [ERROR], status: '412' });
    expect(server.store.users.get(u.id)!.displayName).toBe('Renée O.');

    const taken = await call(`/Users/${u.id}`, { method: 'PUT', body: { schemas: [CORE_USER], userName: 'user00002' } });
    expect(taken.status).toBe(409);
    expect(taken.json<ErrorBody>().scimType).toBe('uniqueness');

    const missing = await call('/Users/nope', { method: 'PUT', body: { schemas: [CORE_USER], userName: 'zzz' } });
    expect(missing.status).toBe(404);
  });

  it('patches a user: replace an attribute, add an email, extension path; 204 when nothing changes', async () => {
    const u = server.userByName('user00003')!;
    const patch = await call(`/Users/${u.id}`, {
      method: 'PATCH',
      body: {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'replace', path: 'active', value: false },
          { op: 'replace', value: { displayName: 'Ana N.' } },
          { op: 'add', path: 'emails', value: [{ value: 'ana@elsewhere.example', type: 'other' }] },
          { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Legal' },
        ],
      },
    });
    expect(patch.status, patch.text).toBe(200);
    const body = patch.json<UserBody>();
    expect(body).toMatchObject({ active: false, displayName: 'Ana N.', meta: { version: 'W/"2"' } });
    expect(body.emails!.map((e) => e.value)).toEqual(['user00003@example.org', expect.stringContaining('@home.example') as string, 'ana@elsewhere.example']);
    expect(body[ENTERPRISE]).toMatchObject({ department: 'Legal', employeeNumber: 'E00003' });
    expect(patch.res.headers.get('etag')).toBe('W/"2"');
    const stored: ScimUser = server.store.users.get(u.id)!;
    expect(stored.emails).toHaveLength(3);
    expect(stored.groups).toBeUndefined();

    const same = await call(`/Users/${u.id}`, { method: 'PATCH', body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] } });
    expect(same.status).toBe(204);
    expect(server.store.users.get(u.id)!.meta.version).toBe('W/"2"');

    const removeFiltered = await call(`/Users/${u.id}${q({ attributes: 'userName' })}`, {
      method: 'PATCH',
      body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'emails[type eq "other"]' }] },
    });
    expect(removeFiltered.status, removeFiltered.text).toBe(200);
    expect(server.store.users.get(u.id)!.emails).toHaveLength(2);
    expect(server.store.users.get(u.id)!.displayName).toBe('Ana N.');

    const stale = await call(`/Users/${u.id}`, { method: 'PATCH', headers: { 'if-match': 'W/"2"' }, body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] } });
    expect(stale.status).toBe(412);

    const dup = await call(`/Users/${u.id}`, { method: 'PATCH', body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userName', value: 'USER00004' }] } });
    expect(dup.status).toBe(409);

    const badOp = await call(`/Users/${u.id}`, { method: 'PATCH', body: { schemas: [PATCH_OP], Operations: [{ op: 'explode', path: 'active' }] } });
    expect(badOp.status).toBe(400);
    expect(badOp.res.headers.get('etag')).toBeNull();
  });

  it('creates and patches groups; members get display/$ref/type and users get groups', async () => {
    const a = server.userByName('user00011')!;
    const b = server.userByName('user00012')!;
    const created = await call('/Groups', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Qualité', members: [{ value: a.id }] } });
    expect(created.status, created.text).toBe(201);
    const g = created.json<GroupBody>();
    expect(g.members).toEqual([{ value: a.id, display: a.displayName, $ref: a.meta.location, type: 'User' }]);

    const add = await call(`/Groups/${g.id}`, { method: 'PATCH', body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: b.id }] }] } });
    expect(add.status, add.text).toBe(200);
    expect(add.json<GroupBody>().members!.map((m) => m.value)).toEqual([a.id, b.id]);
    const bGroups = (await call(`/Users/${b.id}`)).json<UserBody>().groups!.map((x) => x.display);
    expect(bGroups).toContain('Qualité');

    const remove = await call(`/Groups/${g.id}`, { method: 'PATCH', body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${a.id}"]` }] } });
    expect(remove.status, remove.text).toBe(200);
    expect(server.store.groups.get(g.id)!.members!.map((m) => m.value)).toEqual([b.id]);
    expect((await call(`/Users/${a.id}`)).json<UserBody>().groups!.map((x) => x.display)).not.toContain('Qualité');

    const ghost = await call(`/Groups/${g.id}`, { method: 'PATCH', body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: 'ghost' }] }] } });
    expect(ghost.status).toBe(400);
    expect(ghost.json<ErrorBody>().scimType).toBe('invalidValue');
  });

  it('deletes a user (204, then 404) and drops it from its groups', async () => {
    const u = server.userByName('user00004')!;
    const group = [...server.store.groups.values()].find((g) => g.members?.some((m) => m.value === u.id))!;
    const del = await call(`/Users/${u.id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await call(`/Users/${u.id}`)).status).toBe(404);
    expect((await call(`/Users/${u.id}`, { method: 'DELETE' })).status).toBe(404);
    expect(server.store.users.has(u.id)).toBe(false);
    expect(server.userByName('user00004')).toBeUndefined();
    expect(server.store.groups.get(group.id)!.members!.some((m) => m.value === u.id)).toBe(false);
    expect(server.store.groups.get(group.id)!.meta.version).toBe('W/"2"');
    // The name is free again.
    expect((await call('/Users', { method: 'POST', body: { schemas: [CORE_USER], userName: 'user00004' } })).status).toBe(201);

    const g = [...server.store.groups.values()][0]!;
    const stale = await call(`/Groups/${g.id}`, { method: 'DELETE', headers: { 'if-match': 'W/"999"' } });
    expect(stale.status).toBe(412);
    expect((await call(`/Groups/${g.id}`, { method: 'DELETE', headers: { 'if-match': g.meta.version } })).status).toBe(204);
  });

  it('filters on complex and extension attributes that some users lack', async () => {
    const bare = await call('/Users', { method: 'POST', body: { schemas: [CORE_USER], userName: 'bare' } });
    expect(bare.status, bare.text).toBe(201);
    const users = [...server.store.users.values()];
    const byFamily = await list(`/Users${q({ filter: 'name.familyName pr', count: 0 })}`);
    expect(byFamily.totalResults).toBe(users.filter((u) => u.name?.familyName !== undefined).length);
    const noDept = await list(`/Users${q({ filter: `not (${ENTERPRISE}:department pr)`, attributes: 'userName' })}`);
    expect(noDept.Resources.map((r) => r.userName)).toContain('bare');
    const sorted = await list(`/Users${q({ sortBy: 'name.familyName', sortOrder: 'ascending', count: 200 })}`);
    expect(sorted.Resources.at(-1)!.name).toBeUndefined();
  });

  it('failNext: injected 503 with Retry-After, 429 with a custom body, then normal service', async () => {
    server.failNext(503, undefined, { 'Retry-After': '2' });
    server.failNext(429, { schemas: [ERROR], status: '429', detail: 'slow down' }, { 'Retry-After': '1' });
    const first = await call('/Users?count=1');
    expect(first.status).toBe(503);
    expect(first.res.headers.get('retry-after')).toBe('2');
    expect(first.json<ErrorBody>()).toMatchObject({ schemas: [ERROR], status: '503' });
    const second = await call('/Users?count=1');
    expect(second.status).toBe(429);
    expect(second.json<ErrorBody>().detail).toBe('slow down');
    expect((await call('/Users?count=1')).status).toBe(200);
    expect(server.requests.slice(-3).map((r) => r.status)).toEqual([503, 429, 200]);
  });

  it('stop() refuses connections, start() comes back on the same port with the same data', async () => {
    const port = server.port;
    const users = server.store.users.size;
    await server.stop();
    await expect(fetch(`${server.url}/Users`)).rejects.toThrow();
    await server.start();
    expect(server.port).toBe(port);
    const page = await list('/Users?count=1');
    expect(page.totalResults).toBe(users);
    expect(server.userByName('renee')).toBeDefined();
  });

  it('latency delays every request', async () => {
    server.setLatency(150);
    const t = performance.now();
    expect((await call('/Users?count=1')).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
    server.setLatency(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('OAuth client credentials', () => {
  let server: ScimServer;
  let expiring: ScimServer;
  printScimLogOnFailure(() => server);

  beforeAll(async () => {
    server = await startScimServer({ users: 5, groups: 1, oauth: { clientId: 'agent', clientSecret: 's3cr3t' } });
    expiring = await startScimServer({ users: 1, groups: 0, oauth: { clientId: 'agent', clientSecret: 's3cr3t', expiresInSec: 0 } });
  });
  afterAll(async () => {
    await server?.close();
    await expiring?.close();
  });

  const token = (s: ScimServer, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(s.tokenUrl!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });

  it('issues bearer tokens (client_secret_post and client_secret_basic) that the SCIM endpoints accept', async () => {
    expect(server.tokenUrl).toBe(`http://127.0.0.1:${server.port}/oauth/token`);
    const res = await token(server, { grant_type: 'client_credentials', client_id: 'agent', client_secret: 's3cr3t' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(body.access_token).not.toBe(server.token);
    const users = await fetch(`${server.url}/Users`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(users.status).toBe(200);
    expect(((await users.json()) as ListBody).totalResults).toBe(5);

    const viaBasic = await token(server, { grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from('agent:s3cr3t').toString('base64')}` });
    expect(viaBasic.status).toBe(200);

    const spc = (await (await fetch(`${server.url}/ServiceProviderConfig`, { headers: { authorization: `Bearer ${body.access_token}` } })).json()) as {
      authenticationSchemes: Array<{ type: string }>;
    };
    expect(spc.authenticationSchemes.map((s) => s.type)).toEqual(['oauthbearertoken', 'oauth2']);
  });

  it('refuses bad clients, grants and expired tokens', async () => {
    const badSecret = await token(server, { grant_type: 'client_credentials', client_id: 'agent', client_secret: 'nope' });
    expect(badSecret.status).toBe(401);
    expect(await badSecret.json()).toMatchObject({ error: 'invalid_client' });
    const badBasic = await token(server, { grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from('agent:x').toString('base64')}` });
    expect(badBasic.status).toBe(401);
    expect(badBasic.headers.get('www-authenticate')).toMatch(/^Basic/);
    const badGrant = await token(server, { grant_type: 'password', client_id: 'agent', client_secret: 's3cr3t' });
    expect(badGrant.status).toBe(400);
    expect(await badGrant.json()).toMatchObject({ error: 'unsupported_grant_type' });
    const noGrant = await token(server, { client_id: 'agent', client_secret: 's3cr3t' });
    expect(noGrant.status).toBe(400);
    expect(await noGrant.json()).toMatchObject({ error: 'invalid_request' });

    const expired = (await (await token(expiring, { grant_type: 'client_credentials', client_id: 'agent', client_secret: 's3cr3t' })).json()) as { access_token: string };
    const refused = await fetch(`${expiring.url}/Users`, { headers: { authorization: `Bearer ${expired.access_token}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('has no token endpoint unless oauth is configured', async () => {
    const plain = await startScimServer({ users: 1, groups: 0 });
    try {
      expect(plain.tokenUrl).toBeUndefined();
      const res = await fetch(`http://127.0.0.1:${plain.port}/oauth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }) });
      expect(res.status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('https and several servers in one process', () => {
  let dir: string;
  let tls: ScimServer;
  let plain: ScimServer;
  printScimLogOnFailure(() => tls);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scim-tls-'));
    const pki = makeTestPki(dir);
    tls = await startScimServer({ users: 3, groups: 1, tls: pki.server, token: 't' });
    plain = await startScimServer({ users: 7, groups: 2, token: 't' });
  });
  afterAll(async () => {
    await tls?.close();
    await plain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves https with the test PKI and refuses clients that do not trust its CA', async () => {
    expect(tls.url).toBe(`https://127.0.0.1:${tls.port}/scim/v2`);
    const trusting = new Agent({ connect: { ca: makeTestPki(dir).ca.certPem } });
    try {
      const res = await undiciFetch(`${tls.url}/Users`, { dispatcher: trusting, headers: { authorization: 'Bearer t' } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as ListBody;
      expect(body.totalResults).toBe(3);
      expect(String((body.Resources[0]!.meta as { location: string }).location)).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${tls.port}/scim/v2/Users/`));
    } finally {
      await trusting.close();
    }
    await tls.stop();
    await tls.start();
    const again = new Agent({ connect: { ca: makeTestPki(dir).ca.certPem } });
    try {
      expect((await undiciFetch(`${tls.url}/Users`, { dispatcher: again, headers: { authorization: 'Bearer t' } })).status).toBe(200);
    } finally {
      await again.close();
    }
    const untrusting = new Agent({ connect: { ca: makeTestPki(dir).otherCa.certPem } });
    try {
      await expect(undiciFetch(`${tls.url}/Users`, { dispatcher: untrusting, headers: { authorization: 'Bearer t' } })).rejects.toThrow();
    } finally {
      await untrusting.close();
    }
  });

  it('keeps data, base URLs and configuration apart between concurrent servers', async () => {
    const trusting = new Agent({ connect: { ca: makeTestPki(dir).ca.certPem } });
    try {
      // scimmy's base paths are process-wide; interleaved requests must still see their own server.
      const locations = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const s = i % 2 === 0 ? tls : plain;
          const init = {
            method: i % 4 < 2 ? 'GET' : 'POST',
            headers: { authorization: 'Bearer t', 'content-type': 'application/scim+json' },
            ...(i % 4 < 2 ? {} : { body: JSON.stringify({ schemas: [CORE_USER], userName: `concurrent-${i}` }) }),
          };
          const path = i % 4 < 2 ? '/Users?count=1' : '/Users';
          const res = s === tls ? await undiciFetch(`${s.url}${path}`, { ...init, dispatcher: trusting }) : await fetch(`${s.url}${path}`, init);
          const body = (await res.json()) as { Resources?: Array<{ meta: { location: string } }>; meta?: { location: string } };
          return { origin: s.url, location: (body.Resources?.[0]?.meta ?? body.meta)!.location };
        }),
      );
      for (const { origin, location } of locations) expect(location.startsWith(`${origin}/Users/`)).toBe(true);

      const [a, b] = await Promise.all([
        undiciFetch(`${tls.url}/Users?count=100`, { dispatcher: trusting, headers: { authorization: 'Bearer t' } }).then(async (r) => (await r.json()) as ListBody),
        fetch(`${plain.url}/Users?count=100`, { headers: { authorization: 'Bearer t' } }).then(async (r) => (await r.json()) as ListBody),
      ]);
      expect(a.totalResults).toBe(3 + 10);
      expect(b.totalResults).toBe(7 + 10);
      for (const r of b.Resources) expect(String((r.meta as { location: string }).location)).toContain(`http://127.0.0.1:${plain.port}/`);
      for (const r of a.Resources) expect(String((r.meta as { location: string }).location)).toContain(`https://127.0.0.1:${tls.port}/`);
    } finally {
      await trusting.close();
    }
  });
});
