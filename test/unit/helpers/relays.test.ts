import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startConnectProxy, type ConnectProxy } from '../../helpers/connect-proxy.js';
import { startTcpRelay, type TcpRelay } from '../../helpers/tcp-relay.js';

/** A TCP target that keeps its sockets and what they received, for both test suites. */
interface Target {
  server: Server;
  port: number;
  sockets: Socket[];
  received: () => string;
  close(): Promise<void>;
}

async function startTarget(echo: boolean): Promise<Target> {
  const sockets: Socket[] = [];
  let received = '';
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received += d.toString('utf8');
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
  data: () => string;
  events: string[];
}

async function dial(port: number): Promise<Client> {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  const events: string[] = [];
  socket.on('data', (d: Buffer) => (data += d.toString('utf8')));
  socket.on('end', () => events.push('end'));
  socket.on('close', () => events.push('close'));
  socket.on('error', (e: NodeJS.ErrnoException) => events.push(`error:${e.code ?? e.message}`));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, data: () => data, events };
}

/** Sends a raw CONNECT and reads the response head. */
async function rawConnect(
  port: number,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; head: string; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  const head = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        socket.off('data', onData);
        resolve(buf.slice(0, end));
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before a response head: ${JSON.stringify(buf)}`)));
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, head, socket };
}

describe('startConnectProxy', () => {
  let echo: Target;
  const opened: Socket[] = [];
  beforeAll(async () => {
    echo = await startTarget(true);
  });
  afterEach(() => {
    for (const s of opened.splice(0)) s.destroy();
  });
  afterAll(() => echo.close());

  it('tunnels bytes to the target and records the CONNECT', async () => {
    const proxy = await startConnectProxy();
    try {
      expect(proxy.url).toBe(`http://127.0.0.1:${proxy.port}`);
      expect(proxy.authUrl).toBe(proxy.url);
      const { status, socket } = await rawConnect(proxy.port, `127.0.0.1:${echo.port}`);
      opened.push(socket);
      expect(status).toBe(200);
      const reply = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString('utf8'))));
      socket.write('ping');
      expect(await reply).toBe('ping');
      expect(proxy.connects).toEqual([{ target: `127.0.0.1:${echo.port}`, status: 200 }]);
    } finally {
      await proxy.close();
    }
  });

  describe('with required Basic credentials', () => {
    let proxy: ConnectProxy;
    const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;
    beforeAll(async () => {
      proxy = await startConnectProxy({ auth: { username: 'u', password: 'p@ss' } });
    });
    afterAll(() => proxy.close());

    it('exposes a percent-encoded authUrl', () => {
      expect(proxy.authUrl).toBe(`http://u:p%40ss@127.0.0.1:${proxy.port}`);
    });

    it('answers 407 with Proxy-Authenticate when credentials are missing or wrong', async () => {
      const before = proxy.connects.length;
      const missing = await rawConnect(proxy.port, `127.0.0.1:${echo.port}`);
      opened.push(missing.socket);
      expect(missing.status).toBe(407);
      expect(missing.head).toMatch(/^Proxy-Authenticate: Basic realm="test-proxy"$/m);
      const wrong = await rawConnect(proxy.port, `127.0.0.1:${echo.port}`, { 'Proxy-Authorization': basic('u:nope') });
      opened.push(wrong.socket);
      expect(wrong.status).toBe(407);
      expect(proxy.connects.slice(before)).toEqual([
        { target: `127.0.0.1:${echo.port}`, status: 407 },
        { target: `127.0.0.1:${echo.port}`, auth: basic('u:nope'), status: 407 },
      ]);
    });

    it('tunnels with the right credentials', async () => {
      const ok = await rawConnect(proxy.port, `127.0.0.1:${echo.port}`, { 'Proxy-Authorization': basic('u:p@ss') });
      opened.push(ok.socket);
      expect(ok.status).toBe(200);
      expect(proxy.connects.at(-1)).toEqual({ target: `127.0.0.1:${echo.port}`, auth: basic('u:p@ss'), status: 200 });
    });
  });

  it('answers 502 for an unreachable target and 405 for a plain request', async () => {
    const closed = await startTarget(false);
    await closed.close(); // its port is now (almost certainly) refusing connections
    const proxy = await startConnectProxy();
    try {
      const bad = await rawConnect(proxy.port, `127.0.0.1:${closed.port}`);
      opened.push(bad.socket);
      expect(bad.status).toBe(502);
      expect(proxy.connects).toEqual([{ target: `127.0.0.1:${closed.port}`, status: 502 }]);

      const res = await fetch(`${proxy.url}/`);
      expect(res.status).toBe(405);
    } finally {
      await proxy.close();
    }
  });

  it('close() tears down open tunnels', async () => {
    const proxy = await startConnectProxy();
    const { socket } = await rawConnect(proxy.port, `127.0.0.1:${echo.port}`);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await proxy.close();
    await closed;
    expect(socket.destroyed).toBe(true);
  });
});

