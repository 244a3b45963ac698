/**
 * A real plain-HTTP hub on 127.0.0.1 behind "proxies" that are clients bound to distinct
 * loopback addresses: 127.0.0.2 is in `trustedProxies`, 127.0.0.3 is anyone else. From the
 * trusted address X-Forwarded-For sets the client address of `/v1/agents`, of the logs (the
 * API request line's `client`, the upgrade's `remote`) and of the authentication penalties
 * (failures forwarded for one client do not penalise another behind the same proxy); from the
 * other address the header is ignored. A client certificate forwarded by the trusted address
 * registers a certificate agent on the plain-HTTP hub; the same header from anyone else is
 * refused. The per-address pending cap spares the proxy. NDJSON answers carry the headers a
 * proxy needs not to buffer or transform them.
 */
import { once } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed, vi } from 'vitest';
import { WebSocket } from 'ws';
import { loadHubConfig } from '../../src/config/index.js';
import { Hub } from '../../src/hub/hub.js';
import { SUBPROTOCOL } from '../../src/protocol/index.js';
import { nginxEscaped } from '../helpers/cert-chains.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { API_TOKENS, basicAgentYaml, fixtureHashes, isState, makeEnv, memoryDataSourceYaml, startAgent, type Env } from '../helpers/relay-env.js';

const PROXY = '127.0.0.2';
const STRANGER = '127.0.0.3';
const BASIC_OK = `Basic ${Buffer.from('agent:agent-secret-123').toString('base64')}`;
const BASIC_WRONG = `Basic ${Buffer.from('agent:wrong-password').toString('base64')}`;

let env: Env;
let hub: Hub;
let logs: LogCapture;
let port: number;

async function startProxiedHub(extra: string): Promise<{ hub: Hub; logs: LogCapture; port: number }> {
  const h = await fixtureHashes();
  const file = join(env.dir, `hub-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `
logging: { level: trace }
listen: { host: 127.0.0.1, port: 0, path: /agent }
trustedProxies: [${PROXY}, "10.0.0.0/8"]
forwardedClientCertificate: { header: X-Client-Cert }
tls: { clientCa: ${env.pki.ca.file} }
${extra}
tenants:
  "1":
    apiTokens: ['${h.token1}']
    agents:
      - userName: agent
        passwordHash: ${h.agent}
      - certificateSubject: site-a-1
`,
  );
  const capture = captureLogs('trace');
  const started = new Hub(loadHubConfig(file, {}), capture.logger);
  const address = await started.listen();
  return { hub: started, logs: capture, port: address.port };
}

beforeAll(async () => {
  env = makeEnv();
  // Two failures open a minute-long penalty window: the second wrong attempt is the last checked.
  ({ hub, logs, port } = await startProxiedHub('authentication: { freeFailures: 1, penaltyBase: 60000, penaltyMax: 60000 }'));
});

afterAll(async () => {
  await hub?.close();
  env?.cleanup();
});

function printLogsOnFailure(): void {
  onTestFailed(() => console.error(`--- hub log ---\n${logs.text()}`));
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP request from `from` (a fresh connection, closed after). */
function http(from: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, localAddress: from, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

type Upgrade = { readonly ok: true; readonly ws: WebSocket; readonly sessionId: string } | { readonly ok: false; readonly status: number; readonly body: string };

/** An agent upgrade from `from`, then hello as `agentId` of tenant 1; resolves once welcomed or refused. */
function agentUpgrade(from: string, headers: Record<string, string>, agentId: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/agent`, SUBPROTOCOL, { headers, localAddress: from, perMessageDeflate: false });
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    ws.on('error', reject);
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { id: agentId, version: 'test', hostname: 'h' }, tenantId: '1', dataSources: [] })),
    );
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as { type: string; sessionId?: string };
      if (frame.type === 'welcome') resolve({ ok: true, ws, sessionId: frame.sessionId ?? '' });
      else reject(new Error(`unexpected frame ${data.toString('utf8')}`));
    });
  });
}

async function closeAgent(upgrade: Upgrade, agentId: string): Promise<void> {
  if (!upgrade.ok) return;
  upgrade.ws.close();
  await vi.waitFor(() => expect(hub.registry.get('1', agentId)).toBeUndefined(), { timeout: 10_000, interval: 20 });
}

