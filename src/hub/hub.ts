/**
 * The hub core: an HTTP(S) server whose upgrade handler authenticates agents before the
 * WebSocket exists (`noServer`), a registry of registered agents per tenant, and a typed API
 * to send a request to one of a tenant's agents. Before any of that, admission
 * (src/hub/admission/) bounds what an unauthenticated client can hold: pending connections and
 * their time to send a request head or finish an upgrade, and the scrypt work of checking
 * credentials (docs/configuration.md, `connections` and `authentication`). Behind reverse
 * proxies listed in `trustedProxies`, the client address (logs, `/v1/agents`, throttling) is
 * the one their forwarding headers name, and a TLS-terminating one may forward client
 * certificates (src/hub/forwarded/).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { EMPTY, concatMap, defer, firstValueFrom, from, type Observable, type SchedulerLike } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HubConfig } from '../config/index.js';
import { agentPaths } from '../config/hub-config.js';
import { CLOSE_CODES, ProtocolError, SUBPROTOCOL, exportKeyDigest, type Operation, type ResultData } from '../protocol/index.js';
import type { FastifyInstance } from 'fastify';
import { AgentLink } from './agent-link.js';
import { createHttpApi } from './http/api.js';
import type { ExportEvent, ExportOptions, RecordSource } from './export-request.js';
import type { RequestSpec, StreamEvent, StreamOptions } from './request-sinks.js';
import { authenticateAgent, type AgentPrincipal, type ForwardedCertificates } from './auth.js';
import { AgentRegistry } from './registry.js';
import { ExportPins } from './export-pins.js';
import { HubMetrics } from '../metrics/hub-metrics.js';
import { StatusServer } from '../status/status-server.js';
import { ConnectionGuard } from './admission/connection-guard.js';
import { refuse } from './admission/refuse-upgrade.js';
import { CredentialChecks } from './admission/credential-checks.js';
import { ClientAddresses, describeClient } from './forwarded/client-address.js';
import { ForwardedCertificateVerifier, readCaBundle } from './forwarded/forwarded-certificate.js';
import { TrustedProxies } from './forwarded/trusted-proxies.js';

export interface HubRequest {
  readonly tenantId: string;
  readonly dataSource: string;
  readonly op: Operation;
  readonly params?: Record<string, unknown>;
  /** Defaults to the per-operation timeout from hub.yaml. */
  readonly timeoutMs?: number;
  readonly id?: string;
  /** Export only: the caller's idempotency key; the export runs on the agent holding its journal (docs/exports.md). */
  readonly idempotencyKey?: string;
}

export interface HubOptions {
  readonly scheduler?: SchedulerLike;
}

const TIMEOUT_KEY: Record<Operation, keyof HubConfig['timeouts']> = {
  test: 'test',
  attributes: 'schema',
  schema: 'schema',
  resourceTypes: 'schema',
  get: 'get',
  search: 'search',
  export: 'export',
};

/** Told which agent serves a stream once the hub picked it (the HTTP API's progress lines name it). */
export interface ServedBy {
  readonly servedBy?: (agentId: string) => void;
}

export class Hub {
  readonly registry = new AgentRegistry();
  /** Which agent holds the journal of each export idempotency key. */
  readonly exportPins = new ExportPins();
  /** Prometheus metrics (own registry); the HTTP API records its requests here, see hub-metrics.ts. */
  readonly metrics = new HubMetrics(this.registry);
  private statusServer: StatusServer | undefined;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly log: Logger;
  private readonly api: FastifyInstance;
  /** Password and API token checks: penalties per address, cache of wrong ones, hash semaphore. */
  readonly credentialChecks: CredentialChecks;
  private readonly guard: ConnectionGuard;
  /** The client address of each request (the socket's peer, or whom a trusted proxy names). */
  readonly clientAddresses: ClientAddresses;
  private readonly forwardedCertificates: ForwardedCertificates | undefined;
  private stopping = false;