describe('startTcpRelay', () => {
  let target: Target;
  let relay: TcpRelay;
  const clients: Client[] = [];

  beforeAll(async () => {
    target = await startTarget(false);
  });
  afterAll(() => target.close());
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await relay.close();
    for (const s of target.sockets.splice(0)) s.destroy();
  });

  async function relayed(): Promise<{ client: Client; upstream: Socket }> {
    const before = target.sockets.length;
    const client = await dial(relay.port);
    clients.push(client);
    await vi.waitFor(() => expect(target.sockets.length).toBe(before + 1));
    return { client, upstream: target.sockets[before]! };
  }

  it('forwards both directions', async () => {
    relay = await startTcpRelay({ host: '127.0.0.1', port: target.port });
    const { client, upstream } = await relayed();
    client.socket.write('to-server');
    upstream.write('to-client');
    await vi.waitFor(() => {
      expect(target.received()).toContain('to-server');
      expect(client.data()).toBe('to-client');
    });
    expect(relay.connections).toBe(1);
    expect(relay.forwardedBytes).toBeGreaterThanOrEqual(18);
  });

  it('pause() black-holes both directions with the sockets left open; resume() forwards again', async () => {
    relay = await startTcpRelay({ host: '127.0.0.1', port: target.port });
    const { client, upstream } = await relayed();
    const base = target.received().length;

    relay.pause();
    expect(relay.paused).toBe(true);
    client.socket.write('lost-1');
    upstream.write('lost-2');
    await vi.waitFor(() => expect(relay.droppedBytes).toBe(12));
    // Nobody was told: no FIN, no RST, no error on either end.
    expect(client.socket.destroyed).toBe(false);
    expect(upstream.destroyed).toBe(false);
    expect(client.events).toEqual([]);

    relay.resume();
    client.socket.write('kept-1');
    upstream.write('kept-2');
    await vi.waitFor(() => {
      expect(target.received().slice(base)).toBe('kept-1');
      expect(client.data()).toBe('kept-2');
    });
  });

  it('holds back a close while paused and delivers it on resume()', async () => {
    relay = await startTcpRelay({ host: '127.0.0.1', port: target.port });
    const { client, upstream } = await relayed();
    let upstreamEnded = false;
    upstream.on('end', () => (upstreamEnded = true));

    relay.pause();
    client.socket.end();
    await vi.waitFor(() => expect(relay.connections).toBe(0)); // the relay saw the client go
    expect(upstreamEnded).toBe(false);
    expect(upstream.destroyed).toBe(false);

    relay.resume();
    await vi.waitFor(() => expect(upstreamEnded).toBe(true));
  });

  it('a connection accepted while paused stays black-holed after resume()', async () => {
    relay = await startTcpRelay({ host: '127.0.0.1', port: target.port });
    relay.pause();
    const { client, upstream } = await relayed();
    const base = target.received().length;
    client.socket.write('hello');
    await vi.waitFor(() => expect(relay.droppedBytes).toBe(5));
    relay.resume();
    client.socket.write('again');
    upstream.write('back');
    await vi.waitFor(() => expect(relay.droppedBytes).toBe(14));
    expect(target.received().length).toBe(base);
    expect(client.data()).toBe('');
  });

  it('cutAll() resets both sides (ECONNRESET)', async () => {
    relay = await startTcpRelay({ host: '127.0.0.1', port: target.port });
    const { client, upstream } = await relayed();
    const upstreamEvents: string[] = [];
    upstream.on('error', (e: NodeJS.ErrnoException) => upstreamEvents.push(`error:${e.code ?? ''}`));
    upstream.on('close', () => upstreamEvents.push('close'));

    relay.cutAll();
    await vi.waitFor(() => {
      expect(client.events).toEqual(['error:ECONNRESET', 'close']);
      expect(upstreamEvents).toEqual(['error:ECONNRESET', 'close']);
    });
    expect(relay.connections).toBe(0);
  });

  it('close() stops listening', async () => {
    relay = await startTcpRelay({ host: '127.0.0.1', port: target.port });
    const { port } = relay;
    await relay.close();
    await expect(dial(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