async function agentsSeen(): Promise<Array<{ id: string; remoteAddress: string }>> {
  const answer = await http(STRANGER, 'GET', '/v1/agents', { authorization: `Bearer ${API_TOKENS.tenant1}` });
  expect(answer.status).toBe(200);
  return (JSON.parse(answer.body) as { agents: Array<{ id: string; remoteAddress: string }> }).agents;
}

const records = (msg: string): Array<Record<string, unknown>> => logs.records().filter((r) => r['msg'] === msg);

describe('the client address behind a trusted proxy', () => {
  it('X-Forwarded-For from the trusted address sets the remote address of /v1/agents and of the upgrade log', async () => {
    printLogsOnFailure();
    const upgrade = await agentUpgrade(PROXY, { authorization: BASIC_OK, 'x-forwarded-for': '6.6.6.6, 198.51.100.7' }, 'behind-proxy');
    expect(upgrade.ok).toBe(true);
    expect((await agentsSeen()).find((a) => a.id === 'behind-proxy')?.remoteAddress).toBe('198.51.100.7');
    const registered = records('agent registered').find((r) => r['agentId'] === 'behind-proxy');
    expect(registered).toMatchObject({ remote: '198.51.100.7', proxy: expect.stringMatching(/^127\.0\.0\.2:\d+$/) as string });
    await closeAgent(upgrade, 'behind-proxy');
  });

  it('from any other address the header is ignored: the socket peer is the client', async () => {
    printLogsOnFailure();
    const upgrade = await agentUpgrade(STRANGER, { authorization: BASIC_OK, 'x-forwarded-for': '198.51.100.8' }, 'not-behind-proxy');
    expect(upgrade.ok).toBe(true);
    expect((await agentsSeen()).find((a) => a.id === 'not-behind-proxy')?.remoteAddress).toMatch(/^127\.0\.0\.3:\d+$/);
    expect(records('agent registered').find((r) => r['agentId'] === 'not-behind-proxy')).not.toHaveProperty('proxy');
    expect(logs.records().some((r) => r['msg'] === 'forwarding header ignored: the socket peer is the client' && String(r['reason']).includes('127.0.0.3'))).toBe(true);
    await closeAgent(upgrade, 'not-behind-proxy');
  });

  it("every API log line carries the client: the forwarded one from the trusted address, the peer's from anyone else", async () => {
    printLogsOnFailure();
    const auth = { authorization: `Bearer ${API_TOKENS.tenant1}` };
    await http(PROXY, 'GET', '/v1/agents', { ...auth, 'x-forwarded-for': '198.51.100.20', 'x-request-id': 'via-proxy' });
    await http(STRANGER, 'GET', '/v1/agents', { ...auth, 'x-forwarded-for': '198.51.100.21', 'x-request-id': 'not-via-proxy' });
    await http(PROXY, 'GET', '/v1/no-such-route', { ...auth, forwarded: 'for="[2001:db8::9]:4711"', 'x-request-id': 'unknown-route' });
    await vi.waitFor(() => expect(records('API request').map((r) => r['requestId'])).toEqual(expect.arrayContaining(['via-proxy', 'not-via-proxy', 'unknown-route'])));
    const line = (id: string): Record<string, unknown> | undefined => records('API request').find((r) => r['requestId'] === id);
    expect(line('via-proxy')).toMatchObject({ client: '198.51.100.20', proxy: expect.stringMatching(/^127\.0\.0\.2:\d+$/) as string });
    expect(line('not-via-proxy')).toMatchObject({ client: STRANGER });
    expect(line('not-via-proxy')).not.toHaveProperty('proxy');
    // Every line of a request, not only the access line (here the error handler's).
    const lines = logs.records().filter((r) => r['requestId'] === 'unknown-route');
    expect(lines.length).toBeGreaterThan(0);
    for (const r of lines) expect(r['client']).toBe('2001:db8::9');
  });
});