  constructor(
    private readonly config: HubConfig,
    logger: Logger,
    private readonly options: HubOptions = {},
  ) {
    this.log = logger.child({ component: 'hub' });
    const limits = serverLimits(config);
    const tls = config.tls;
    this.server =
      tls?.cert !== undefined && tls.key !== undefined
        ? createHttpsServer({
            ...limits,
            handshakeTimeout: config.connections.headersTimeout,
            cert: readFileSync(tls.cert),
            key: readFileSync(tls.key),
            // Client certificates must be optional on this listener: Basic-auth agents and the
            // HTTP API's cloud applications (Bearer tokens) present none, and Node cannot make a
            // certificate optional *and* enforced in the handshake. So the handshake still verifies
            // any certificate against clientCa, and `authenticateAgent` refuses the upgrade (401)
            // unless `socket.authorized` — an untrusted certificate never gets a session. This is
            // not verification switched off; the start-up log says so (listen()).
            ...(tls.clientCa ? { ca: readFileSync(tls.clientCa), requestCert: true, rejectUnauthorized: false } : {}),
          })
      : createHttpServer(limits);
    this.credentialChecks = new CredentialChecks(config.authentication, (via, outcome) => this.metrics.authChecked(via, outcome));
    this.credentialChecks.gate.events$.subscribe((e) => {
      if (e.type === 'finished') this.metrics.credentialHashes.inc();
    });
    this.clientAddresses = new ClientAddresses(new TrustedProxies(config.trustedProxies), this.log);
    const forwarded = config.forwardedClientCertificate;
    this.forwardedCertificates =
      forwarded !== undefined && tls?.clientCa !== undefined
        ? { header: forwarded.header, verifier: new ForwardedCertificateVerifier(readCaBundle(readFileSync(tls.clientCa, 'utf8'))) }
        : undefined;
    // A trusted proxy carries many clients: the per-address pending cap (it runs before any
    // header could name them) would make them share one allowance, so proxies are exempt from it.
    const guardOptions = { ...config.connections, exemptFromPerAddressCap: (address: string | undefined) => this.clientAddresses.isTrustedProxy(address) };
    this.guard = new ConnectionGuard(guardOptions, (reason, source) => {
      this.metrics.connectionRefused(reason);
      this.log.debug({ source, reason }, 'connection dropped before authentication');
    });
    this.metrics.followPendingConnections(() => this.guard.pendingCount());
    this.server.on('connection', (socket: Socket) => this.guard.connected(socket));
    this.server.on('request', (req: IncomingMessage) => this.guard.requestArrived(req.socket));
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // Up to 2× the limit a frame is refused with BAD_FRAME and the socket stays up; beyond,
      // ws closes with 1009. UTF-8 is checked by `decodeFrame` (BAD_FRAME) rather than by ws,
      // which would close the socket with 1007 for one bad text frame.
      skipUTF8Validation: true,
      maxPayload: config.maxFrameBytes * 2,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(req, socket, head));
    // Plain requests are the HTTP API's (docs/http-api.md); upgrades stay the agents'.
    this.api = createHttpApi(this.server, this, config, logger);
    this.server.on('tlsClientError', (err) => this.log.debug({ err }, 'TLS handshake with a client failed'));
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = this.config.listen;
    await this.api.ready();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.address();
    const tls = this.config.tls?.cert !== undefined;
    this.log.info({ host: address.address, port: address.port, tls, paths: agentPaths(this.config.listen) }, 'hub listening');
    if (tls && this.config.tls?.clientCa) {
      this.log.info(
        { clientCa: this.config.tls.clientCa },
        'client certificates: requested, verified against clientCa; an agent upgrade with an unverified certificate is refused (401)',
      );
    }
    if (this.config.trustedProxies.length > 0) {
      this.log.info(
        { trustedProxies: this.config.trustedProxies, forwardedClientCertificate: this.forwardedCertificates?.header },
        'reverse proxies trusted: their Forwarded / X-Forwarded-For name the client',
      );
    }
    this.metrics.declareTenants(Object.keys(this.config.tenants));
    if (this.config.status) {
      this.statusServer = await StatusServer.listen(
        this.config.status.listen,
        {
          registry: this.metrics.registry,
          ready: () => ({ ready: this.server.listening && !this.stopping, detail: { agents: this.metrics.agentsPerTenant() } }),
        },
        this.log,
      );
    }
    return address;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Open connections of the listener (agents, API clients and pending ones). */
  connectionCount(): Promise<number> {
    return new Promise((resolve, reject) => this.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  }

  /** Connections without a complete first request head, or with an upgrade not yet answered. */
  pendingConnectionCount(): number {
    return this.guard.pendingCount();
  }

  /** An agent of the tenant offering the data source and operation, or the coded reason there is none. */
  private pick(req: HubRequest): AgentLink {
    const link = this.registry.pick(req.tenantId, req.dataSource, req.op);
    if (link) return link;
    const any = this.registry.agents(req.tenantId);
    if (any.length === 0) throw new ProtocolError('AGENT_DISCONNECTED', `no agent of tenant ${req.tenantId} is connected`);
    throw new ProtocolError(
      any.some((l) => l.hello?.dataSources.some((d) => d.name === req.dataSource)) ? 'OPERATION_NOT_ALLOWED' : 'UNKNOWN_DATA_SOURCE',
      `no connected agent offers ${req.op} on data source ${JSON.stringify(req.dataSource)}`,
      { dataSource: req.dataSource },
    );
  }

  /**
   * The agent for a keyed export: the one its key is pinned to (or that announced its journal),
   * else one of the agents that keep export journals for the data source, which the key is then
   * pinned to. Never an agent without the journal: while the pinned agent is away, a retryable
   * AGENT_DISCONNECTED.
   */
  private pickForKey(req: HubRequest, key: string): AgentLink {
    const digest = exportKeyDigest(req.dataSource, key);
    const pinned = this.exportPins.agentFor(req.tenantId, digest);
    if (pinned !== undefined) {
      const link = this.registry.pick(req.tenantId, req.dataSource, 'export', (l) => l.agentId === pinned);
      if (link) return link;
      throw new ProtocolError(
        'AGENT_DISCONNECTED',
        `agent ${pinned}, which holds the journal of this idempotency key, is not connected: resend the export when it is back`,
        { dataSource: req.dataSource },
      );
    }
    const link = this.registry.pick(req.tenantId, req.dataSource, 'export', (l) => l.keepsExportJournal(req.dataSource));
    if (link === undefined) {
      this.pick(req); // the coded reason when no agent offers the export at all
      throw new ProtocolError(
        'IDEMPOTENCY_NOT_SUPPORTED',
        `no connected agent keeps an export journal for data source ${JSON.stringify(req.dataSource)} (stateDir in application.yaml): send the export without Idempotency-Key`,
        { dataSource: req.dataSource },
      );
    }
    this.exportPins.pin(req.tenantId, digest, link.agentId!);
    return link;
  }

  /** The configured deadline of an operation (hub.yaml `timeouts`). */
  timeoutFor(op: Operation): number {
    return this.config.timeouts[TIMEOUT_KEY[op]];
  }

  private spec(req: HubRequest): RequestSpec {
    return {
      op: req.op,
      dataSource: req.dataSource,
      params: req.params ?? {},
      timeoutMs: req.timeoutMs ?? this.timeoutFor(req.op),
      ...(req.id === undefined ? {} : { id: req.id }),
      ...(req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey }),
    };
  }

