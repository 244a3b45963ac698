/**
 * The HTTP API's per-request hook (api.ts): metrics for every request, the API-token check
 * (a cached token answered without waiting), the tenant's in-flight bound, and the access-log
 * line once an admitted request ends — over a real hub listener and raw sockets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, loadHubConfig } from '../../src/config/index.js';
import { Hub } from '../../src/hub/hub.js';
import { captureLogs } from '../helpers/log-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'api-admission-'));
const logs = captureLogs('info');
let hub: Hub;
let base: string;
let port: number;

beforeAll(async () => {
  const file = join(dir, 'hub.yaml');
  writeFileSync(
    file,
    `listen: { host: 127.0.0.1, port: 0, path: /agent }
api: { maxInFlightPerTenant: 1 }
tenants:
  acme:
    agents: []
    apiTokens: ['${await hashToken('acme-token')}']
`,
  );
  hub = new Hub(loadHubConfig(file, {}), logs.logger);
  port = (await hub.listen()).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

const accessLines = () => logs.records().filter((r) => r['msg'] === 'API request');
const get = (path: string, token?: string) => request(`${base}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

/** Sends a POST whose body never finishes: the request stays admitted until the socket closes. */
async function heldRequest(): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write('POST /v1/data-sources/x/get HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer acme-token\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
  return socket;
}

async function metric(line: string): Promise<number> {
  const text = await hub.metrics.registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length).trim());
}

describe('API admission', () => {
  it('refuses a missing or bad token with 401 and no access-log line, counting the request', async () => {
    const none = await get('/v1/agents');
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="datasync-hub"');
    expect(((await none.body.json()) as { code: string }).code).toBe('UNAUTHORIZED');
    const bad = await get('/v1/agents', 'wrong');
    expect(bad.statusCode).toBe(401);
    await bad.body.dump();
    // Twice: the second answer comes from the cached miss, and says the same.
    const again = await get('/v1/agents', 'wrong');
    expect(again.statusCode).toBe(401);
    expect(((await again.body.json()) as { message: string }).message).toBe('the API token is not valid');
    expect(accessLines()).toEqual([]);
    expect(await metric('datasync_hub_api_requests_total{route="/v1/agents",op="",status="401"}')).toBe(3);
  });

  it('admits a valid token (first verified, then cached) and logs each request once it ends', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await get('/v1/agents', 'acme-token');
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ agents: [] });
    }
    await expect.poll(() => accessLines().length).toBe(2);
    expect(accessLines()[1]).toMatchObject({ tenantId: 'acme', method: 'GET', url: '/v1/agents', status: 200, completed: true, component: 'http-api' });
    expect(typeof accessLines()[1]?.['requestId']).toBe('string');
    expect(await metric('datasync_hub_api_requests_total{route="/v1/agents",op="",status="200"}')).toBe(2);
  });

  it("bounds the tenant's requests in flight, and frees the slot when a request ends", async () => {
    const held = await heldRequest();
    await expect.poll(async () => (await get('/v1/agents', 'acme-token')).statusCode).toBe(429);
    expect(await metric('datasync_hub_api_requests_in_flight ')).toBe(1);
    const closed = new Promise((r) => held.once('close', r));
    held.destroy();
    await closed;
    await expect.poll(async () => (await get('/v1/agents', 'acme-token')).statusCode).toBe(200);
    await expect.poll(() => metric('datasync_hub_api_requests_in_flight ')).toBe(0);
    // The held request was admitted, so it has its line too (not completed: the client left).
    expect(accessLines().some((r) => r['url'] === '/v1/data-sources/x/get' && r['completed'] === false)).toBe(true);
  });
});
