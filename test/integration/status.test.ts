/**
 * Health and metrics over real HTTP: a real hub and a real agent (TLS, Basic auth, an
 * in-memory data source), each with its status listener on 127.0.0.1, followed through
 * registration, requests, a search under credit, the hub going away and coming back.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Subject, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { loadHubConfig } from '../../src/config/index.js';
import { Hub } from '../../src/hub/hub.js';
import type { StreamEvent } from '../../src/hub/request-sinks.js';
import { captureLogs } from '../helpers/log-capture.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { sample, sampleOr0 } from '../helpers/metrics.js';
import { basicAgentYaml, fixtureHashes, isState, memoryDataSourceYaml, relayFixture, startAgent } from '../helpers/relay-env.js';
import { freePort } from '../helpers/slapd.js';

const fx = relayFixture();

const DS = `${memoryDataSourceYaml(['test', 'get', 'search'])}
# Small frames: a page of 100 entries is cut into 3 chunks, so a consumer with a window of 1
# leaves chunks waiting for credit.
maxFrameBytes: 2048
`;
const req = { tenantId: '1', dataSource: 'mem' };


/** A TLS hub on fixed ports with its status listener (tenant 1: Basic `agent`). */
async function startStatusHub(port: number, statusPort: number): Promise<Hub> {
  const h = await fixtureHashes();
  const file = join(fx.env.dir, `hub-status-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `
logging: { level: trace }
listen: { host: 127.0.0.1, port: ${port}, path: /agent }
tls: { cert: ${fx.env.pki.server.certFile}, key: ${fx.env.pki.server.keyFile} }
status: { listen: "127.0.0.1:${statusPort}" }
keepAliveInterval: 1000
keepAliveTimeout: 1000
tenants:
  "1":
    agents:
      - userName: agent
        passwordHash: ${h.agent}
  "2":
    agents: []
`,
  );
  const hub = new Hub(loadHubConfig(file, {}), captureLogs('info').logger);
  await hub.listen();
  return hub;
}

interface Reply {
  readonly status: number;
  readonly type: string | null;
  readonly text: string;
}

async function get(port: number, path: string): Promise<Reply> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const json = (r: Reply): Record<string, unknown> => JSON.parse(r.text) as Record<string, unknown>;
const metrics = async (port: number): Promise<string> => (await get(port, '/metrics')).text;

describe('status listeners of a real hub and agent', () => {
  it('healthz, readyz and metrics follow registration, requests, streams and a hub restart', async () => {
    const hubPort = await freePort();
    const hubStatus = await freePort();
    const url = `wss://127.0.0.1:${hubPort}/agent`;
    const redacted = url; // no credentials in this URL; the unit tests cover redaction

    // The agent starts while no hub listens: alive, not ready.
    const adapter = memoryAdapter({ items: 250, pageSize: 100 });
    const a = startAgent(fx.env, basicAgentYaml(fx.env, [url]), `${DS}status: { listen: "127.0.0.1:0" }`, { adapters: new Map([['mem', adapter]]) });
    fx.later(() => a.agent.close());
    const address = await a.agent.statusAddress();
    expect(address?.address).toBe('127.0.0.1');
    const port = address!.port;
    await a.statuses.next(isState('disconnected'));

    expect(await get(port, '/healthz')).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    const before = await get(port, '/readyz');
    expect(before.status).toBe(503);
    expect(json(before)).toMatchObject({ status: 'not ready', detail: { draining: false, connections: [{ url: redacted }] } });
    expect(['connecting', 'disconnected']).toContain((json(before) as { detail: { connections: Array<{ state: string }> } }).detail.connections[0]!.state);
    let text = await metrics(port);
    expect(sample(text, 'datasync_agent_connection_state', { url: redacted, state: 'registered' })).toBe(0);

    // The hub comes up: the agent registers and is ready; both sides show it.
    const hub = await startStatusHub(hubPort, hubStatus);
    let hubUp = true;
    fx.later(() => (hubUp ? hub.close() : undefined));
    await a.statuses.next(isState('registered'));
    const ready = await get(port, '/readyz');
    expect(ready.status).toBe(200);
    expect(json(ready)).toMatchObject({ status: 'ready', detail: { connections: [{ url: redacted, state: 'registered' }] } });
    text = await metrics(port);
    expect(sample(text, 'datasync_agent_connection_state', { url: redacted, state: 'registered' })).toBe(1);
    expect(sample(text, 'datasync_agent_connection_state', { url: redacted, state: 'disconnected' })).toBe(0);
    const reconnectsBefore = sample(text, 'datasync_agent_reconnects_total', { url: redacted });

    expect(await get(hubStatus, '/healthz')).toMatchObject({ status: 200 });
    const hubReady = await get(hubStatus, '/readyz');
    expect(hubReady.status).toBe(200);
    expect(json(hubReady)).toEqual({ status: 'ready', detail: { agents: { '1': 1, '2': 0 } } });
    const hubText = await metrics(hubStatus);
    expect(sample(hubText, 'datasync_hub_agents_connected', { tenant: '1' })).toBe(1);
    expect(sample(hubText, 'datasync_hub_agents_connected', { tenant: '2' })).toBe(0);
    expect(sample(hubText, 'datasync_hub_agent_registrations_total', { tenant: '1' })).toBe(1);

    // Requests by op and code.
    await expect(hub.request({ ...req, op: 'test' })).resolves.toMatchObject({ ok: true });
    await expect(hub.request({ ...req, op: 'get', params: { index: 9999 } })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // A search read in full, and one whose consumer stalls (window 1, then more credit).
    const events = await lastValueFrom(hub.searchEvents$(req).pipe(toArray()));
    expect(events.at(-1)).toEqual({ type: 'end', count: 250, truncated: false });
    const stalls = { data_source: 'mem', op: 'search' };
    const stallsBefore = sampleOr0(await metrics(port), 'datasync_agent_credit_stalls_total', stalls);
    const demand$ = new Subject<number>();
    const got: StreamEvent[] = [];
    const sub: Subscription = hub.searchEvents$(req, { window: 1, demand$ }).subscribe((e) => got.push(e));
    fx.later(() => sub.unsubscribe());
    await expect.poll(() => got.length).toBe(1);
    await expect.poll(async () => sampleOr0(await metrics(port), 'datasync_agent_credit_stalls_total', stalls)).toBeGreaterThan(stallsBefore);
    demand$.next(100);
    await expect.poll(() => got.at(-1)?.type).toBe('end');

    await expect
      .poll(async () => sampleOr0(await metrics(port), 'datasync_agent_requests_total', { op: 'search', data_source: 'mem', code: 'OK' }))
      .toBe(2);
    text = await metrics(port);
    expect(sample(text, 'datasync_agent_requests_total', { op: 'test', data_source: 'mem', code: 'OK' })).toBe(1);
    expect(sample(text, 'datasync_agent_requests_total', { op: 'get', data_source: 'mem', code: 'NOT_FOUND' })).toBe(1);
    expect(sample(text, 'datasync_agent_requests_in_flight')).toBe(0);
    expect(sample(text, 'datasync_agent_stream_items_sent_total', { data_source: 'mem', op: 'search' })).toBe(500);
    const itemBytes = JSON.stringify(Array.from({ length: 250 }, (_, i) => ({ index: i, name: `item-${i}` })));
    // The items' JSON, plus brackets and commas that differ with the number of chunks.
    const bytes = sample(text, 'datasync_agent_stream_bytes_sent_total', { data_source: 'mem', op: 'search' });
    expect(bytes).toBeGreaterThanOrEqual(2 * (itemBytes.length - 2));
    expect(bytes).toBeLessThanOrEqual(2 * (itemBytes.length + 50));
    expect(sample(text, 'datasync_agent_upstream_latency_seconds_count', { data_source: 'mem', op: 'search' })).toBe(2);
    expect(sample(text, 'datasync_agent_upstream_latency_seconds_count', { data_source: 'mem', op: 'test' })).toBe(1);
    expect(text).toContain('process_cpu_user_seconds_total');

    // The hub goes away: the agent is alive but not ready, and the hub's listener is gone.
    await hub.close();
    hubUp = false;
    await a.statuses.next(isState('disconnected'));
    const down = await get(port, '/readyz');
    expect(down.status).toBe(503);
    expect(json(down)).toMatchObject({ status: 'not ready', detail: { connections: [{ url: redacted, state: 'disconnected' }] } });
    expect((await get(port, '/healthz')).status).toBe(200);
    await expect(get(hubStatus, '/healthz')).rejects.toThrow();

    // It comes back on the same ports: the agent reconnects, which the counter shows.
    const hub2 = await startStatusHub(hubPort, hubStatus);
    fx.later(() => hub2.close());
    await a.statuses.next(isState('registered'));
    await expect.poll(async () => (await get(port, '/readyz')).status).toBe(200);
    text = await metrics(port);
    expect(sample(text, 'datasync_agent_reconnects_total', { url: redacted })).toBeGreaterThan(reconnectsBefore);
    expect(sample(text, 'datasync_agent_connection_state', { url: redacted, state: 'registered' })).toBe(1);
    expect(json(await get(hubStatus, '/readyz'))).toEqual({ status: 'ready', detail: { agents: { '1': 1, '2': 0 } } });

    // Closing the agent closes its listener.
    await a.agent.close();
    await expect(get(port, '/healthz')).rejects.toThrow();
  });

  it('an agent without `status` opens no listener; its readiness never shows URL credentials', async () => {
    const url = 'wss://someone:pa55word@127.0.0.1:1/agent';
    const a = startAgent(fx.env, basicAgentYaml(fx.env, [url]), DS, { adapters: new Map([['mem', memoryAdapter()]]) });
    fx.later(() => a.agent.close());
    expect(await a.agent.statusAddress()).toBeUndefined();
    const down = await a.statuses.next(isState('disconnected'));
    expect(JSON.stringify(down.status.state === 'disconnected' && down.status.reason)).toContain('pa55word'); // the raw status does
    const readiness = a.agent.readiness();
    expect(readiness.ready).toBe(false);
    expect(readiness.detail).toMatchObject({ connections: [{ url: 'wss://***:***@127.0.0.1:1/agent', state: 'disconnected', code: 'CONNECT_FAILED' }] });
    expect(JSON.stringify(readiness.detail)).not.toContain('pa55word');
  });
});