describe('authentication throttling counts the forwarded client', () => {
  it('agent upgrades: failures forwarded for one client penalise that client, not another behind the same proxy nor the proxy', async () => {
    printLogsOnFailure();
    const attacker = { 'x-forwarded-for': '198.51.100.66' };
    expect(await agentUpgrade(PROXY, { authorization: BASIC_WRONG, ...attacker }, 'x')).toMatchObject({ ok: false, status: 401 });
    expect(await agentUpgrade(PROXY, { authorization: BASIC_WRONG, ...attacker }, 'x')).toMatchObject({ ok: false, status: 401 });
    expect(await agentUpgrade(PROXY, { authorization: BASIC_OK, ...attacker }, 'x')).toMatchObject({ ok: false, status: 429 });
    expect(hub.credentialChecks.penalties.retryAfterMs('198.51.100.66')).toBeGreaterThan(0);
    expect(hub.credentialChecks.penalties.retryAfterMs(PROXY)).toBe(0);

    const other = await agentUpgrade(PROXY, { authorization: BASIC_OK, 'x-forwarded-for': '198.51.100.77' }, 'other-client');
    expect(other.ok).toBe(true);
    await closeAgent(other, 'other-client');
    // From an untrusted address the header names nobody: its own (clean) address is checked.
    const stranger = await agentUpgrade(STRANGER, { authorization: BASIC_OK, ...attacker }, 'stranger');
    expect(stranger.ok).toBe(true);
    await closeAgent(stranger, 'stranger');
  });

  it('API tokens: the same, with 429 TOO_MANY_REQUESTS for the penalised client only', async () => {
    printLogsOnFailure();
    const attacker = { 'x-forwarded-for': '198.51.100.88' };
    // A different wrong token each time: a repeated one is answered from the token cache, uncounted.
    for (const token of ['wrong-token-aaaaaaaaaaaa-1', 'wrong-token-aaaaaaaaaaaa-2']) {
      expect((await http(PROXY, 'GET', '/v1/agents', { authorization: `Bearer ${token}`, ...attacker })).status).toBe(401);
    }
    const refused = await http(PROXY, 'GET', '/v1/agents', { authorization: 'Bearer wrong-token-aaaaaaaaaaaa-3', ...attacker });
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    // Retry-After is the rest of the minute-long penalty window, not a fixed second.
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(50);
    expect(hub.credentialChecks.penalties.retryAfterMs('198.51.100.88')).toBeGreaterThan(0);
    expect(hub.credentialChecks.penalties.retryAfterMs(PROXY)).toBe(0);
    // Another client behind the proxy, with a token not yet cached, is checked and admitted.
    const secondHub = await startProxiedHub('authentication: { freeFailures: 1, penaltyBase: 60000, penaltyMax: 60000 }');
    try {
      const client = async (from: string, xff: string, token: string): Promise<number> => {
        const res = await new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            { host: '127.0.0.1', port: secondHub.port, path: '/v1/agents', headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': xff }, localAddress: from, agent: false },
            (r) => {
              r.resume();
              r.on('end', () => resolve(r.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end();
        });
        return res;
      };
      expect(await client(PROXY, '198.51.100.88', 'wrong-token-bbbbbbbbbbbb-1')).toBe(401);
      expect(await client(PROXY, '198.51.100.88', 'wrong-token-bbbbbbbbbbbb-2')).toBe(401);
      expect(await client(PROXY, '198.51.100.88', API_TOKENS.tenant1)).toBe(429);
      expect(await client(PROXY, '198.51.100.89', API_TOKENS.tenant1)).toBe(200);
    } finally {
      await secondHub.hub.close();
    }
  });
});

describe('client certificates forwarded by a TLS-terminating proxy', () => {
  const derBase64 = (pem: string): string => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

  it("registers a certificate agent on the plain-HTTP hub from the trusted address (nginx's escaped PEM, HAProxy's base64 DER)", async () => {
    printLogsOnFailure();
    for (const [form, value] of [
      ['nginx', nginxEscaped(env.pki.client.certPem)],
      ['haproxy', derBase64(env.pki.client.certPem)],
    ] as const) {
      const agentId = `cert-agent-${form}`;
      const upgrade = await agentUpgrade(PROXY, { 'x-client-cert': value, 'x-forwarded-for': '198.51.100.30' }, agentId);
      expect(upgrade.ok, form).toBe(true);
      const link = hub.registry.get('1', agentId);
      expect(link?.principal).toEqual({ kind: 'certificate', subject: 'site-a-1', tenants: ['1'] });
      expect(link?.remoteAddress).toBe('198.51.100.30');
      await closeAgent(upgrade, agentId);
    }
  });

  it('refuses the same header from any other address (403, warn log), even with valid Basic credentials', async () => {
    printLogsOnFailure();
    const refused = await agentUpgrade(STRANGER, { 'x-client-cert': nginxEscaped(env.pki.client.certPem), authorization: BASIC_OK }, 'forged-cert');
    expect(refused).toMatchObject({ ok: false, status: 403 });
    expect(!refused.ok && JSON.parse(refused.body)).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringMatching(/X-Client-Cert|x-client-cert/i) as string });
    expect(!refused.ok && refused.body).toMatch(/only from a trusted proxy/);
    const warned = logs.records().filter((r) => r['msg'] === 'agent upgrade refused' && r['level'] === 40 && r['status'] === 403);
    expect(warned.some((r) => String(r['reason']).includes('127.0.0.3'))).toBe(true);
    expect(hub.registry.get('1', 'forged-cert')).toBeUndefined();
  });

  it('refuses a forwarded certificate the client CA did not issue, or that has expired (401)', async () => {
    printLogsOnFailure();
    const { readFileSync } = await import('node:fs');
    const expired = readFileSync(env.pki.expiredClient.certFile, 'utf8');
    const expiredAnswer = await agentUpgrade(PROXY, { 'x-client-cert': nginxEscaped(expired) }, 'expired-cert');
    expect(expiredAnswer).toMatchObject({ ok: false, status: 401 });
    expect(!expiredAnswer.ok && expiredAnswer.body).toMatch(/forwarded client certificate not trusted: .*has expired/);
    const caAsLeaf = await agentUpgrade(PROXY, { 'x-client-cert': nginxEscaped(env.pki.otherCa.certPem) }, 'other-ca');
    expect(caAsLeaf).toMatchObject({ ok: false, status: 401 });
    const garbage = await agentUpgrade(PROXY, { 'x-client-cert': 'not a certificate' }, 'garbage');
    expect(garbage).toMatchObject({ ok: false, status: 401 });
  });
});

