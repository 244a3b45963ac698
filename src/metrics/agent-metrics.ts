/**
 * The agent's Prometheus metrics, in a registry of its own per Agent (never prom-client's global
 * one: two agents in one process must not mix their counts). The connection side is fed from
 * the agent's `ConnectionStatus` stream; the request side implements the pipeline's
 * hooks (`PipelineMetrics`, src/pipeline/meter.ts). Every metric is listed in docs/operations.md.
 *
 * Label values are bounded: `url` is one of the configured hub URLs (credentials redacted),
 * `data_source` one of the configured data sources — a name the hub sent that is not configured
 * becomes `(unknown)`, so a confused or hostile hub cannot grow the series without bound.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ldaptsFastPath } from '../adapters/ldap/ldapts-internals.js';
import { redactUrl } from '../support/proxy-url.js';
import type { ConnectionState, ConnectionStatus } from '../connection/status.js';
import type { PipelineMetrics, RequestMeter } from '../pipeline/meter.js';
import type { Operation } from '../protocol/index.js';
import { FAULT_KINDS, type FaultKind, type SourceHealthListener } from './data-source-faults.js';
import { withProcessMetrics } from './process-metrics.js';

const PREFIX = 'datasync_agent_';
const STATES: readonly ConnectionState[] = ['connecting', 'registered', 'disconnected', 'rejected'];
/** The `data_source` label of requests naming a data source this agent does not have. */
export const UNKNOWN_DATA_SOURCE = '(unknown)';
/** Seconds: from a fast directory lookup (ms) to a slow SCIM page or a cold LDAP connection. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface AgentMetricsOptions {
  /** The configured hub URLs (as in the config; redacted here). */
  readonly urls: readonly string[];
  /** The configured data-source names. */
  readonly dataSources: readonly string[];
  /** Clock in ms for the latency histogram. Default `performance.now`. */
  readonly now?: () => number;
}

type StreamLabels = 'data_source' | 'op';

export class AgentMetrics implements PipelineMetrics, SourceHealthListener {
  /** This agent's metrics and the process metrics: what `/metrics` serves. */
  readonly registry: Registry;
  private readonly dataSources: ReadonlySet<string>;
  private readonly urls: readonly string[];
  private readonly now: () => number;
  private readonly connectionState: Gauge<'url' | 'state'>;
  private readonly reconnects: Counter<'url'>;
  private readonly requests: Counter<'op' | 'data_source' | 'code'>;
  private readonly inFlight: Gauge;
  private readonly streamItems: Counter<StreamLabels>;
  private readonly streamBytes: Counter<StreamLabels>;
  private readonly creditStalls: Counter<StreamLabels>;
  private readonly upstreamLatency: Histogram<StreamLabels>;
  private readonly sourceHealthy: Gauge<'data_source'>;
  private readonly sourceFaults: Counter<'data_source' | 'kind'>;
  private readonly workerRestarts: Counter<'data_source'>;
  private readonly ldapFastPath: Gauge;