  /** A request–response operation; emits the agent's `result` data once, or a coded `ProtocolError`. */
  result$(req: HubRequest): Observable<unknown> {
    return defer(() => this.pick(req).result$(this.spec(req)));
  }

  /**
   * `result$` with the data as the agent sent it (`ResultData`): the HTTP API writes its bytes
   * (`json()`) without parsing them; `value()` parses.
   */
  answer$(req: HubRequest): Observable<ResultData> {
    return defer(() => this.pick(req).answer$(this.spec(req)));
  }

  /** Promise form of `result$`. */
  request(req: HubRequest): Promise<unknown> {
    return firstValueFrom(this.result$(req));
  }

  /** A `search` as chunk events under credit, ending with `{type: 'end', count, truncated}`. */
  searchEvents$(req: Omit<HubRequest, 'op'>, options?: StreamOptions & ServedBy): Observable<StreamEvent> {
    const full: HubRequest = { ...req, op: 'search' };
    return defer(() => this.served(this.pick(full), options).stream$(this.spec(full), options));
  }

  /** A `search` as a stream of entries; credit is granted as the subscriber takes them. */
  search$(req: Omit<HubRequest, 'op'>): Observable<unknown> {
    return this.searchEvents$(req).pipe(concatMap((e) => (e.type === 'items' ? from(e.items) : EMPTY)));
  }

  /** An `export`: records in (pulled as the agent grants credit), one result per record out. */
  exportEvents$(req: Omit<HubRequest, 'op'>, records: RecordSource, options?: ExportOptions & ServedBy): Observable<ExportEvent> {
    const full: HubRequest = { ...req, op: 'export' };
    return defer(() => {
      const link = full.idempotencyKey === undefined ? this.pick(full) : this.pickForKey(full, full.idempotencyKey);
      return this.served(link, options).export$(this.spec(full), records, options);
    });
  }

  /** Tells `options.servedBy` which agent was picked. */
  private served(link: AgentLink, options: ServedBy | undefined): AgentLink {
    if (link.agentId !== undefined) options?.servedBy?.(link.agentId);
    return link;
  }

  export$(req: Omit<HubRequest, 'op'>, records: RecordSource, options?: ExportOptions): Observable<unknown> {
    return this.exportEvents$(req, records, options).pipe(concatMap((e) => (e.type === 'results' ? from(e.items) : EMPTY)));
  }