describe('admission', () => {
  it('spares a trusted proxy the per-address pending cap, not anyone else', async () => {
    const capped = await startProxiedHub('connections: { maxPendingPerAddress: 2 }');
    const sockets: Socket[] = [];
    const open = async (from: string): Promise<Socket> => {
      const socket = connect({ host: '127.0.0.1', port: capped.port, localAddress: from });
      socket.on('error', () => undefined);
      sockets.push(socket);
      await once(socket, 'connect');
      return socket;
    };
    try {
      for (let i = 0; i < 3; i++) await open(PROXY);
      await vi.waitFor(() => expect(capped.hub.pendingConnectionCount()).toBe(3));
      await open(STRANGER);
      await open(STRANGER);
      await vi.waitFor(() => expect(capped.hub.pendingConnectionCount()).toBe(5));
      const third = await open(STRANGER);
      await once(third, 'close');
      expect(capped.hub.pendingConnectionCount()).toBe(5);
      const refused = await capped.hub.metrics.registry.getSingleMetricAsString('datasync_hub_connections_refused_total');
      expect(refused).toMatch(/reason="pending_per_address"} 1$/m);
    } finally {
      for (const s of sockets) s.destroy();
      await capped.hub.close();
    }
  });
});

describe('NDJSON answers', () => {
  it('search and export carry X-Accel-Buffering: no and Cache-Control: no-cache, no-transform', async () => {
    printLogsOnFailure();
    const agent = startAgent(env, basicAgentYaml(env, [`ws://127.0.0.1:${port}/agent`]), memoryDataSourceYaml(), {
      adapters: new Map([['mem', memoryAdapter({ items: 5, pageSize: 2 })]]),
    });
    try {
      await agent.statuses.next(isState('registered'));
      const auth = { authorization: `Bearer ${API_TOKENS.tenant1}` };
      const search = await http(PROXY, 'POST', '/v1/data-sources/mem/search', { ...auth, 'content-type': 'application/json' }, '{}');
      const exported = await http(PROXY, 'POST', '/v1/data-sources/mem/export', { ...auth, 'content-type': 'application/x-ndjson' }, '{"op":"add","dn":"uid=a"}\n');
      for (const answer of [search, exported]) {
        expect(answer.status).toBe(200);
        expect(answer.headers['content-type']).toMatch(/^application\/x-ndjson/);
        expect(answer.headers['x-accel-buffering']).toBe('no');
        expect(answer.headers['cache-control']).toBe('no-cache, no-transform');
      }
      expect(search.body.trim().split('\n')).toHaveLength(6);
    } finally {
      agent.stop();
    }
  });
});
