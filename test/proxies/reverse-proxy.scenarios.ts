/**
 * The scenarios every documented reverse-proxy configuration must pass, run by one test file
 * per proxy (reverse-proxy.nginx.test.ts, reverse-proxy.haproxy.test.ts) against the real
 * program: a plain-HTTP hub on 127.0.0.1 (in process) ← the proxy terminating TLS on
 * 127.0.0.1:PORT ← an agent (wss:// through the proxy, the test CA trusted) and API clients
 * (https through the proxy). Registration and a proxy restart, a streamed search, a slow
 * reader whose stall reaches the agent's page pulls, an export over 1 MB, the client's address
 * through a trusted proxy, and a client-certificate agent through the TLS-terminating proxy.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFailed, vi } from 'vitest';
import WebSocket from 'ws';
import { HubClient } from '../../src/hub/client.js';
import { SUBPROTOCOL } from '../../src/protocol/index.js';
import { memoryAdapter, type MemoryAdapter } from '../helpers/memory-adapter.js';
import { API_TOKENS, basicAgentYaml, isState, memoryDataSourceYaml, roundTrips, startAgent, type RelayFixture, type TestAgent } from '../helpers/relay-env.js';
import { CLIENT_CERT_HEADER, startProxiedHub, type ProxiedHub, type ProxiedHubOptions } from './proxied-hub.js';
import { pullsWhenStalled, QUIET_ROUNDS, startBoundRelay, startSlowRead } from './proxy-clients.js';

/** One running proxy in front of the hub. */
export interface ProxyUnderTest {
  readonly base: string;
  readonly agentUrl: string;
  readonly port: number;
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** The proxy's logs, printed when a test fails. */
  logs(): string;
}

/** Starts the proxy in `dir` in front of `hub`; `variant` names an edit of the documented configuration (nginx only). */
export type StartProxy = (dir: string, hub: ProxiedHub, variant?: ProxyVariant) => Promise<ProxyUnderTest>;

/** Edits of the documented configuration that show what a directive is for (the docs' configuration is `documented`). */
export type ProxyVariant = 'documented' | 'buffering-on' | 'buffering-on-header-ignored' | 'default-body-limit';

export interface Relay {
  readonly hub: ProxiedHub;
  readonly proxy: ProxyUnderTest;
  readonly agent: TestAgent;
  readonly client: HubClient;
  readonly ca: Buffer;
}

export interface RelayOptions {
  readonly hub?: ProxiedHubOptions;
  readonly variant?: ProxyVariant;
  /** The agent reaches the proxy through this URL instead of the proxy's own (e.g. a bound relay). */
  readonly agentUrl?: (proxy: ProxyUnderTest) => Promise<string>;
}

/** Hub ← proxy ← agent serving `adapter` as `mem`, registered; a HubClient through the proxy. All stopped after the test. */
export async function relayBehind(fx: RelayFixture, start: StartProxy, adapter: MemoryAdapter, options: RelayOptions = {}): Promise<Relay> {
  const ca = readFileSync(fx.env.pki.ca.file);
  const hub = await startProxiedHub(fx.env, options.hub);
  fx.later(() => hub.close());
  const proxy = await start(mkdtempSync(join(fx.env.dir, 'proxy-')), hub, options.variant ?? 'documented');
  fx.later(() => proxy.stop());
  onTestFailed(() => console.error(proxy.logs()));
  const url = options.agentUrl ? await options.agentUrl(proxy) : proxy.agentUrl;
  const agent = startAgent(fx.env, basicAgentYaml(fx.env, [url]), memoryDataSourceYaml(), { adapters: new Map([['mem', adapter]]) });
  fx.later(() => agent.stop());
  await agent.statuses.next(isState('registered'));
  const client = new HubClient({ url: proxy.base, token: API_TOKENS.tenant1, ca });
  fx.later(() => client.close());
  return { hub, proxy, agent, client, ca };
}

/** The hub's access-log records ('API request'), parsed. */
export function apiLogLines(hub: ProxiedHub): Array<Record<string, unknown>> {
  return hub.logs.records().filter((r) => r['msg'] === 'API request');
}

/** The slow reader's search: 60,000 entries of ~1 KB in 300 pages, far more than every buffer on the way. */
export const SLOW = { items: 60_000, pageSize: 200, padChars: 1000 } as const;
export const SLOW_PAGES = SLOW.items / SLOW.pageSize;

export interface SlowReaderFigures {
  readonly pagesPulled: number;
  readonly bytesRead: number;
  readonly totalBytes: number;
}

/**
 * The slow reader: reads one chunk of a 60 MB search through the proxy and stops. `expectStall`:
 * the agent's page pulls stop (pulls stay the same across round trips, short of all pages);
 * otherwise the proxy swallows the answer, the agent pulls every page and the hub logs the
 * request completed while the client has read one chunk (the bug of a buffering proxy). Both
 * then read to the end: every entry, in order, and the end line.
 */