  /** Stops accepting agents, closes every agent socket with 1001 and the listener. */
  async close(): Promise<void> {
    this.stopping = true;
    for (const link of this.registry.all()) link.close(CLOSE_CODES.GOING_AWAY, 'hub shutting down');
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.guard.close();
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.api.close();
    this.registry.complete();
    await this.statusServer?.close();
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', (err) => this.log.debug({ err }, 'upgrade socket error'));
    this.guard.upgradeArrived(req.socket);
    const path = new URL(req.url ?? '/', 'http://hub').pathname;
    if (this.stopping) return refuse(socket, 503, 'hub shutting down');
    const endpoints = agentPaths(this.config.listen);
    if (!endpoints.includes(path)) return refuse(socket, 404, `no agent endpoint at ${path} (agent endpoints: ${endpoints.join(', ')})`);
    const client = this.clientAddresses.of(req);
    const remote = describeClient(client);
    const via = client.forwarded ? { remote, proxy: client.peer } : { remote };
    let outcome;
    try {
      outcome = await authenticateAgent(req, this.config.tenants, this.credentialChecks, { client, forwardedCertificates: this.forwardedCertificates });
    } catch (err) {
      this.log.error({ err, ...via }, 'agent authentication failed unexpectedly');
      return refuse(socket, 500, 'internal error');
    }
    if (socket.destroyed) return; // cut while it waited (upgradeTimeout, or the client went away)
    if (!outcome.ok) {
      if ('retryAfterSeconds' in outcome) {
        this.metrics.connectionRefused(outcome.status === 429 ? 'auth_penalty' : 'auth_busy');
        this.log.debug({ ...via, status: outcome.status, reason: outcome.reason }, 'agent upgrade refused');
        return refuse(socket, outcome.status, outcome.reason, outcome.retryAfterSeconds);
      }
      this.log.warn({ ...via, status: outcome.status, reason: outcome.reason }, 'agent upgrade refused');
      return refuse(socket, outcome.status, outcome.reason);
    }
    const principal = outcome.principal;
    const max = this.config.connections.maxSessionsPerTenant;
    if (principal.tenants.every((t) => this.registry.agents(t).length >= max)) {
      this.metrics.connectionRefused('tenant_sessions');
      this.log.warn({ ...via, tenants: principal.tenants, max }, 'agent upgrade refused: the tenant has connections.maxSessionsPerTenant sessions');
      return refuse(socket, 503, `the tenant has ${max} agent sessions already (connections.maxSessionsPerTenant)`, 5);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.guard.upgradeAccepted(req.socket);
      this.onAgentSocket(ws, principal, remote, via);
    });
  }

  private onAgentSocket(ws: WebSocket, principal: AgentPrincipal, remote: string, via: { remote: string; proxy?: string }): void {
    const log = this.log.child(via);
    const link = new AgentLink(
      ws,
      principal,
      remote,
      {
        maxFrameBytes: this.config.maxFrameBytes,
        registrationTimeoutMs: this.config.registrationTimeout,
        keepAliveInterval: this.config.keepAliveInterval,
        keepAliveTimeout: this.config.keepAliveTimeout,
        onFrameOutcome: (outcome) => this.metrics.agentFrameUndelivered(outcome),
        ...(this.options.scheduler ? { scheduler: this.options.scheduler } : {}),
      },
      log,
    );
    link.start(
      (hello) =>
        principal.tenants.includes(hello.tenantId)
          ? undefined
          : { code: 'TENANT_MISMATCH', message: `these credentials are not valid for tenant ${JSON.stringify(hello.tenantId)}` },
      () => {
        const tenantId = link.tenantId!;
        const agentId = link.agentId!;
        const replaced = this.registry.register(tenantId, agentId, link);
        this.exportPins.learn(tenantId, agentId, link.hello?.exportKeys ?? []);
        if (replaced) {
          log.info({ tenantId, agentId, sessionKey: link.sessionKey }, 'agent re-registered: closing the stale connection');
          replaced.close(CLOSE_CODES.REPLACED, 'replaced by a newer registration');
        }
        log.info(
          { tenantId, agentId, sessionId: link.sessionId, sessionKey: link.sessionKey, version: link.hello?.agent.version, dataSources: link.hello?.dataSources.map((d) => d.name) },
          'agent registered',
        );
        link.closed$.subscribe(() => {
          this.registry.unregister(tenantId, agentId, link);
          log.info({ tenantId, agentId, sessionId: link.sessionId }, 'agent disconnected');
        });
      },
    );
  }
}

/**
 * Timeouts of the listener: request heads within `connections.headersTimeout` (checked every
 * second or so rather than Node's default 30 s), a whole request within the longest operation
 * deadline (an export's body streams for as long as the export runs).
 */
function serverLimits(config: HubConfig): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  const headersTimeout = config.connections.headersTimeout;
  return {
    headersTimeout,
    requestTimeout: Math.max(...Object.values(config.timeouts)) + headersTimeout,
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headersTimeout / 2))),
  };
}
