/**
 * Reconnect and half-open detection with real sockets: the hub going away and coming back on
 * the same port, and a link that silently stops forwarding (a paused TCP relay) between agent
 * and hub. Measured times are printed for the record; bounds come from the config.
 */
import { describe, expect, it } from 'vitest';
import { startTcpRelay } from '../helpers/tcp-relay.js';
import { basicAgentYaml, isState, relayFixture, startAgent, startHub } from '../helpers/relay-env.js';

const fx = relayFixture();

// startAgent uses keepAliveInterval 300 ms, keepAliveTimeout 300 ms, reconnectDelay 300 ms, cap 2000 ms.
const KEEPALIVE_BOUND_MS = 300 + 300;
// Timer and scheduling slack on a loaded 2-core CI machine.
const SLACK_MS = 300;

describe('reconnect', () => {
  it('re-registers after the hub is stopped and restarted on the same port', async () => {
    const first = await startHub(fx.env);
    const a = startAgent(fx.env, basicAgentYaml(fx.env, [first.url]));
    fx.later(() => a.stop());
    await a.statuses.next(isState('registered'));

    await first.close();
    const down = await a.statuses.next(isState('disconnected'));
    expect(down.status).toMatchObject({ code: 'CLOSED' });

    await new Promise((r) => setTimeout(r, 700)); // the agent keeps retrying against a closed port
    const refused = a.statuses.all.filter((e) => e.at > down.at && e.status.state === 'disconnected');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.status.state === 'disconnected' && e.status.code === 'CONNECT_FAILED')).toBe(true);

    const second = await startHub(fx.env, { port: first.port });
    fx.later(() => second.close());
    const back = performance.now();
    const reg = await a.statuses.next(isState('registered'));
    const took = reg.at - back;
    console.info(`[measured] re-registration after hub restart: ${took.toFixed(0)} ms (cap 2000 ms)`);
    expect(took).toBeLessThanOrEqual(2000 + SLACK_MS);
    expect(second.hub.registry.agents('1')).toHaveLength(1);
  });

  it('detects a black-holed link within keepAliveInterval + keepAliveTimeout and reconnects once it is back', async () => {
    const hub = await startHub(fx.env, { keepAliveInterval: 1000, keepAliveTimeout: 1000 });
    fx.later(() => hub.close());
    const relay = await startTcpRelay({ host: '127.0.0.1', port: hub.port });
    fx.later(() => relay.close());
    const url = `wss://127.0.0.1:${relay.port}/agent`;
    const a = startAgent(fx.env, basicAgentYaml(fx.env, [url]), '', { registrationTimeoutMs: 1000 });
    fx.later(() => a.stop());
    await a.statuses.next(isState('registered'));

    relay.pause();
    const pausedAt = performance.now();
    const dead = await a.statuses.next(isState('disconnected'));
    const detection = dead.at - pausedAt;
    console.info(`[measured] agent half-open detection: ${detection.toFixed(0)} ms (bound ${KEEPALIVE_BOUND_MS} ms)`);
    expect(dead.status).toMatchObject({ code: 'KEEPALIVE_TIMEOUT' });
    expect(detection).toBeLessThanOrEqual(KEEPALIVE_BOUND_MS + SLACK_MS);

    // The hub sees the same silence and drops the agent within its own interval + timeout.
    await expect.poll(() => hub.hub.registry.agents('1').length, { timeout: 2000 + SLACK_MS + 500, interval: 20 }).toBe(0);
    const hubDetection = performance.now() - pausedAt;
    console.info(`[measured] hub half-open detection: ${hubDetection.toFixed(0)} ms (bound 2000 ms)`);

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