export async function slowReader(fx: RelayFixture, start: StartProxy, label: string, variant: ProxyVariant, expectStall: boolean): Promise<SlowReaderFigures> {
  const adapter = memoryAdapter(SLOW);
  const { hub, proxy, ca } = await relayBehind(fx, start, adapter, { variant });
  const read = await startSlowRead({ base: proxy.base, path: '/v1/data-sources/mem/search', token: API_TOKENS.tenant1, ca, body: '{}', headers: { 'x-request-id': 'slow-reader' } });
  expect(read.status).toBe(200);
  let pagesPulled: number;
  if (expectStall) {
    pagesPulled = await pullsWhenStalled(hub, adapter);
    await roundTrips(hub.hub, '1', QUIET_ROUNDS);
    expect(adapter.pulls.length).toBe(pagesPulled);
    expect(pagesPulled).toBeLessThan(SLOW_PAGES / 2);
    expect(apiLogLines(hub).filter((l) => l['requestId'] === 'slow-reader')).toEqual([]);
  } else {
    await vi.waitFor(() => expect(adapter.pulls.length).toBe(SLOW_PAGES), { timeout: 120_000, interval: 20 });
    await vi.waitFor(() => expect(apiLogLines(hub).find((l) => l['requestId'] === 'slow-reader')).toMatchObject({ status: 200, completed: true }), { timeout: 60_000, interval: 20 });
    pagesPulled = adapter.pulls.length;
  }
  const got = await read.finish();
  expect(got.entries).toHaveLength(SLOW.items);
  expect(got.entries.every((e, i) => e['index'] === i)).toBe(true);
  expect(got.last).toEqual({ end: true, count: SLOW.items, truncated: false });
  expect(adapter.pulls).toHaveLength(SLOW_PAGES);
  const figures = { pagesPulled, bytesRead: read.bytesRead, totalBytes: got.bytes };
  console.log(
    `FIGURE slow reader ${label}: ${figures.pagesPulled} of ${SLOW_PAGES} pages pulled (${((figures.pagesPulled / SLOW_PAGES) * 100).toFixed(0)} %) while the client had read ${figures.bytesRead} bytes of ${(figures.totalBytes / 1048576).toFixed(1)} MiB`,
  );
  return figures;
}

