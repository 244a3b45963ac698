/**
 * The agent runtime: one connection stream per hub URL, all concurrent and independent,
 * each session's requests handed to the request handler. Connection health is
 * one merged `status$`; every transition is logged.
 */
import type { AddressInfo } from 'node:net';
import { EMPTY, Subject, catchError, merge, mergeMap, type Observable, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/index.js';
import { connection, type ReconnectOptions } from '../connection/connection.js';
import type { DialOptions } from '../connection/dial.js';
import { proxyAgent, shownProxyOf } from '../connection/proxy.js';
import { redactUrl } from '../support/proxy-url.js';
import { describeStatus, type ConnectionStatus } from '../connection/status.js';
import { agentAuthHeaders, agentTls } from '../connection/agent-credentials.js';
import type { Session } from '../connection/session.js';
import type { DataSourceAdapter } from '../adapter-kit/adapter.js';
import { createAdapter } from '../adapter-kit/registry.js';
import { guardAdapter } from '../pipeline/guarded-adapter.js';
import { WorkerAdapter } from '../pipeline/worker-adapter.js';
import type { DataSourceConfig } from '../config/data-source-registry.js';
import '../adapters/builtin.js';
import { Drain } from '../pipeline/drain.js';
import { StreamSlots } from '../pipeline/stream-slots.js';
import { pipelineLimits } from '../pipeline/limits.js';
import type { ServedDataSource } from '../pipeline/run-request.js';
import { servePipeline } from '../pipeline/session-pipeline.js';
import { AgentMetrics } from '../metrics/agent-metrics.js';
import { StatusServer, type Readiness } from '../status/status-server.js';
import { buildHello } from './hello.js';
import { agentConfigWarnings } from '../config/agent-config.js';
import { SourceHealth } from './source-health.js';
import { ProcessGuard } from './process-guard.js';
import { STARTUP_TEST_TIMEOUT_MS, testSourcesOnStart, type StartupTestRecord } from './startup-test.js';
import { EXPORT_JOURNAL_DEFAULTS, ExportJournals, exportJournalDir } from '../pipeline/export-journal.js';
import { MAX_ANNOUNCED_EXPORT_KEYS, type Hello } from '../protocol/index.js';

export interface AgentOptions {
  /** Adapters to use instead of building them from config, by data-source name (tests, embedding). */
  readonly adapters?: ReadonlyMap<string, DataSourceAdapter>;
  /** Overrides for tests (e.g. a scheduler or a deterministic random). */
  readonly reconnect?: Partial<ReconnectOptions>;
  readonly registrationTimeoutMs?: number;
}

export class Agent {
  private subscription: Subscription | undefined;
  /** The start-up tests (`testOnStart`) still running; cancelled by `stop()`. */
  private startupTests: Subscription | undefined;
  /** Each data source's start-up test outcome, for `/readyz`. */
  private readonly startupResults = new Map<string, StartupTestRecord>();
  private readonly log: Logger;
  private readonly connections$: Observable<ConnectionStatus>;
  private readonly statusSubject = new Subject<ConnectionStatus>();
  private readonly latest = new Map<string, ConnectionStatus>();
  /** The proxy (userinfo masked) each hub URL is reached through; absent: direct. */
  private readonly proxies = new Map<string, string>();
  /** Every status transition of every URL, as it happens (hot: subscribe before `start()`). */
  readonly status$: Observable<ConnectionStatus> = this.statusSubject.asObservable();
  private readonly dataSources = new Map<string, ServedDataSource>();
  private readonly drain = new Drain();
  private readonly streams: StreamSlots;
  /** Prometheus metrics of this agent (its own registry), served on `/metrics` when `status` is set. */
  readonly metrics: AgentMetrics;
  private statusServer: Promise<StatusServer> | undefined;
  /** Durable journals of exports with an idempotency key (`stateDir`); absent without one. */
  private readonly journals: ExportJournals | undefined;
  /** Each data source's health: faults of its adapter (shown in `/readyz` and the metrics). */
  readonly health: SourceHealth;
  /**
   * What to do with a stray rejection or an uncaught exception (process-guard.ts): the CLI
   * installs it on the process (`processGuard.install()`).
   */
  readonly processGuard: ProcessGuard;

  constructor(
    private readonly config: AgentConfig,
    logger: Logger,
    private readonly options: AgentOptions = {},
  ) {
    this.log = logger.child({ component: 'agent' });
    this.streams = new StreamSlots(config.maxConcurrentStreams);
    // Loaded once, at construction: a bad key store must fail at start, not at every reconnect.
    const tls = agentTls(config.agent);
    const names = Object.keys(config.dataSources);
    this.metrics = new AgentMetrics({ urls: config.agent.urls, dataSources: names });
    this.health = new SourceHealth(names, this.metrics);
    this.processGuard = new ProcessGuard({ log: logger, health: this.health });
    // Every adapter — from config, a plugin or the embedding application — is served guarded:
    // its bugs fail its requests, are recorded in its health and never reach the pipeline.
    for (const [name, ds] of Object.entries(config.dataSources)) {
      const adapter = options.adapters?.get(name) ?? this.buildAdapter(name, ds, logger);
      const log = logger.child({ component: 'adapter', dataSource: name });
      const hooks = {
        fault: (f: { where: string; error: unknown; requestId?: string }) =>
          this.health.fault(name, { kind: 'internal_error', code: 'INTERNAL', where: f.where, error: f.error, ...(f.requestId === undefined ? {} : { requestId: f.requestId }) }),
        succeeded: () => this.health.succeeded(name),
      };
      this.dataSources.set(name, { adapter: guardAdapter(adapter, { dataSource: name, hooks, log }), operations: ds.operations });
    }
    const journals =
      config.stateDir === undefined
        ? undefined
        : new ExportJournals(
            {
              dir: exportJournalDir(config.stateDir),
              maxAgeMs: config.exportJournal?.maxAge ?? EXPORT_JOURNAL_DEFAULTS.maxAgeMs,
              maxBytes: config.exportJournal?.maxBytes ?? EXPORT_JOURNAL_DEFAULTS.maxBytes,
              fsync: config.exportJournal?.fsync ?? EXPORT_JOURNAL_DEFAULTS.fsync,
            },
            logger,
          );
    this.journals = journals;
    // Built at every connection: the journals it announces change as exports run.
    const hello = (): Hello => buildHello(config, journals?.recent(MAX_ANNOUNCED_EXPORT_KEYS) ?? []);
    // A client certificate wins over Basic credentials (as in the classic agent).
    const headers = agentAuthHeaders(config.agent);
    const streams = config.agent.urls.map((url, index) => {
      const agent = proxyAgent(url, {
        ...(config.agent.proxy ? { proxy: config.agent.proxy, proxySource: 'agent.proxy' } : {}),
        ...(config.agent.noProxy ? { noProxy: config.agent.noProxy } : {}),
        tls,
      });
      const proxy = shownProxyOf(agent);
      if (proxy !== undefined) this.proxies.set(url, proxy);
      const dialOptions: DialOptions & ReconnectOptions = {
        // One session per URL, all registered at once: the hub replaces only the session with
        // the same key, so two URLs that reach the same hub never replace each other.
        hello: (): Hello => ({ ...hello(), sessionKey: String(index) }),
        maxFrameBytes: config.maxFrameBytes,
        registrationTimeoutMs: options.registrationTimeoutMs ?? 10_000,
        keepAliveInterval: config.keepAliveInterval,
        keepAliveTimeout: config.keepAliveTimeout,
        headers,
        tls,
        ...(agent ? { agent } : {}),
        reconnectDelay: config.reconnectDelay,
        maxReconnectDelay: config.maxReconnectDelay,
        reconnectResetAfter: config.reconnectResetAfter,
        ...options.reconnect,
        onBadFrame: (message) => this.log.warn({ url: redactUrl(url), reason: message }, 'bad frame from hub'),
      };
      return connection(url, dialOptions);
    });
    this.connections$ = merge(...streams);
  }

  /** The adapter of a configured source: in this thread, or (`isolation: worker`) in a worker of its own. */
  private buildAdapter(name: string, ds: DataSourceConfig, logger: Logger): DataSourceAdapter {
    if (ds.isolation !== 'worker') return createAdapter(name, ds, logger);
    return new WorkerAdapter(name, ds, logger.child({ component: 'adapter', dataSource: name, type: ds.type, isolation: 'worker' }), {
      crashed: (err) => this.health.fault(name, { kind: 'worker_crash', error: err }),
      restarted: () => this.metrics.workerRestarted(name),
    });
  }

  /** Starts all connections, and the status listener if configured; returns immediately. */
  start(): void {
    if (this.subscription) return;
    this.startStatus();
    this.log.info(
      { agentId: this.config.agent.id, tenantId: this.config.agent.tenantId, urls: this.config.agent.urls.map(redactUrl) },
      'agent starting',
    );
    for (const warning of agentConfigWarnings(this.config)) this.log.warn(warning);
    if (this.config.testOnStart) {
      this.startupTests = testSourcesOnStart(this.dataSources, {
        log: this.log,
        timeoutMs: Math.min(STARTUP_TEST_TIMEOUT_MS, this.config.maxRequestTimeout),
      }).subscribe(({ dataSource, record }) => this.startupResults.set(dataSource, record));
    }
    this.subscription = this.connections$
      .pipe(
        mergeMap((status) => {
          this.latest.set(status.url, status);
          this.metrics.connectionStatus(status);
          this.logStatus(status);
          this.statusSubject.next(status);
          return status.state === 'registered' ? this.serve(status.session) : EMPTY;
        }),
      )
      .subscribe();
  }

  /** Closes every connection with a normal close code, and the status listener. */
  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.startupTests?.unsubscribe();
    this.startupTests = undefined;
    this.latest.clear();
    this.metrics.connectionsStopped();
    void this.closeStatus();
  }

  /** The latest status of each URL (for health endpoints and the CLI). */
  currentStatus(): ConnectionStatus[] {
    return [...this.latest.values()];
  }

  /**
   * `/readyz`: ready while at least one hub URL is registered and the agent is not draining;
   * the detail lists each URL's latest status (credentials in URLs redacted), each data
   * source's health and, with `testOnStart`, each source's start-up test outcome. An
   * unhealthy data source does not make the agent unready: an orchestrator
   * would restart the agent, and every other source and hub session with it.
   */
  readiness(): Readiness {
    const statuses = this.currentStatus();
    const draining = this.drain.draining;
    return {
      ready: !draining && statuses.some((s) => s.state === 'registered'),
      detail: {
        draining,
        connections: statuses.map(describeForStatus),
        dataSources: this.health.snapshot(),
        ...(this.startupResults.size === 0 ? {} : { startupTests: Object.fromEntries(this.startupResults) }),
      },
    };
  }

  /**
   * Where the status listener listens (undefined without `status` in the config or before
   * `start()`); rejects if it could not bind.
   */
  async statusAddress(): Promise<AddressInfo | undefined> {
    return (await this.statusServer)?.address();
  }

  private startStatus(): void {
    const status = this.config.status;
    if (!status || this.statusServer) return;
    this.statusServer = StatusServer.listen(status.listen, { registry: this.metrics.registry, ready: () => this.readiness() }, this.log);
    this.statusServer.catch((err: unknown) => this.log.error({ err, host: status.listen.host, port: status.listen.port }, 'status listener failed to start'));
  }

  /** Never rejects: a listener that failed to start was logged already. */
  private async closeStatus(): Promise<void> {
    const server = this.statusServer;
    this.statusServer = undefined;
    await server?.then((s) => s.close()).catch(() => undefined);
  }

  private serve(session: Session): Observable<never> {
    return servePipeline(session, {
      dataSources: this.dataSources,
      drain: this.drain,
      streams: this.streams,
      limits: pipelineLimits(this.config, session.maxFrameBytes),
      log: this.log,
      progressEveryMs: this.config.logging.progressInterval,
      metrics: this.metrics,
      ...(this.journals ? { journals: this.journals } : {}),
    }).pipe(
      catchError((err: unknown) => {
        this.log.error({ err, url: redactUrl(session.url) }, 'request pipeline failed: closing the session');
        session.close(1011, 'internal error');
        return EMPTY;
      }),
    );
  }

  /**
   * Graceful stop (SIGTERM): refuse new requests (BUSY, retryable), let those in flight finish
   * within `graceMs`, end the rest with a retryable CANCELLED (see Drain), then close every
   * connection normally and the adapters. Returns whether everything finished within the grace
   * period.
   */
  async shutdown(graceMs: number): Promise<boolean> {
    const inFlight = this.drain.inFlight;
    this.log.info({ inFlight, graceMs }, 'draining: no new requests, waiting for those in flight');
    const clean = await this.drain.begin(graceMs);
    if (!clean) {
      this.log.warn(
        { inFlight: this.drain.inFlight, graceMs },
        'grace period over: requests still running were ended with CANCELLED (exports after the record being written)',
      );
    }
    await this.close();
    return clean;
  }

  /** Closes every connection with a normal close code, then the adapters' upstream connections. */
  async close(): Promise<void> {
    const status = this.closeStatus();
    this.stop();
    await Promise.allSettled([status, ...[...this.dataSources.values()].map((d) => d.adapter.close())]);
  }

  private logStatus(status: ConnectionStatus): void {
    const fields = { ...describeStatus(status), url: redactUrl(status.url) };
    if (status.state === 'registered') this.log.info(fields, 'registered with hub');
    else if (status.state === 'connecting') {
      // Every attempt through a proxy says so: a reconnect loop is then read at the right hop.
      const proxy = this.proxies.get(status.url);
      if (proxy === undefined) this.log.debug(fields, 'connecting to hub');
      else this.log.info({ ...fields, proxy }, `connecting to hub via proxy ${proxy}`);
    }
    else if (status.state === 'rejected') this.log.error(fields, 'hub rejected the agent');
    else this.log.warn(fields, 'disconnected from hub');
  }
}

/** A status for `/readyz`: the URL redacted, also where a reason quotes it. */
function describeForStatus(s: ConnectionStatus): Record<string, unknown> {
  const url = redactUrl(s.url);
  const fields = { ...describeStatus(s), url };
  return 'reason' in s ? { ...fields, reason: s.reason.split(s.url).join(url) } : fields;
}
