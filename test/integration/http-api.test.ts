/**
 * The hub's HTTP API over real TLS, hub ↔ agent with an in-memory data source that records
 * every page pull: auth and tenant isolation, result operations and their error statuses,
 * NDJSON search with a slow reader (page pulls stop while it pauses), client disconnect
 * (cancel on the agent), a mid-stream failure (error line), exports (results, bad lines),
 * body limits and media types, deadlines, and spreading over two agents.
 */
import { readFileSync } from 'node:fs';
import { Agent as UndiciAgent, request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { HubApiError, HubClient } from '../../src/hub/client.js';
import { memoryAdapter, type MemoryAdapter } from '../helpers/memory-adapter.js';
import { API_TOKENS, basicAgentYaml, isState, memoryDataSourceYaml, relayFixture, roundTrips, startAgent, type RunningHub, type TestAgent } from '../helpers/relay-env.js';

const fx = relayFixture();
let ca: Buffer;
let dispatcher: UndiciAgent;
beforeAll(() => {
  ca = readFileSync(fx.env.pki.ca.file);
  dispatcher = new UndiciAgent({ connect: { ca } });
  return () => dispatcher.close();
});

/** Consecutive round trips without a pull that count as "stopped". */
const QUIET_ROUNDS = 5;

/**
 * The page pulls once they stopped: round trips to the agent (each proves it acted on what the
 * hub sent before, credit included) are repeated until QUIET_ROUNDS in a row added no pull. No
 * sleep: each round is an exchange of frames; a reader that never stalls the agent fails on
 * `rounds`.
 */
async function pullsWhenStalled(hub: RunningHub, adapter: MemoryAdapter, rounds = 500): Promise<number> {
  let quiet = 0;
  for (let i = 0; i < rounds; i++) {
    const before = adapter.pulls.length;
    await roundTrips(hub.hub, '1', 1);
    quiet = adapter.pulls.length === before ? quiet + 1 : 0;
    if (quiet === QUIET_ROUNDS) return before;
  }
  throw new Error(`the agent was still pulling pages after ${rounds} round trips (${adapter.pulls.length} pulls)`);
}

async function setup(adapter: MemoryAdapter, hubExtra = ''): Promise<{ hub: RunningHub; agent: TestAgent; client: HubClient; base: string }> {
  const { hub, agent } = await fx.memoryRelay(adapter, { hub: { extra: hubExtra } });
  const base = `https://127.0.0.1:${hub.port}`;
  const client = new HubClient({ url: base, token: API_TOKENS.tenant1, ca });
  fx.later(() => client.close());
  return { hub, agent, client, base };
}

function call(base: string, path: string, init: { method?: string; token?: string | null; body?: string; type?: string; headers?: Record<string, string> } = {}) {
  const token = init.token === undefined ? API_TOKENS.tenant1 : init.token;
  return request(`${base}${path}`, {
    dispatcher,
    method: (init.method ?? 'GET') as 'GET',
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(init.body !== undefined ? { 'content-type': init.type ?? 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
}

async function failureOf(p: Promise<unknown>): Promise<HubApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubApiError);
  return err as HubApiError;
}

describe('auth and tenant isolation', () => {
  it('lists only the token tenant\'s agents; another tenant cannot see or reach them; no token, a bad token → 401', async () => {
    const { base, client, hub } = await setup(memoryAdapter());
    const agents = (await client.agents()) as Array<{ id: string; dataSources: Array<{ name: string; operations: string[] }>; inFlight: number }>;
    expect(agents.map((a) => a.id)).toEqual(['site-a-1']);
    expect(agents[0]?.dataSources).toEqual([{ name: 'mem', type: 'ldap', operations: ['test', 'get', 'search', 'export'] }]);
    expect(await client.dataSources()).toEqual([{ name: 'mem', type: 'ldap', operations: ['export', 'get', 'search', 'test'], agents: ['site-a-1'] }]);

    const other = new HubClient({ url: base, token: API_TOKENS.tenant2, ca });
    fx.later(() => other.close());
    expect(await other.agents()).toEqual([]);
    expect(await other.dataSources()).toEqual([]);
    // Tenant 2 asking for tenant 1's data source learns nothing about it.
    const e = await failureOf(other.test('mem'));
    expect([e.status, e.code]).toEqual([503, 'AGENT_DISCONNECTED']);
    // With an agent of its own, tenant 1's data source is answered exactly like a name nobody has.
    const own = startAgent(fx.env, basicAgentYaml(fx.env, [hub.url]).replace('id: site-a-1', 'id: site-b-1').replace('tenantId: 1', 'tenantId: 2').replace('userName: agent', 'userName: other').replace('agent-secret-123', 'other-secret-456'), memoryDataSourceYaml(undefined, 'own'), { adapters: new Map([['own', memoryAdapter()]]) });
    fx.later(() => own.stop());
    await own.statuses.next(isState('registered'));
    expect(((await other.agents()) as Array<{ id: string }>).map((a) => a.id)).toEqual(['site-b-1']);
    expect(((await client.agents()) as Array<{ id: string }>).map((a) => a.id)).toEqual(['site-a-1']);
    const foreign = await failureOf(other.test('mem'));
    const nobody = await failureOf(other.test('no-such-source'));
    expect([foreign.status, foreign.code]).toEqual([404, 'UNKNOWN_DATA_SOURCE']);
    expect(foreign.message.replace('"mem"', 'X')).toBe(nobody.message.replace('"no-such-source"', 'X'));

    for (const token of [null, 'not-a-token', `${API_TOKENS.tenant1}x`]) {
      const r = await call(base, '/v1/agents', { token });
      expect(r.statusCode).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      const body = (await r.body.json()) as { code: string; requestId: string };
      expect(body.code).toBe('UNAUTHORIZED');
      expect(body.requestId).toBe(r.headers['x-request-id']);
    }
  });

  it('serves the OpenAPI document without a token', async () => {
    const { base } = await setup(memoryAdapter());
    const r = await call(base, '/v1/openapi.json', { token: null });
    expect(r.statusCode).toBe(200);
    const doc = (await r.body.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/agents', '/v1/data-sources/{name}/search', '/v1/data-sources/{name}/export']));
  });
});

describe('result operations', () => {
  it('answers test and get; maps agent errors to statuses; echoes the request id the agent logged', async () => {
    const { client, agent } = await setup(memoryAdapter({ items: 10 }));
    expect(await client.test('mem', { requestId: 'trace-test-0001' })).toEqual({ ok: true, items: 10 });
    expect(agent.logs.text()).toContain('trace-test-0001');
    expect(await client.get('mem', { index: 3 })).toEqual({ index: 3, name: 'item-3' });

    const cases: Array<[Promise<unknown>, number, string]> = [
      [client.get('mem', { index: 99 }), 404, 'NOT_FOUND'],
      [client.test('nope'), 404, 'UNKNOWN_DATA_SOURCE'],
      [client.schema('mem'), 403, 'OPERATION_NOT_ALLOWED'],
    ];
    for (const [p, status, code] of cases) {
      const e = await failureOf(p);
      expect([e.status, e.code]).toEqual([status, code]);
    }
  });

  it('enforces ?timeoutMs (504 TIMEOUT) and refuses a bad one (400)', async () => {
    const { client, base } = await setup(memoryAdapter({ testDelayMs: 3000 }));
    const e = await failureOf(client.test('mem', { timeoutMs: 200 }));
    expect([e.status, e.code, e.retryable]).toEqual([504, 'TIMEOUT', true]);
    const r = await call(base, '/v1/data-sources/mem/test?timeoutMs=-1', { method: 'POST' });
    expect(r.statusCode).toBe(400);
    expect(((await r.body.json()) as { code: string }).code).toBe('BAD_REQUEST');
  });

  it('refuses bad JSON (400), a non-object body (400), text/plain (415), a body over api.maxBodyBytes (413), unknown routes (404)', async () => {
    const { base } = await setup(memoryAdapter(), 'api: { maxBodyBytes: 2000 }');
    const cases: Array<[Promise<Awaited<ReturnType<typeof call>>>, number, string]> = [
      [call(base, '/v1/data-sources/mem/get', { method: 'POST', body: '{"index":' }), 400, 'BAD_REQUEST'],
      [call(base, '/v1/data-sources/mem/get', { method: 'POST', body: '[1,2]' }), 400, 'BAD_REQUEST'],
      [call(base, '/v1/data-sources/mem/search', { method: 'POST', body: 'filter', type: 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [call(base, '/v1/data-sources/mem/search', { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(3000) }) }), 413, 'PAYLOAD_TOO_LARGE'],
      [call(base, '/v1/nothing-here'), 404, 'NO_SUCH_ROUTE'],
    ];
    for (const [p, status, code] of cases) {
      const r = await p;
      const body = (await r.body.json()) as { code: string; message: string };
      expect([r.statusCode, body.code], body.message).toEqual([status, code]);
    }
  });
});

describe('search as NDJSON', () => {
  it('streams every entry, then a summary line', async () => {
    const { base, hub } = await setup(memoryAdapter({ items: 2500, pageSize: 100 }));
    const r = await call(base, '/v1/data-sources/mem/search', { method: 'POST', body: '{}', headers: { 'x-request-id': 'search-1' } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(r.headers['x-request-id']).toBe('search-1');
    const lines = (await r.body.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2501);
    expect(lines[2499]).toEqual({ index: 2499, name: 'item-2499' });
    expect(lines[2500]).toEqual({ end: true, count: 2500, truncated: false });
    // The request is counted by route pattern (never the raw URL), op and status, once closed.
    await expect
      .poll(async () => (await hub.hub.metrics.registry.metrics()).split('\n'))
      .toContain('datasync_hub_api_requests_total{route="/v1/data-sources/:name/search",op="search",status="200"} 1');
    expect(await hub.hub.metrics.registry.metrics()).toContain('datasync_hub_api_requests_in_flight 0');
  });

  it('a slow reader stops the agent\'s page pulls; resuming completes with the exact count', async () => {
    // 60,000 items of ~1 KB: far more than every buffer between the agent and this reader.
    const adapter = memoryAdapter({ items: 60_000, pageSize: 200, padChars: 1000 });
    const { client, hub } = await setup(adapter);
    const it = client.search<{ index: number }>('mem')[Symbol.asyncIterator]();
    let seen = 0;
    for (; seen < 10; seen++) await it.next();
    // Stop reading: the response and socket buffers fill, then credit stops.
    const pausedAt = await pullsWhenStalled(hub, adapter);
    await roundTrips(hub.hub, '1', QUIET_ROUNDS);
    const afterPause = adapter.pulls.length;
    expect(afterPause).toBe(pausedAt);
    expect(pausedAt).toBeLessThan(300); // 300 pages = all; a stalled reader must not have pulled them
    for (let r = await it.next(); !r.done; r = await it.next()) seen += 1;
    expect(seen).toBe(60_000);
    expect(adapter.pulls).toHaveLength(300);
  });

  it('a client that disconnects mid-stream cancels the request on the agent', async () => {
    const adapter = memoryAdapter({ items: 100_000, pageSize: 100, pullDelayMs: 5 });
    const { client, hub } = await setup(adapter);
    const stream = client.search('mem');
    let n = 0;
    for await (const _ of stream) {
      if (++n === 500) break; // closes the response body
    }
    await expect.poll(() => adapter.closed.length, { timeout: 30_000 }).toBe(1);
    const pulls = adapter.pulls.length;
    await roundTrips(hub.hub);
    expect(adapter.counts.pullsAfterClose).toBe(0);
    expect(adapter.pulls.length).toBe(pulls);
    expect(pulls).toBeLessThan(1000);
    expect(stream.summary).toBeUndefined();
  });

  it('a failure mid-stream ends with an error line, never a summary', async () => {
    const { client, base } = await setup(memoryAdapter({ items: 5000, pageSize: 100, failAtPage: 30 }));
    const r = await call(base, '/v1/data-sources/mem/search', { method: 'POST', body: '{}' });
    expect(r.statusCode).toBe(200);
    const lines = (await r.body.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines.at(-1) as { count: number };
    expect(last).toMatchObject({ error: { code: 'UPSTREAM_UNAVAILABLE', retryable: true } });
    // Every line before it is an entry, counted; pages 30+ never came.
    expect(last.count).toBe(lines.length - 1);
    expect(last.count).toBeGreaterThan(0);
    expect(last.count).toBeLessThanOrEqual(3000);
    expect(lines.some((l) => l['end'] === true)).toBe(false);
    let n = 0;
    const e = await failureOf(
      (async () => {
        for await (const _ of client.search('mem')) n += 1;
      })(),
    );
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.count).toBe(n);
  });

  it('a failure before the first entry is a JSON error with a status', async () => {
    const { base } = await setup(memoryAdapter({ items: 500, failAtPage: 0 }));
    const r = await call(base, '/v1/data-sources/mem/search', { method: 'POST', body: '{}' });
    expect(r.statusCode).toBe(502);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(((await r.body.json()) as { code: string }).code).toBe('UPSTREAM_UNAVAILABLE');
  });
});

describe('export as NDJSON', () => {
  it('streams 10,000 records in and one result per record out, with a summary', async () => {
    const adapter = memoryAdapter();
    const { client } = await setup(adapter);
    const records = (function* () {
      for (let i = 0; i < 10_000; i++) yield i % 1000 === 7 ? { fail: true, i } : { i };
    })();
    const stream = client.export('mem', records);
    const results = [];
    for await (const r of stream) results.push(r);
    expect(results).toHaveLength(10_000);
    expect(results.map((r) => r.index)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(results.filter((r) => !r.ok)).toHaveLength(10);
    expect(stream.summary).toEqual({ end: true, count: 10_000, ok: 9_990, failed: 10 });
    expect(adapter.written).toHaveLength(9_990);
  });

  it('stops at a bad line: results for the records before it, then an error line naming it', async () => {
    const adapter = memoryAdapter();
    const { base } = await setup(adapter);
    const body = ['{"i":0}', '{"i":1}', '', '{"i":2}', '{"i": oops', '{"i":4}'].join('\n');
    const r = await call(base, '/v1/data-sources/mem/export', { method: 'POST', body, type: 'application/x-ndjson' });
    expect(r.statusCode).toBe(200);
    const lines = (await r.body.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 3)).toEqual([{ index: 0, ok: true }, { index: 1, ok: true }, { index: 2, ok: true }]);
    expect(lines[3]).toMatchObject({ error: { code: 'BAD_REQUEST' }, count: 3 });
    expect((lines[3] as { error: { message: string } }).error.message).toMatch(/line 5 is not JSON/);
    expect(adapter.written).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  it('refuses JSON (415), a line over api.maxLineBytes and a body over api.maxExportBytes (413)', async () => {
    const { base } = await setup(memoryAdapter(), 'api: { maxLineBytes: 100, maxExportBytes: 5000 }');
    const json = await call(base, '/v1/data-sources/mem/export', { method: 'POST', body: '[]' });
    expect([json.statusCode, ((await json.body.json()) as { code: string }).code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const long = await call(base, '/v1/data-sources/mem/export', { method: 'POST', body: `{"x":"${'y'.repeat(200)}"}\n`, type: 'application/x-ndjson' });
    expect([long.statusCode, ((await long.body.json()) as { code: string }).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const big = await call(base, '/v1/data-sources/mem/export', { method: 'POST', body: '{"i":1}\n'.repeat(1000), type: 'application/x-ndjson' });
    expect([big.statusCode, ((await big.body.json()) as { code: string }).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });
});

describe('several agents of one tenant', () => {
  it('spreads requests over the agents offering the data source; a stopped agent\'s requests go to the other', async () => {
    const a1 = memoryAdapter({ items: 3000, pageSize: 100, pullDelayMs: 2 });
    const a2 = memoryAdapter({ items: 3000, pageSize: 100, pullDelayMs: 2 });
    const { hub, client, agent: first } = await setup(a1);
    const second = startAgent(fx.env, basicAgentYaml(fx.env, [hub.url]).replace('id: site-a-1', 'id: site-a-2'), memoryDataSourceYaml(), { adapters: new Map([['mem', a2]]) });
    fx.later(() => second.stop());
    await second.statuses.next(isState('registered'));
    expect(((await client.agents()) as Array<{ id: string }>).map((a) => a.id).sort()).toEqual(['site-a-1', 'site-a-2']);

    const drain = async () => {
      let n = 0;
      for await (const _ of client.search('mem')) n += 1;
      return n;
    };
    expect(await Promise.all(Array.from({ length: 8 }, drain))).toEqual(Array(8).fill(3000));
    expect(a1.closed.length).toBeGreaterThan(0);
    expect(a2.closed.length).toBeGreaterThan(0);
    expect(a1.closed.length + a2.closed.length).toBe(8);

    first.stop();
    await expect.poll(async () => ((await client.agents()) as Array<{ id: string }>).map((a) => a.id), { timeout: 5000 }).toEqual(['site-a-2']);
    const before = a2.closed.length;
    expect(await Promise.all(Array.from({ length: 4 }, drain))).toEqual(Array(4).fill(3000));
    expect(a2.closed.length).toBe(before + 4);
  });
});