/** The upgrade answer for a raw WebSocket through the proxy: 101, or the refusal's status. */
function upgradeStatus(url: string, ca: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, SUBPROTOCOL, { ca, headers });
    ws.once('upgrade', (res) => {
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/**
 * The scenarios of the documented configuration of one proxy. `expiredCertificateCode`: how the
 * agent reports the proxy refusing a certificate it cannot verify (nginx answers HTTP 400,
 * HAProxy ends the TLS handshake).
 */
export function reverseProxyScenarios(fx: RelayFixture, name: string, start: StartProxy, expiredCertificateCode: string): void {
  describe(`${name}: the documented configuration`, () => {
    it('registers an agent through the proxy; after a proxy restart it registers again and requests flow', async () => {
      const adapter = memoryAdapter({ items: 10 });
      const { hub, proxy, agent, client } = await relayBehind(fx, start, adapter);
      expect(hub.hub.registry.agents('1').map((l) => l.principal)).toEqual([expect.objectContaining({ kind: 'basic', userName: 'agent' })]);
      expect(await client.test('mem')).toEqual({ ok: true, items: 10 });
      const first = hub.hub.registry.agents('1')[0]!.sessionId;

      await proxy.restart();
      await agent.statuses.next(isState('disconnected'));
      const again = await agent.statuses.next(isState('registered'));
      await vi.waitFor(() => expect(hub.hub.registry.agents('1').map((l) => l.sessionId)).toEqual([(again.status as { sessionId: string }).sessionId]));
      expect(hub.hub.registry.agents('1')[0]!.sessionId).not.toBe(first);
      expect(await client.test('mem')).toEqual({ ok: true, items: 10 });
    });

    it('streams a search through the proxy: every entry, then the end line', async () => {
      const adapter = memoryAdapter({ items: 5000, pageSize: 100 });
      const { client } = await relayBehind(fx, start, adapter);
      const search = client.search<{ index: number }>('mem');
      const seen: number[] = [];
      for await (const entry of search) seen.push(entry.index);
      expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i));
      expect(search.summary).toEqual({ end: true, count: 5000, truncated: false });
    });

    it('a slow reader stops the agent\'s page pulls through the proxy; resumed, it gets everything', async () => {
      await slowReader(fx, start, `${name} (documented)`, 'documented', true);
    }, 180_000);

    it('an export of more than 1 MB passes the proxy (no 413): one result per record, every record written', async () => {
      const adapter = memoryAdapter();
      const { client } = await relayBehind(fx, start, adapter);
      const N = 3000;
      const pad = 'x'.repeat(1000);
      let bytes = 0;
      const records = (function* () {
        for (let i = 0; i < N; i++) {
          const r = { i, pad };
          bytes += JSON.stringify(r).length + 1;
          yield r;
        }
      })();
      const stream = client.export('mem', records);
      const results = [];
      for await (const r of stream) results.push(r);
      expect(bytes).toBeGreaterThan(2 * 1024 * 1024); // nginx's default limit is 1 MB
      expect(results.map((r) => [r.index, r.ok])).toEqual(Array.from({ length: N }, (_, i) => [i, true]));
      expect(stream.summary).toEqual({ end: true, count: N, ok: N, failed: 0 });
      expect(adapter.written).toHaveLength(N);
      expect((adapter.written as Array<{ i: number }>).map((r) => r.i)).toEqual(Array.from({ length: N }, (_, i) => i));
    });

    it('a trusted proxy: /v1/agents and the upgrade log show the agent\'s address, the API log line the client\'s (127.0.0.5, whatever X-Forwarded-For it sent), not the proxy\'s', async () => {
      const relays: Array<{ close(): Promise<void> }> = [];
      const { hub, proxy, ca, client } = await relayBehind(fx, start, memoryAdapter({ items: 3 }), {
        hub: { trustProxy: true },
        agentUrl: async (p) => {
          const relay = await startBoundRelay(p.port, '127.0.0.3');
          relays.push(relay);
          fx.later(() => relay.close());
          return `wss://127.0.0.1:${relay.port}/agent`;
        },
      });
      expect(relays).toHaveLength(1);
      const listed = (await client.agents()) as Array<{ remoteAddress: string }>;
      expect(listed.map((a) => a.remoteAddress)).toEqual([expect.stringMatching(/^127\.0\.0\.3(:\d+)?$/)]);
      expect(hub.logs.records().filter((r) => r['msg'] === 'agent registered').map((r) => r['remote'])).toEqual([expect.stringMatching(/^127\.0\.0\.3(:\d+)?$/)]);

      const answer = await startSlowRead({ base: proxy.base, path: '/v1/data-sources/mem/test', token: API_TOKENS.tenant1, ca, body: '{}', localAddress: '127.0.0.5', headers: { 'x-request-id': 'from-127-0-0-5', 'x-forwarded-for': '203.0.113.9' } });
      expect(answer.status).toBe(200);
      await answer.finish();
      await vi.waitFor(() => expect(apiLogLines(hub).find((l) => l['requestId'] === 'from-127-0-0-5')).toBeDefined());
      const line = apiLogLines(hub).find((l) => l['requestId'] === 'from-127-0-0-5')!;
      // The proxy appends the address it saw to the client's own (spoofed) X-Forwarded-For.
      expect(line['client']).toBe('127.0.0.5');
    });

    it('a client-certificate agent registers through the TLS-terminating proxy; forging the header without a certificate, or an expired one, is refused', async () => {
      const ca = readFileSync(fx.env.pki.ca.file);
      const hub = await startProxiedHub(fx.env, { forwardedCertificates: true });
      fx.later(() => hub.close());
      const proxy = await start(mkdtempSync(join(fx.env.dir, 'proxy-')), hub, 'documented');
      fx.later(() => proxy.stop());
      onTestFailed(() => console.error(proxy.logs()));

      const agent = startAgent(
        fx.env,
        `  id: site-a-1
  urls: [${proxy.agentUrl}]
  tenantId: 1
  keyStore: ${fx.env.pki.client.p12File}
  keyStorePassword: ${fx.env.pki.client.p12Password}
  trustStore: ${fx.env.pki.ca.file}
`,
        memoryDataSourceYaml(),
        { adapters: new Map([['mem', memoryAdapter({ items: 3 })]]) },
      );
      fx.later(() => agent.stop());
      await agent.statuses.next(isState('registered'));
      expect(hub.hub.registry.agents('1').map((l) => l.principal)).toEqual([expect.objectContaining({ kind: 'certificate', subject: 'site-a-1' })]);

      // No certificate in the handshake, the (public) certificate of site-a-1 in the header:
      // the proxy replaces the header, the hub sees no certificate.
      const forged = { [CLIENT_CERT_HEADER]: encodeURIComponent(fx.env.pki.client.certPem) };
      const status = await upgradeStatus(proxy.agentUrl, ca, forged);
      expect([401, 403]).toContain(status);
      expect(hub.hub.registry.agents('1')).toHaveLength(1);

      // A certificate the proxy cannot verify (expired) is refused by the proxy itself.
      const expired = startAgent(
        fx.env,
        `  id: site-a-2
  urls: [${proxy.agentUrl}]
  tenantId: 1
  keyStore: ${fx.env.pki.expiredClient.certFile}
  privateKey: ${fx.env.pki.expiredClient.keyFile}
  trustStore: ${fx.env.pki.ca.file}
`,
      );
      fx.later(() => expired.stop());
      const refused = await expired.statuses.next((s) => s.state === 'rejected' || s.state === 'disconnected');
      expect(refused.status).toMatchObject({ code: expiredCertificateCode });
      expect(hub.hub.registry.agents('1').map((l) => l.principal)).toEqual([expect.objectContaining({ subject: 'site-a-1' })]);
    });
  });
}