  constructor(options: AgentMetricsOptions) {
    this.dataSources = new Set(options.dataSources);
    this.urls = options.urls.map(redactUrl);
    this.now = options.now ?? (() => performance.now());
    const own = new Registry();
    const registers = [own];
    this.connectionState = new Gauge({
      name: `${PREFIX}connection_state`,
      help: 'Connection state of each hub URL: 1 for the current state, 0 for the others (all 0: agent stopped)',
      labelNames: ['url', 'state'],
      registers,
    });
    this.reconnects = new Counter({
      name: `${PREFIX}reconnects_total`,
      help: 'Dials of a hub URL after the first one (after a lost, refused or rejected connection)',
      labelNames: ['url'],
      registers,
    });
    this.requests = new Counter({
      name: `${PREFIX}requests_total`,
      help: "Requests from the hub by outcome: code is 'OK', the error code sent, or 'CANCELLED'",
      labelNames: ['op', 'data_source', 'code'],
      registers,
    });
    this.inFlight = new Gauge({ name: `${PREFIX}requests_in_flight`, help: 'Requests running now (admitted, not finished)', registers });
    this.streamItems = new Counter({
      name: `${PREFIX}stream_items_sent_total`,
      help: 'Items sent in stream chunks (search entries, export results)',
      labelNames: ['data_source', 'op'],
      registers,
    });
    this.streamBytes = new Counter({
      name: `${PREFIX}stream_bytes_sent_total`,
      help: 'Bytes of JSON of the items sent in stream chunks',
      labelNames: ['data_source', 'op'],
      registers,
    });
    this.creditStalls = new Counter({
      name: `${PREFIX}credit_stalls_total`,
      help: 'Times a stream had a chunk ready but no credit from the hub (slow or stalled consumer)',
      labelNames: ['data_source', 'op'],
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: `${PREFIX}upstream_latency_seconds`,
      help: 'Time from the start of a request to the first result (or first page) from the data source',
      labelNames: ['data_source', 'op'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.sourceHealthy = new Gauge({
      name: `${PREFIX}data_source_healthy`,
      help: "1 while the data source's adapter behaves, 0 after a fault (internal error, unhandled rejection, worker crash) until a request succeeds",
      labelNames: ['data_source'],
      registers,
    });
    this.sourceFaults = new Counter({
      name: `${PREFIX}data_source_faults_total`,
      help: "Faults of a data source's adapter: kind is internal_error, unhandled_rejection or worker_crash",
      labelNames: ['data_source', 'kind'],
      registers,
    });
    this.workerRestarts = new Counter({
      name: `${PREFIX}data_source_worker_restarts_total`,
      help: 'Worker threads started again for a data source with isolation: worker, after its worker died',
      labelNames: ['data_source'],
      registers,
    });
    this.ldapFastPath = new Gauge({
      name: `${PREFIX}ldap_fast_path_enabled`,
      help: "1 when LDAP entries are decoded by the agent's own decoder (byte for byte, fast), 0 when its self-test of the private ldapts members failed and ldapts decodes them (slower, lossy)",
      registers,
      // The self-test runs once per process (src/adapters/ldap/ldapts-internals.ts); read at each scrape.
      collect(this: Gauge) {
        this.set(ldaptsFastPath() ? 1 : 0);
      },
    });
    // Series that exist from the start, so a rate or an alert does not begin with a gap.
    for (const url of this.urls) this.reconnects.inc({ url }, 0);
    for (const data_source of this.dataSources) {
      this.sourceHealthy.set({ data_source }, 1);
      for (const kind of FAULT_KINDS) this.sourceFaults.inc({ data_source, kind }, 0);
    }
    this.registry = withProcessMetrics(own);
  }

  /** Feed every status transition of every URL here. */
  connectionStatus(status: ConnectionStatus): void {
    const url = redactUrl(status.url);
    for (const state of STATES) this.connectionState.set({ url, state }, state === status.state ? 1 : 0);
    if (status.state === 'connecting' && status.attempt > 1) this.reconnects.inc({ url });
  }

  /** The agent stopped: no URL is in any state. */
  connectionsStopped(): void {
    for (const url of this.urls) for (const state of STATES) this.connectionState.set({ url, state }, 0);
  }

  requestStarted(op: Operation, dataSource: string): RequestMeter {
    const labels = { data_source: this.dataSourceLabel(dataSource), op };
    const start = this.now();
    let first = true;
    let running = true;
    this.inFlight.inc();
    return {
      firstResult: () => {
        if (!first) return;
        first = false;
        this.upstreamLatency.observe(labels, (this.now() - start) / 1000);
      },
      chunkSent: (items, bytes) => {
        this.streamItems.inc(labels, items);
        this.streamBytes.inc(labels, bytes);
      },
      creditStalled: () => this.creditStalls.inc(labels),
      finished: (code) => {
        if (!running) return;
        running = false;
        this.inFlight.dec();
        this.requests.inc({ ...labels, code });
      },
    };
  }

  requestRefused(op: Operation, dataSource: string, code: string): void {
    this.requests.inc({ op, data_source: this.dataSourceLabel(dataSource), code });
  }

  /** A data source's health changed (source-health.ts). */
  healthChanged(dataSource: string, healthy: boolean): void {
    this.sourceHealthy.set({ data_source: this.dataSourceLabel(dataSource) }, healthy ? 1 : 0);
  }

  /** A fault of a data source's adapter. */
  fault(dataSource: string, kind: FaultKind): void {
    this.sourceFaults.inc({ data_source: this.dataSourceLabel(dataSource), kind });
  }

  /** A worker-isolated data source's worker was started again after it died. */
  workerRestarted(dataSource: string): void {
    this.workerRestarts.inc({ data_source: this.dataSourceLabel(dataSource) });
  }

  private dataSourceLabel(name: string): string {
    return this.dataSources.has(name) ? name : UNKNOWN_DATA_SOURCE;
  }
}
