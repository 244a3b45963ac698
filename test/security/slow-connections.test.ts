/**
 * Slow connections: 500 connections from 10 loopback addresses send half a request head (half
 * of them an agent upgrade) and never finish it. The hub cuts every one of them after
 * `connections.headersTimeout` (1 s here; each close is observed on the client socket and
 * counted by the refusals metric), while a legitimate agent registers and an API call answers.
 * One more address opening more than `maxPendingPerAddress` connections has the excess dropped
 * at once. Figures are printed (`FIGURE slow-connections: …`), not asserted as time bounds.
 */
import { connect, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TOKENS, basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub } from '../helpers/relay-env.js';
import { sampleOr0 } from '../helpers/metrics.js';

const SLOW = 500;
const ADDRESSES = 10;
const PER_ADDRESS = 64;
const HEADERS_TIMEOUT = 1000;

let env: Env;
let hub: RunningHub;

beforeAll(async () => {
  env = makeEnv();
  hub = await startHub(env, {
    tls: false,
    extra: `connections: { headersTimeout: ${HEADERS_TIMEOUT}, upgradeTimeout: ${HEADERS_TIMEOUT}, maxPending: 1024, maxPendingPerAddress: ${PER_ADDRESS} }`,
  });
});

afterAll(async () => {
  await hub?.close();
  env?.cleanup();
});

const openFiles = (): number => readdirSync('/proc/self/fd').length;

interface Slow {
  readonly socket: Socket;
  readonly opened: Promise<number>;
  readonly closed: Promise<number>;
}

/** A connection that sends part of a request head and then nothing. */
function slowConnection(port: number, localAddress: string, upgrade: boolean): Slow {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => undefined);
  socket.resume();
  const opened = new Promise<number>((resolve) =>
    socket.once('connect', () => {
      socket.write(`GET ${upgrade ? '/agent' : '/v1/agents'} HTTP/1.1\r\nHost: hub\r\n${upgrade ? 'Upgrade: websocket\r\n' : ''}X-Slow: `);
      resolve(performance.now());
    }),
  );
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  return { socket, opened, closed };
}

describe('slow connections', () => {
  it('500 unfinished request heads are cut after headersTimeout; an agent registers and an API call answers meanwhile', async () => {
    const fdsBefore = openFiles();
    const slow = Array.from({ length: SLOW }, (_, i) => slowConnection(hub.port, `127.0.0.${2 + (i % ADDRESSES)}`, i % 2 === 0));
    // Peaks are sampled for the figures only.
    let peakPending = 0;
    let fdsPeak = 0;
    const sampler = setInterval(() => {
      peakPending = Math.max(peakPending, hub.hub.pendingConnectionCount());
      fdsPeak = Math.max(fdsPeak, openFiles());
    }, 20);
    const openedAt = await Promise.all(slow.map((s) => s.opened));

    const t0 = performance.now();
    const agent = startAgent(env, basicAgentYaml(env, [hub.url]));
    try {
      const registered = await agent.statuses.next(isState('registered'), 30_000);
      const api = await fetch(`http://127.0.0.1:${hub.port}/v1/agents`, { headers: { authorization: `Bearer ${API_TOKENS.tenant1}` } });
      const apiAt = performance.now();
      expect(api.status).toBe(200);
      const listed = (await api.json()) as { agents: unknown[] };
      expect(listed.agents).toHaveLength(1);

      // Every slow connection is closed by the hub (we never close them), and counted.
      const closedAt = await Promise.all(slow.map((s) => s.closed));
      clearInterval(sampler);
      const held = closedAt.map((c, i) => c - openedAt[i]!);
      const metrics = await hub.hub.metrics.registry.metrics();
      expect(sampleOr0(metrics, 'datasync_hub_connections_refused_total', { reason: 'headers_timeout' })).toBe(SLOW);
      await expect.poll(() => hub.hub.pendingConnectionCount(), { timeout: 10_000 }).toBe(0);
      // Bounded afterwards: the agent's socket (the API call's may still be kept alive).
      await expect.poll(() => hub.hub.connectionCount(), { timeout: 10_000 }).toBeLessThanOrEqual(2);
      const stillOpenAtRegistration = closedAt.filter((c) => c > registered.at).length;

      console.log(
        `FIGURE slow-connections: ${SLOW} unfinished heads from ${ADDRESSES} addresses, headersTimeout ${HEADERS_TIMEOUT} ms; pending at peak ${peakPending} (sampled); ` +
          `held ${Math.min(...held).toFixed(0)}–${Math.max(...held).toFixed(0)} ms; open files of the test process ${fdsBefore} → ${fdsPeak} (both ends, sampled peak) → ${openFiles()}; ` +
          `agent registered after ${(registered.at - t0).toFixed(0)} ms with ${stillOpenAtRegistration} slow connections open, API call answered after ${(apiAt - t0).toFixed(0)} ms`,
      );
    } finally {
      clearInterval(sampler);
      agent.stop();
      for (const s of slow) s.socket.destroy();
    }
  });

  it('connections over maxPendingPerAddress from one address are dropped at once', async () => {
    const extra = 16;
    const before = sampleOr0(await hub.hub.metrics.registry.metrics(), 'datasync_hub_connections_refused_total', { reason: 'pending_per_address' });
    const conns = Array.from({ length: PER_ADDRESS + extra }, () => slowConnection(hub.port, '127.0.0.99', false));
    try {
      await Promise.all(conns.map((c) => c.opened));
      await expect
        .poll(async () => sampleOr0(await hub.hub.metrics.registry.metrics(), 'datasync_hub_connections_refused_total', { reason: 'pending_per_address' }), {
          timeout: 10_000,
        })
        .toBe(before + extra);
      expect(hub.hub.pendingConnectionCount()).toBeLessThanOrEqual(PER_ADDRESS);
    } finally {
      for (const c of conns) c.socket.destroy();
    }
  });
});
