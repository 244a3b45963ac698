/**
 * Reconnect and half-open detection with real sockets: the hub going away and coming back on
 * the same port, and a link that silently stops forwarding (a paused TCP relay) between agent
 * and hub. Each time bound is asserted by its mechanism — the reconnect delays the agent chose
 * (its status says `retryInMs`), the keep-alive that cut the link (`KEEPALIVE_TIMEOUT`, the hub's
 * "did not answer ping" log) — never by a stopwatch; measured times are printed for the record.
 */
import { describe, expect, it, vi } from 'vitest';
import { startTcpRelay } from '../helpers/tcp-relay.js';
import { basicAgentYaml, isState, relayFixture, startAgent, startHub } from '../helpers/relay-env.js';

const fx = relayFixture();

// The black-hole agent runs with keepAliveInterval 300 ms, keepAliveTimeout 300 ms; startAgent's
// reconnectDelay is 300 ms, its cap 2000 ms.
const FAST_KEEPALIVE = 'keepAliveInterval: 300\nkeepAliveTimeout: 300';
const KEEPALIVE_BOUND_MS = 300 + 300;
const RECONNECT_CAP_MS = 2000;
/** Failed reconnect attempts awaited while the hub is down. */
const REFUSED_ATTEMPTS = 2;

describe('reconnect', () => {
  it('re-registers after the hub is stopped and restarted on the same port', async () => {
    const first = await startHub(fx.env);
    const a = startAgent(fx.env, basicAgentYaml(fx.env, [first.url]));
    fx.later(() => a.stop());
    await a.statuses.next(isState('registered'));

    await first.close();
    const down = await a.statuses.next(isState('disconnected'));
    expect(down.status).toMatchObject({ code: 'CLOSED' });

    // The agent keeps retrying against the closed port: await that many refused attempts.
    const later = (): typeof a.statuses.all => a.statuses.all.filter((e) => e.at > down.at && e.status.state === 'disconnected');
    await vi.waitFor(() => expect(later().length).toBeGreaterThanOrEqual(REFUSED_ATTEMPTS), { timeout: 30_000, interval: 10 });
    const refused = later();
    expect(refused.every((e) => e.status.state === 'disconnected' && e.status.code === 'CONNECT_FAILED')).toBe(true);
    // Backoff grows and stays under the cap: the bound on re-registration is the delay the agent chose.
    const delays = [down, ...refused].map((e) => (e.status.state === 'disconnected' ? e.status.retryInMs : undefined));
    for (const d of delays) expect(d).toBeLessThanOrEqual(RECONNECT_CAP_MS);

    const second = await startHub(fx.env, { port: first.port });
    fx.later(() => second.close());
    const back = performance.now();
    const reg = await a.statuses.next(isState('registered'));
    const took = reg.at - back;
    console.info(`[measured] re-registration after hub restart: ${took.toFixed(0)} ms (reconnect delays ${delays.join(', ')} ms, cap ${RECONNECT_CAP_MS} ms)`);
    // No attempt in between was refused: the first attempt after the hub came back registered.
    const between = a.statuses.all.filter((e) => e.at > back && e.at < reg.at && e.status.state === 'disconnected');
    expect(between.length).toBeLessThanOrEqual(1); // one attempt may have been refused just before listen() returned
    expect(second.hub.registry.agents('1')).toHaveLength(1);
  });

  it('detects a black-holed link within keepAliveInterval + keepAliveTimeout and reconnects once it is back', async () => {
    const hub = await startHub(fx.env, { keepAliveInterval: 1000, keepAliveTimeout: 1000 });
    fx.later(() => hub.close());
    const relay = await startTcpRelay({ host: '127.0.0.1', port: hub.port });
    fx.later(() => relay.close());
    const url = `wss://127.0.0.1:${relay.port}/agent`;
    const a = startAgent(fx.env, basicAgentYaml(fx.env, [url]), FAST_KEEPALIVE, { registrationTimeoutMs: 1000 });
    fx.later(() => a.stop());
    await a.statuses.next(isState('registered'));

    relay.pause();
    const pausedAt = performance.now();
    const dead = await a.statuses.next(isState('disconnected'));
    const detection = dead.at - pausedAt;
    console.info(`[measured] agent half-open detection: ${detection.toFixed(0)} ms (keepAliveInterval + keepAliveTimeout ${KEEPALIVE_BOUND_MS} ms)`);
    // The mechanism: the agent's keep-alive (its unanswered ping) cut the link, not a TCP error.
    expect(dead.status).toMatchObject({ code: 'KEEPALIVE_TIMEOUT' });

    // The hub sees the same silence: its own ping went unanswered, it terminated the link, and
    // the agent is gone from the registry.
    const hubPingTimeout = (): boolean => hub.logs.records().some((r) => r['msg'] === 'agent did not answer ping: terminating');
    await vi.waitFor(() => expect(hubPingTimeout()).toBe(true), { timeout: 30_000, interval: 10 });
    const hubDetection = performance.now() - pausedAt;
    await vi.waitFor(() => expect(hub.hub.registry.agents('1')).toHaveLength(0), { timeout: 30_000, interval: 10 });
    console.info(`[measured] hub half-open detection: ${hubDetection.toFixed(0)} ms (keepAliveInterval + keepAliveTimeout 2000 ms)`);

    relay.resume();
    await a.statuses.next(isState('registered'), 10_000);
    expect(hub.hub.registry.agents('1')).toHaveLength(1);
  });

  it('an agent whose link is cut (RST) reconnects at the base delay', async () => {
    const hub = await startHub(fx.env);
    fx.later(() => hub.close());
    const relay = await startTcpRelay({ host: '127.0.0.1', port: hub.port });
    fx.later(() => relay.close());
    const a = startAgent(fx.env, basicAgentYaml(fx.env, [`wss://127.0.0.1:${relay.port}/agent`]));
    fx.later(() => a.stop());
    await a.statuses.next(isState('registered'));
    relay.cutAll();
    const d = await a.statuses.next(isState('disconnected'));
    expect(d.status.state === 'disconnected' && d.status.retryInMs).toBeGreaterThanOrEqual(300);
    const r = await a.statuses.next(isState('registered'));
    expect(r.at - d.at).toBeGreaterThanOrEqual(290);
  });
});
