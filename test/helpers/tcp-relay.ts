/**
 * A pausable TCP relay on 127.0.0.1:0 in front of `target`, to fake network failures that
 * neither side's TCP stack reports:
 *
 * - `pause()`  — black hole: sockets stay open, nothing is forwarded in either direction and
 *               the data is dropped (also FIN/close are held back), like a NAT or firewall that
 *               silently lost its state. Only application-level keep-alives notice this.
 * - `resume()` — forward again (held-back closes are applied). Bytes dropped while paused are
 *               gone, so a stream protocol is usually corrupt afterwards: tests should expect
 *               the endpoints to detect it and reconnect.
 * - `cutAll()` — abort every connection with a TCP RST (`resetAndDestroy`) on both sides.
 *
 * A connection accepted while paused stays black-holed for its whole life: its first bytes
 * (TLS ClientHello, HTTP upgrade) were dropped, so forwarding it later would only send garbage.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpRelay {
  host: '127.0.0.1';
  port: number;
  /** Open relayed connections. */
  readonly connections: number;
  /** Bytes forwarded / dropped so far (both directions). Poll these instead of sleeping. */
  readonly forwardedBytes: number;
  readonly droppedBytes: number;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  cutAll(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Accepted while paused: never forwarded. */
  blackholed: boolean;
  /** Close/end propagation held back while paused. */
  deferred: Array<() => void>;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const pairs = new Set<Pair>();
  let paused = false;
  let forwardedBytes = 0;
  let droppedBytes = 0;
  const blocked = (p: Pair): boolean => paused || p.blackholed;

  const forward = (p: Pair, from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (blocked(p)) {
        droppedBytes += chunk.length;
        return;
      }
      forwardedBytes += chunk.length;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    const propagate = (action: () => void): void => {
      if (blocked(p)) p.deferred.push(action);
      else action();
    };
    from.on('end', () => propagate(() => to.end()));
    from.on('close', () => {
      propagate(() => to.destroy());
      if (p.client.destroyed && p.upstream.destroyed) pairs.delete(p);
    });
    // Errors surface as 'close' on this side; the other side is handled there.
    from.on('error', () => undefined);
  };

  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const p: Pair = { client, upstream, blackholed: paused, deferred: [] };
    pairs.add(p);
    forward(p, client, upstream);
    forward(p, upstream, client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    get connections() {
      return [...pairs].filter((p) => !p.client.destroyed).length;
    },
    get forwardedBytes() {
      return forwardedBytes;
    },
    get droppedBytes() {
      return droppedBytes;
    },
    get paused() {
      return paused;
    },
    pause() {
      paused = true;
      // Keep reading (and dropping) even where backpressure had paused a socket, so the
      // senders see a healthy TCP connection, not a full window.
      for (const p of pairs) {
        p.client.resume();
        p.upstream.resume();
      }
    },
    resume() {
      paused = false;
      for (const p of pairs) {
        if (p.blackholed) continue;
        const actions = p.deferred.splice(0);
        for (const a of actions) a();
      }
    },
    cutAll() {
      for (const p of pairs) {
        // RST, not FIN: the peers see ECONNRESET, as after a router reboot or a killed NAT entry.
        p.client.resetAndDestroy();
        p.upstream.resetAndDestroy();
      }
      pairs.clear();
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const p of pairs) {
          p.client.destroy();
          p.upstream.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      });
    },
  };
}
