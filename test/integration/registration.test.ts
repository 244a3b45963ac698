/**
 * Agent ↔ hub registration over real TLS on 127.0.0.1: Basic auth, client certificates,
 * refusals, tenant isolation, proxying, multiple URLs and the hub's request API.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { HubClient } from '../../src/hub/client.js';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ProtocolError, SUBPROTOCOL } from '../../src/protocol/index.js';
import { pongsOf } from '../helpers/keep-alive-pongs.js';
import { startConnectProxy } from '../helpers/connect-proxy.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import {
  API_TOKENS,
  basicAgentYaml,
  isState,
  makeEnv,
  startAgent,
  startHub,
  type Env,
  type RunningHub,
  type TestAgent,
} from '../helpers/relay-env.js';

let env: Env;
const cleanups: Array<() => unknown> = [];
const later = <T extends { close?: () => unknown; stop?: () => unknown }>(x: T): T => {
  cleanups.push(() => (x.stop ? x.stop() : x.close?.()));
  return x;
};

beforeAll(() => {
  env = makeEnv();
  return () => env.cleanup();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const LDAP_DS = `
dataSources:
  corp-ldap:
    type: ldap
    url: ldap://127.0.0.1:1389
    baseDN: dc=example,dc=com
`;

describe('registration', () => {
  it('registers over TLS with Basic auth and advertises data sources (no secrets in hello)', async () => {
    const hub = later(await startHub(env));
    const a = later(startAgent(env, basicAgentYaml(env, [hub.url]), LDAP_DS));
    const reg = await a.statuses.next(isState('registered'));
    expect(reg.status.url).toBe(hub.url);
    const links = hub.hub.registry.agents('1');
    expect(links).toHaveLength(1);
    expect(links[0]!.principal).toMatchObject({ kind: 'basic', userName: 'agent' });
    expect(links[0]!.hello?.dataSources).toEqual([
      { name: 'corp-ldap', type: 'ldap', operations: ['test', 'attributes', 'schema', 'get', 'search'] },
    ]);
    expect(JSON.stringify(links[0]!.hello)).not.toContain('agent-secret-123');
    expect(a.logs.text()).not.toContain('agent-secret-123');
    expect(hub.logs.text()).not.toContain('agent-secret-123');
  });

  it('registers with a PKCS#12 client certificate (mTLS); the certificate wins over Basic', async () => {
    const hub = later(await startHub(env));
    const a = later(
      startAgent(
        env,
        `  id: site-a-1
  urls: [${hub.url}]
  tenantId: 1
  userName: agent
  password: wrong-password-ignored
  keyStore: ${env.pki.client.p12File}
  keyStorePassword: ${env.pki.client.p12Password}
  trustStore: ${env.pki.trustP12File}
  trustStorePassword: ${env.pki.trustP12Password}
`,
      ),
    );
    await a.statuses.next(isState('registered'));
    expect(hub.hub.registry.agents('1')[0]!.principal).toMatchObject({ kind: 'certificate', subject: 'site-a-1' });
  });

  it('registers with a PEM certificate + key bundle', async () => {
    const hub = later(await startHub(env));
    const a = later(
      startAgent(
        env,
        `  urls: [${hub.url}]
  tenantId: 1
  keyStore: ${env.pki.client.pemBundleFile}
  trustStore: ${env.pki.ca.file}
`,
      ),
    );
    await a.statuses.next(isState('registered'));
    expect(hub.hub.registry.agents('1')[0]!.principal.kind).toBe('certificate');
  });

  it('a client certificate the hub does not trust (expired) is refused with 401, even with valid Basic credentials', async () => {
    const hub = later(await startHub(env));
    const a = later(
      startAgent(
        env,
        `  urls: [${hub.url}]
  tenantId: 1
  userName: agent
  password: agent-secret-123
  keyStore: ${env.pki.expiredClient.certFile}
  privateKey: ${env.pki.expiredClient.keyFile}
  trustStore: ${env.pki.ca.file}
`,
      ),
    );
    const refused = await a.statuses.next(isState('rejected'));
    expect(refused.status).toMatchObject({ code: 'HTTP_401' });
    expect(hub.logs.text()).toMatch(/client certificate not trusted: CERT_HAS_EXPIRED/);
    expect(hub.hub.registry.agents('1')).toHaveLength(0);
  });

  it('a wrong password is `rejected` with the reason and retried at backoff pace, not in a hot loop', async () => {
    const hub = later(await startHub(env));
    const yaml = basicAgentYaml(env, [hub.url]).replace('agent-secret-123', 'not-the-password');
    const a = later(startAgent(env, yaml));
    const first = await a.statuses.next(isState('rejected'));
    expect(first.status).toMatchObject({ state: 'rejected', code: 'HTTP_401' });
    expect(first.status.state === 'rejected' && first.status.reason).toMatch(/401.*credentials/);
    const second = await a.statuses.next(isState('rejected'));
    const third = await a.statuses.next(isState('rejected'));
    // reconnectDelay is 300 ms: each retry waits at least that long.
    expect(second.at - first.at).toBeGreaterThanOrEqual(290);
    expect(third.at - second.at).toBeGreaterThanOrEqual(290);
    expect(first.status.state === 'rejected' && first.status.retryInMs).toBeGreaterThanOrEqual(300);
    expect(hub.hub.registry.agents('1')).toHaveLength(0);
    expect(a.logs.text()).not.toContain('not-the-password');
  });

  it('refuses an agent whose hello claims another tenant (reject frame TENANT_MISMATCH)', async () => {
    const hub = later(await startHub(env));
    const yaml = basicAgentYaml(env, [hub.url]).replace('tenantId: 1', 'tenantId: 2');
    const a = later(startAgent(env, yaml));
    const rejected = await a.statuses.next(isState('rejected'));
    expect(rejected.status).toMatchObject({ code: 'TENANT_MISMATCH' });
    expect(hub.hub.registry.agents('2')).toHaveLength(0);
    expect(hub.hub.registry.agents('1')).toHaveLength(0);
  });

  it('an untrusted hub certificate gives a specific TLS error and no registration', async () => {
    const hub = later(await startHub(env));
    const yaml = basicAgentYaml(env, [hub.url]).replace(env.pki.ca.file, env.pki.otherCa.file);
    const a = later(startAgent(env, yaml));
    const d = await a.statuses.next(isState('disconnected'));
    expect(d.status).toMatchObject({ code: 'TLS_FAILED' });
    expect(d.status.state === 'disconnected' && d.status.reason).toMatch(/not trusted.*trustStore/);
    expect(hub.hub.registry.agents('1')).toHaveLength(0);
  });

  it('registers through an authenticating HTTP CONNECT proxy (mTLS inside the tunnel)', async () => {
    const hub = later(await startHub(env));
    const proxy = later(await startConnectProxy({ auth: { username: 'proxyuser', password: 'proxy-pass-789' } }));
    const a = later(
      startAgent(
        env,
        `  urls: [${hub.url}]
  tenantId: 1
  keyStore: ${env.pki.client.p12File}
  keyStorePassword: ${env.pki.client.p12Password}
  trustStore: ${env.pki.ca.file}
  proxy: ${proxy.authUrl}
`,
      ),
    );
    await a.statuses.next(isState('registered'));
    expect(proxy.connects.map((c) => [c.target, c.status])).toContainEqual([`127.0.0.1:${hub.port}`, 200]);
    expect(hub.hub.registry.agents('1')[0]!.principal.kind).toBe('certificate');
    expect(a.logs.text()).not.toContain('proxy-pass-789');
  });

  it('a proxy that demands other credentials gives PROXY_FAILED', async () => {
    const hub = later(await startHub(env));
    const proxy = later(await startConnectProxy({ auth: { username: 'proxyuser', password: 'right' } }));
    const a = later(startAgent(env, basicAgentYaml(env, [hub.url], `  proxy: http://proxyuser:wrong@127.0.0.1:${proxy.port}\n`)));
    const d = await a.statuses.next(isState('disconnected'));
    expect(d.status).toMatchObject({ code: 'PROXY_FAILED' });
  });

  it('two URLs give two independent registrations: one hub going away leaves the other up', async () => {
    const hubA = later(await startHub(env));
    const hubB = await startHub(env);
    const a = later(startAgent(env, basicAgentYaml(env, [hubA.url, hubB.url])));
    await a.statuses.seen(isState('registered', hubA.url));
    await a.statuses.seen(isState('registered', hubB.url));
    expect(hubA.hub.registry.agents('1')).toHaveLength(1);
    expect(hubB.hub.registry.agents('1')).toHaveLength(1);
    await hubB.close();
    await a.statuses.seen(isState('disconnected', hubB.url));
    expect(a.agent.currentStatus().find((s) => s.url === hubA.url)?.state).toBe('registered');
    expect(hubA.hub.registry.agents('1')).toHaveLength(1);
  });

  it('a second registration of the same agent id replaces the stale one', async () => {
    const hub = later(await startHub(env));
    const first = later(startAgent(env, basicAgentYaml(env, [hub.url])));
    await first.statuses.next(isState('registered'));
    const oldLink = hub.hub.registry.agents('1')[0]!;
    const second: TestAgent = later(startAgent(env, basicAgentYaml(env, [hub.url])));
    await second.statuses.next(isState('registered'));
    const closed = await first.statuses.next(isState('disconnected'));
    expect(closed.status.state === 'disconnected' && closed.status.reason).toMatch(/4002.*replaced/);
    first.stop();
    await expect.poll(() => hub.hub.registry.agents('1')).toHaveLength(1);
    expect(hub.hub.registry.agents('1')[0]).not.toBe(oldLink);
  });
});

describe('several sessions of one agent (one per URL)', () => {
  it('two URLs reaching the same hub hold two sessions at once: none replaced, listed once, requests over both', async () => {
    const hub = later(await startHub(env));
    const events: string[] = [];
    const sub = hub.hub.registry.events$.subscribe((e) => events.push(`${e.type}:${e.link.sessionKey}`));
    cleanups.push(() => sub.unsubscribe());
    const second = hub.url.replace('127.0.0.1', 'localhost');
    const a = later(
      startAgent(env, basicAgentYaml(env, [hub.url, second]), LDAP_DS, { adapters: new Map([['corp-ldap', memoryAdapter({ items: 3 })]]) }),
    );
    await a.statuses.seen(isState('registered', hub.url));
    await a.statuses.seen(isState('registered', second));
    const links = hub.hub.registry.agents('1');
    expect(links.map((l) => [l.agentId, l.sessionKey]).sort()).toEqual([
      ['site-a-1', '0'],
      ['site-a-1', '1'],
    ]);
    // Three keep-alive rounds (a hub ping every 2 s, answered) on each session, far longer than
    // the agent's 300 ms redial: two sessions replacing each other would show by now.
    const pongs = await Promise.all(links.map((l) => pongsOf(l, 3)));
    expect(pongs).toEqual([3, 3]);
    expect(events.sort()).toEqual(['registered:0', 'registered:1']);
    expect(hub.hub.registry.agents('1')).toHaveLength(2);
    expect(a.logs.text()).not.toMatch(/4002/);

    // Requests spread over the sessions (least in flight, ties round robin).
    const calls = links.map((l) => vi.spyOn(l, 'result$'));
    for (let i = 0; i < 4; i++) await expect(hub.hub.request({ tenantId: '1', dataSource: 'corp-ldap', op: 'test' })).resolves.toEqual({ ok: true, items: 3 });
    expect(calls.map((c) => c.mock.calls.length)).toEqual([2, 2]);

    // The API lists the agent once, with both sessions.
    const client = new HubClient({ url: `https://127.0.0.1:${hub.port}`, token: API_TOKENS.tenant1, ca: readFileSync(env.pki.ca.file) });
    cleanups.push(() => client.close());
    const agents = (await client.agents()) as Array<{ id: string; sessionId: string; inFlight: number; sessions: Array<{ sessionKey: string; sessionId: string }> }>;
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ id: 'site-a-1', inFlight: 0 });
    expect(agents[0]!.sessions.map((s) => s.sessionKey).sort()).toEqual(['0', '1']);
    expect(agents[0]!.sessionId).toBe(agents[0]!.sessions[0]!.sessionId);
    expect((await client.dataSources()).map((d) => d.agents)).toEqual([['site-a-1']]);
  });

  it('a restarted agent replaces each of its stale sessions (same keys), and only those', async () => {
    const hub = later(await startHub(env));
    const second = hub.url.replace('127.0.0.1', 'localhost');
    const first = later(startAgent(env, basicAgentYaml(env, [hub.url, second])));
    await first.statuses.seen(isState('registered', hub.url));
    await first.statuses.seen(isState('registered', second));
    const stale = new Set(hub.hub.registry.agents('1'));
    const replaced: string[] = [];
    const sub = hub.hub.registry.events$.subscribe((e) => e.type === 'replaced' && replaced.push(e.link.sessionKey));
    cleanups.push(() => sub.unsubscribe());
    const restarted = later(startAgent(env, basicAgentYaml(env, [hub.url, second])));
    await restarted.statuses.seen(isState('registered', hub.url));
    await restarted.statuses.seen(isState('registered', second));
    first.stop();
    expect(replaced.sort()).toEqual(['0', '1']);
    const now = hub.hub.registry.agents('1');
    expect(now).toHaveLength(2);
    expect(now.some((l) => stale.has(l))).toBe(false);
  });
});

describe('hub request API', () => {
  let hub: RunningHub;
  afterEach(() => undefined);

  it('returns the agent result, and a coded error for unknown data sources', async () => {
    hub = later(await startHub(env));
    const a = later(
      startAgent(env, basicAgentYaml(env, [hub.url]), LDAP_DS, { adapters: new Map([['corp-ldap', memoryAdapter({ items: 3 })]]) }),
    );
    await a.statuses.next(isState('registered'));
    await expect(hub.hub.request({ tenantId: '1', dataSource: 'corp-ldap', op: 'test' })).resolves.toEqual({ ok: true, items: 3 });
    const unknown = hub.hub.request({ tenantId: '1', dataSource: 'nope', op: 'test' });
    await expect(unknown).rejects.toBeInstanceOf(ProtocolError);
    await expect(unknown).rejects.toMatchObject({ code: 'UNKNOWN_DATA_SOURCE' });
    await expect(hub.hub.request({ tenantId: '1', dataSource: 'corp-ldap', op: 'export' })).rejects.toMatchObject({
      code: 'OPERATION_NOT_ALLOWED',
    });
    await expect(hub.hub.request({ tenantId: '2', dataSource: 'corp-ldap', op: 'test' })).rejects.toMatchObject({
      code: 'AGENT_DISCONNECTED',
    });
  });

  it('the agent answers config-level errors with codes', async () => {
    hub = later(await startHub(env));
    const a = later(startAgent(env, basicAgentYaml(env, [hub.url]), LDAP_DS, { adapters: new Map([['corp-ldap', memoryAdapter()]]) }));
    await a.statuses.next(isState('registered'));
    const link = hub.hub.registry.agents('1')[0]!;
    await expect(link.request({ op: 'test', dataSource: 'missing', params: {}, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'UNKNOWN_DATA_SOURCE',
    });
    await expect(link.request({ op: 'export', dataSource: 'corp-ldap', params: {}, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'OPERATION_NOT_ALLOWED',
    });
  });

  it('pending requests fail with AGENT_DISCONNECTED when the agent goes away', async () => {
    hub = later(await startHub(env));
    const a = startAgent(env, basicAgentYaml(env, [hub.url]), LDAP_DS, { adapters: new Map([['corp-ldap', memoryAdapter({ testDelayMs: 60_000 })]]) });
    await a.statuses.next(isState('registered'));
    const pending = hub.hub.request({ tenantId: '1', dataSource: 'corp-ldap', op: 'test' });
    a.stop();
    await expect(pending).rejects.toMatchObject({ code: 'AGENT_DISCONNECTED' });
  });
});

describe('hub robustness against a rogue agent', () => {
  it('answers bad frames with error frames and keeps the connection', async () => {
    const hub = later(await startHub(env, { tls: false }));
    const ws = new WebSocket(hub.url, SUBPROTOCOL, { headers: { Authorization: `Basic ${Buffer.from('agent:agent-secret-123').toString('base64')}` } });
    cleanups.push(() => ws.terminate());
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { id: 'rogue', version: 'x', hostname: 'h' }, tenantId: '1', dataSources: [] }));
    await expect.poll(() => frames[0]?.['type']).toBe('welcome');
    ws.send('{not json');
    ws.send(JSON.stringify({ type: 'result', id: 'never-sent', data: 1 }));
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await expect.poll(() => frames.length).toBe(4);
    expect(frames.slice(1).map((f) => [f['type'], f['code']])).toEqual([
      ['error', 'BAD_FRAME'],
      ['error', 'BAD_FRAME'],
      ['error', 'BAD_FRAME'],
    ]);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(hub.hub.registry.agents('1')).toHaveLength(1);

    // Over maxFrameBytes (1 MiB): refused with BAD_FRAME, the session stays up …
    ws.send(JSON.stringify({ type: 'result', id: 'big', data: 'x'.repeat(1024 * 1024 + 10) }));
    await expect.poll(() => frames.length).toBe(5);
    expect(frames[4]).toMatchObject({ type: 'error', code: 'BAD_FRAME', message: expect.stringMatching(/exceeds maxFrameBytes 1048576/) as string });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // … and over twice the limit the socket is closed with 1009 before the frame is buffered whole.
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.send('x'.repeat(2 * 1024 * 1024 + 10));
    expect(await closed).toBe(1009);
    await expect.poll(() => hub.hub.registry.agents('1')).toHaveLength(0);
  });

  it('refuses an upgrade without credentials with HTTP 401 and a wrong path with 404', async () => {
    const hub = later(await startHub(env, { tls: false }));
    const status = (url: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, SUBPROTOCOL, { headers });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('error', () => undefined);
      });
    expect(await status(hub.url)).toBe(401);
    expect(await status(hub.url.replace('/agent', '/nope'))).toBe(404);
  });
});
