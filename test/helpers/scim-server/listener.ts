/** The HTTP(S) listener on 127.0.0.1 (port picked by the OS, kept across stop/start). */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Application } from 'express';
import type { ScimServerOptions } from './types.js';

export interface Listener {
  readonly port: number;
  /** Listen (again, on the same port); refused once closed. */
  start(): Promise<void>;
  /** Close the listener and every connection, cancel pending latency delays. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** Creates the server (reading the TLS files now); it listens on the first `start()`. */
export function createListener(app: Application, tls: ScimServerOptions['tls'], timers: Set<NodeJS.Timeout>): Listener {
  const server: HttpServer = tls
    ? createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, app)
    : createHttpServer(app);

  let port = 0;
  let listening = false;
  let closed = false;
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        listening = true;
        resolve();
      });
    });

  const stop = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await done;
  };

  return {
    get port() {
      return port;
    },
    async start() {
      if (closed) throw new Error('SCIM test server is closed');
      if (!listening) await listen();
    },
    stop,
    async close() {
      closed = true;
      await stop();
    },
  };
}
