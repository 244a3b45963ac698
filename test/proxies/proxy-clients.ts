/**
 * Clients of a hub behind a reverse proxy, for the real-proxy scenarios:
 *
 * - `startSlowRead`: a search over HTTPS that reads one chunk of the answer and stops reading
 *   (the socket stays open), then on `finish()` reads everything and checks every line;
 * - `pullsWhenStalled`: the data source's page pulls once they stopped growing, proven by round
 *   trips to the agent (each travels the proxy too), never by a sleep;
 * - `startBoundRelay`: a TCP relay that connects to the proxy FROM a chosen loopback address
 *   (127.0.0.3, …), so a client the test cannot bind itself (the agent) reaches the proxy from an
 *   address that differs from the proxy's own (127.0.0.1). The TLS session passes through
 *   untouched: the proxy sees the relay's address as the client's.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { MemoryAdapter } from '../helpers/memory-adapter.js';
import { roundTrips, type RunningHub } from '../helpers/relay-env.js';

/** Consecutive round trips without a pull that count as "stopped". */
export const QUIET_ROUNDS = 5;

/**
 * The page pulls once they stopped: round trips to the agent (each proves it acted on what the
 * hub sent before, credit included) repeated until QUIET_ROUNDS in a row added no pull. A reader
 * that never stalls the agent fails on `rounds`.
 */
export async function pullsWhenStalled(hub: RunningHub, adapter: MemoryAdapter, rounds = 500): Promise<number> {
  let quiet = 0;
  for (let i = 0; i < rounds; i++) {
    const before = adapter.pulls.length;
    await roundTrips(hub.hub, '1', 1);
    quiet = adapter.pulls.length === before ? quiet + 1 : 0;
    if (quiet === QUIET_ROUNDS) return before;
  }
  throw new Error(`the agent was still pulling pages after ${rounds} round trips (${adapter.pulls.length} pulls)`);
}

export interface SlowRead {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Bytes of the answer the client had read when it stopped (its first chunk). */
  readonly bytesRead: number;
  /** Resumes reading to the end: the entry lines (parsed) and the last line. */
  finish(): Promise<{ entries: Array<Record<string, unknown>>; last: Record<string, unknown> | undefined; bytes: number }>;
}

export interface SlowReadOptions {
  readonly base: string;
  readonly path: string;
  readonly token: string;
  readonly ca: Buffer;
  readonly body: string;
  readonly localAddress?: string;
  readonly headers?: Record<string, string>;
}

/** POSTs `body`, reads the first chunk of the answer, then stops reading. */
export function startSlowRead(options: SlowReadOptions): Promise<SlowRead> {
  return new Promise((resolve, reject) => {
    const req = request(`${options.base}${options.path}`, {
      method: 'POST',
      ca: options.ca,
      agent: false,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json', ...options.headers },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      res.once('error', reject);
      // Registered now: with the whole answer in the first chunk, 'end' can come before finish().
      const ended = new Promise<void>((done, fail) => {
        res.once('end', done);
        res.once('error', fail);
      });
      ended.catch(() => undefined); // reported by finish(), or by the 'error' above
      res.once('data', (first: Buffer) => {
        res.pause();
        const finish: SlowRead['finish'] = () =>
          new Promise((done, fail) => {
            const entries: Array<Record<string, unknown>> = [];
            let last: Record<string, unknown> | undefined;
            let rest = '';
            let bytes = 0;
            const take = (chunk: Buffer): void => {
              bytes += chunk.length;
              const lines = (rest + chunk.toString('utf8')).split('\n');
              rest = lines.pop() ?? '';
              for (const line of lines) {
                if (last !== undefined) entries.push(last);
                last = JSON.parse(line) as Record<string, unknown>;
              }
            };
            take(first);
            res.on('data', take);
            const end = (): void => {
              try {
                // A JSON answer (not NDJSON) is one line without a newline.
                const unterminated = rest !== '';
                if (unterminated) take(Buffer.from('\n'));
                done({ entries, last, bytes: unterminated ? bytes - 1 : bytes });
              } catch (err) {
                fail(err instanceof Error ? err : new Error(String(err)));
              }
            };
            ended.then(end, fail);
            res.resume();
          });
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytesRead: first.length, finish });
      });
    });
    req.end(options.body);
  });
}

export interface BoundRelay {
  /** `127.0.0.1:PORT`: connect here to reach the target from `localAddress`. */
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0; each connection is piped to 127.0.0.1:`targetPort` from `localAddress`. */
export async function startBoundRelay(targetPort: number, localAddress: string): Promise<BoundRelay> {
  const sockets = new Set<Socket>();
  const track = (s: Socket): Socket => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    return s;
  };
  const server = createServer((client) => {
    track(client);
    const upstream = track(connect({ host: '127.0.0.1', port: targetPort, localAddress }));
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
