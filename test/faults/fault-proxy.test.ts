/**
 * The fault proxy's modes against plain TCP endpoints: pass, delay, throttle (both directions,
 * bounded queue), black hole (held-back close, black-holed for good when accepted during it)
 * and cut (RST).
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

interface Target {
  server: Server;
  port: number;
  sockets: Socket[];
  received: () => number;
  close(): Promise<void>;
}

/** A TCP server that keeps its sockets and counts what they received (echoing it if asked). */
async function startTarget(echo: boolean): Promise<Target> {
  const sockets: Socket[] = [];
  let received = 0;
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (echo) s.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    sockets,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Client {
  socket: Socket;
  data: () => Buffer;
  events: string[];
}

async function dial(port: number): Promise<Client> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const events: string[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('end', () => events.push('end'));
  socket.on('close', () => events.push('close'));
  socket.on('error', (e: NodeJS.ErrnoException) => events.push(`error:${e.code ?? e.message}`));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, data: () => Buffer.concat(chunks), events };
}

describe('fault proxy', () => {
  let echo: Target;
  let sink: Target;
  let proxy: FaultProxy;
  const clients: Client[] = [];

  beforeAll(async () => {
    echo = await startTarget(true);
    sink = await startTarget(false);
  });
  afterAll(async () => {
    await echo.close();
    await sink.close();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await proxy.close();
  });

  async function via(target: Target): Promise<{ client: Client; upstream: Socket }> {
    const before = target.sockets.length;
    const client = await dial(proxy.port);
    clients.push(client);
    await vi.waitFor(() => expect(target.sockets.length).toBe(before + 1));
    return { client, upstream: target.sockets[before]! };
  }

  it('pass: forwards both directions and counts bytes per direction', async () => {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: echo.port });
    const { client } = await via(echo);
    client.socket.write('hello');
    await vi.waitFor(() => expect(client.data().toString()).toBe('hello'));
    expect(proxy.bytes).toEqual({ up: 5, down: 5 });
    expect([proxy.connections, proxy.accepted]).toEqual([1, 1]);
  });

  it('delay: each chunk arrives that much later, in order, in both directions', async () => {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: echo.port });
    const { client } = await via(echo);
    proxy.delay(150);
    const t0 = performance.now();
    client.socket.write('a');
    // 'b' is sent once 'a' has been queued upstream (a separate chunk), not after a sleep.
    await vi.waitFor(() => expect(proxy.delayedChunks).toBe(1), { interval: 1 });
    client.socket.write('b');
    await vi.waitFor(() => expect(client.data().toString()).toBe('ab'), { timeout: 10_000, interval: 5 });
    // Up and back: two delays (a lower bound: a loaded machine only adds to it).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    const delayedBefore = proxy.delayedChunks;
    expect(delayedBefore).toBeGreaterThanOrEqual(3); // a, b up; a and b (maybe as one chunk) down
    proxy.pass();
    client.socket.write('c');
    await vi.waitFor(() => expect(client.data().toString()).toBe('abc'), { interval: 5 });
    // After pass() nothing was queued with a delay, in either direction.
    expect(proxy.delayedChunks).toBe(delayedBefore);
  });

  it('throttle: holds each direction to the rate with a bounded queue (the sender is paused)', async () => {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: sink.port }, { maxQueuedBytes: 32 * 1024 });
    const { client, upstream } = await via(sink);
    proxy.throttle(200 * 1024);
    const size = 200 * 1024;
    const t0 = performance.now();
    client.socket.write(Buffer.alloc(size, 1));
    upstream.write(Buffer.alloc(size, 2));
    await vi.waitFor(
      () => {
        expect(sink.received()).toBe(size);
        expect(client.data().length).toBe(size);
      },
      { timeout: 5000, interval: 10 },
    );
    const took = performance.now() - t0;
    // 200 KiB at 200 KiB/s, both directions at once: about a second each (50 ms of burst). A
    // lower bound only: a loaded machine may take longer, never less.
    console.info(`[measured] 2 × 200 KiB through a 200 KiB/s throttle: ${took.toFixed(0)} ms (about 1000 ms unloaded)`);
    expect(took).toBeGreaterThanOrEqual(850);
    // What waited inside the proxy stayed near its bound: the rest waited in the sender's TCP.
    expect(proxy.maxQueuedBytes).toBeLessThan(32 * 1024 + 65_536);
    expect(proxy.bytes).toEqual({ up: size, down: size });
  });

  it('blackhole: drops both directions, holds the close back; pass() forwards again', async () => {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: sink.port });
    const { client, upstream } = await via(sink);
    const base = sink.received();
    let upstreamEnded = false;
    upstream.on('end', () => (upstreamEnded = true));

    proxy.blackhole();
    client.socket.write('lost-1');
    upstream.write('lost-2');
    await vi.waitFor(() => expect(proxy.droppedBytes).toBe(12));
    expect(client.events).toEqual([]);
    expect(upstream.destroyed).toBe(false);

    // Accepted while black-holed: black-holed for good.
    const late = await via(sink);
    proxy.pass();
    client.socket.write('kept');
    await vi.waitFor(() => expect(sink.received() - base).toBe(4));
    late.client.socket.write('never');
    await vi.waitFor(() => expect(proxy.droppedBytes).toBe(17));

    proxy.blackhole();
    const heldBefore = proxy.heldCloses;
    client.socket.end();
    // The FIN reached the proxy and was held back (an event), and the upstream has not seen it.
    await vi.waitFor(() => expect(proxy.heldCloses).toBe(heldBefore + 1));
    expect(upstreamEnded).toBe(false);
    proxy.pass();
    await vi.waitFor(() => expect(upstreamEnded).toBe(true));
  });

  it('cut: both ends see a reset; new connections are served', async () => {
    proxy = await startFaultProxy({ host: '127.0.0.1', port: echo.port });
    const { client, upstream } = await via(echo);
    const upstreamErrors: string[] = [];
    upstream.on('error', (e: NodeJS.ErrnoException) => upstreamErrors.push(e.code ?? e.message));
    proxy.cut();
    await vi.waitFor(() => expect(client.events).toContain('error:ECONNRESET'));
    await vi.waitFor(() => expect(upstreamErrors).toContain('ECONNRESET'));
    expect(proxy.connections).toBe(0);

    const again = await via(echo);
    again.client.socket.write('back');
    await vi.waitFor(() => expect(again.client.data().toString()).toBe('back'));
    expect(proxy.accepted).toBe(2);
  });
});
