/**
 * The local status listener of the agent and the hub (config `status.listen`): liveness,
 * readiness and Prometheus metrics over plain `node:http` — three read-only endpoints do not
 * need a framework, and this keeps the status port independent of the hub's API server.
 *
 *   GET /healthz  200 {"status":"ok"}                       while the process serves at all
 *   GET /readyz   200 {"status":"ready", detail} | 503 {"status":"not ready", detail}
 *                 (the agent's detail: its hub connections, and each data source's health —
 *                 which never changes the status code)
 *   GET /metrics  Prometheus text exposition of one prom-client Registry
 *   other paths   404 JSON; another method on a known path: 405 with `Allow: GET`
 *
 * It binds only to the configured address: put it on loopback or an internal interface, it
 * has no authentication (the same exposure as a node exporter).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/codecs.js';

/** What `/readyz` reports; `detail` is sent as JSON as is (no secrets in it). */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: unknown;
}

/** What a status listener serves: the component's readiness and its metrics. */
export interface StatusSource {
  /** Asked on every `/readyz`; must be cheap and must not throw (a throw answers 500). */
  ready(): Readiness;
  readonly registry: Registry;
}

const PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export class StatusServer {
  private constructor(
    private readonly server: Server,
    private readonly log: Logger,
  ) {}

  /** Listens on `listen` (port 0: any free port); rejects if the address cannot be bound. */
  static async listen(listen: ListenAddress, source: StatusSource, logger: Logger): Promise<StatusServer> {
    const log = logger.child({ component: 'status' });
    const server = createServer((req, res) => void handle(req, res, source, log));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const status = new StatusServer(server, log);
    const { address, port } = status.address();
    log.info({ host: address, port }, 'status listener up (/healthz, /readyz, /metrics)');
    return status;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Stops listening and drops open (keep-alive) connections, so a scraper cannot hold it open. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.log.debug('status listener closed');
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, source: StatusSource, log: Logger): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://status').pathname;
  if (!PATHS.has(path)) return json(res, 404, { code: 'NOT_FOUND', message: `no status endpoint at ${path}` });
  if (req.method !== 'GET') {
    res.setHeader('allow', 'GET');
    return json(res, 405, { code: 'METHOD_NOT_ALLOWED', message: `${path} answers GET only, got ${req.method ?? '?'}` });
  }
  try {
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const { ready, detail } = source.ready();
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', detail });
    }
    const text = await source.registry.metrics();
    res.writeHead(200, { 'content-type': source.registry.contentType, 'cache-control': 'no-store' }).end(text);
  } catch (err) {
    log.error({ err, path }, 'status endpoint failed');
    if (!res.headersSent) json(res, 500, { code: 'INTERNAL', message: `${path} failed` });
    else res.destroy();
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
