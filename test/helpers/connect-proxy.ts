/**
 * A minimal HTTP CONNECT proxy (RFC 9110 §9.3.6) on 127.0.0.1:0 for tests, with optional
 * Basic proxy authentication (RFC 9110 §11.7: 407 + Proxy-Authenticate). Plain (non-CONNECT)
 * requests get 405: the agent only ever tunnels.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ConnectRecord {
  /** `host:port` from the CONNECT request line. */
  target: string;
  /** Raw `Proxy-Authorization` header value, when sent. */
  auth?: string;
  /** Status the proxy answered: 200, 407 or 502. */
  status: number;
}

export interface ConnectProxy {
  /** `http://127.0.0.1:<port>`, without credentials. */
  url: string;
  /** `http://user:pass@127.0.0.1:<port>` (percent-encoded) when credentials are required, else `url`. */
  authUrl: string;
  port: number;
  /** Every CONNECT received, in order. */
  connects: ConnectRecord[];
  close(): Promise<void>;
}

export interface ConnectProxyOptions {
  /** Require these Basic credentials. */
  auth?: { username: string; password: string };
}

export async function startConnectProxy(opts: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const connects: ConnectRecord[] = [];
  const sockets = new Set<Duplex>();
  const track = (s: Duplex): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const expected = opts.auth
    ? `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`
    : undefined;

  const server = createServer((_req, res) => {
    res.writeHead(405, { Allow: 'CONNECT', Connection: 'close' }).end();
  });

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    client.on('error', () => client.destroy());
    const target = req.url ?? '';
    const auth = req.headers['proxy-authorization'];
    const record: ConnectRecord = { target, status: 0 };
    if (auth !== undefined) record.auth = auth;
    connects.push(record);

    if (expected !== undefined && auth !== expected) {
      record.status = 407;
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\n' +
          'Proxy-Authenticate: Basic realm="test-proxy"\r\n' +
          'Content-Length: 0\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    if (!m?.[1] || !m[2]) {
      record.status = 400;
      client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream: Socket = connect(Number(m[2]), m[1]);
    track(upstream);
    upstream.once('connect', () => {
      record.status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => {
      if (record.status === 0) {
        record.status = 502;
        client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      } else {
        client.destroy();
      }
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const authUrl = opts.auth
    ? `http://${encodeURIComponent(opts.auth.username)}:${encodeURIComponent(opts.auth.password)}@127.0.0.1:${port}`
    : url;

  return {
    url,
    authUrl,
    port,
    connects,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
