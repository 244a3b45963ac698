/**
 * The hub's Prometheus metrics, in a registry of its own per Hub. Agent presence is fed from
 * the registry's event stream; the HTTP API records its requests through the hooks below.
 * Every metric is listed in docs/operations.md.
 *
 * ## Hooks for the HTTP API (src/hub/http/)
 *
 * ```ts
 * // onRequest hook:
 * hub.metrics.apiInFlight.inc();
 * reply.raw.once('close', () => hub.metrics.apiInFlight.dec()); // finished or aborted: once
 * // onResponse hook (once per response sent):
 * hub.metrics.observeApiRequest({ route, op, status: reply.statusCode, seconds: reply.elapsedTime / 1000 });
 * ```
 *
 * A stream (NDJSON search) counts as in flight until its last byte is written or the client
 * goes away; its duration is the whole stream's. Label values:
 *
 * - `route`: the route *pattern* (fastify `request.routeOptions.url`, e.g.
 *   `/v1/data-sources/:name/search`), never the raw URL — names and ids in label values would
 *   grow the series without bound. Requests that match no route: `'(unmatched)'`.
 * - `op`: the protocol operation the route runs (`search`, `get`, …), `''` for routes that run
 *   none (listing agents, health).
 * - `status`: the HTTP status code sent; `seconds`: from arrival to the response finished
 *   (fastify `reply.elapsedTime / 1000`).
 *
 * NDJSON searches and exports also count the lines they write and how they ended
 * (`streamItems`, `streamBytes`, `streamEnded`, fed by src/hub/http/request-progress.ts).
 */
import type { Subscription } from 'rxjs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentRegistry } from '../hub/registry.js';
import { withProcessMetrics } from './process-metrics.js';

const PREFIX = 'datasync_hub_';
/** Seconds: API calls range from a cached answer to a long export. */
const API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export interface ApiRequestObservation {
  /** Route pattern, not the raw URL (see the module comment). */
  readonly route: string;
  /** Protocol operation, or `''`. */
  readonly op: string;
  /** HTTP status code sent. */
  readonly status: number;
  /** From the request's arrival to its response finished. */
  readonly seconds: number;
}

export class HubMetrics {
  /** This hub's metrics and the process metrics: what `/metrics` serves. */
  readonly registry: Registry;
  /** API requests being served now: `inc()` on arrival, `dec()` when the response is finished. */
  readonly apiInFlight: Gauge;
  private readonly agentsConnected: Gauge<'tenant'>;
  private readonly registrations: Counter<'tenant'>;
  private readonly disconnects: Counter<'tenant' | 'reason'>;
  private readonly apiRequests: Counter<'route' | 'op' | 'status'>;
  private readonly apiDuration: Histogram<'route' | 'op'>;
  /** Connections or upgrades refused before authentication, by reason (see the method below). */
  private readonly connectionsRefused: Counter<'reason'>;
  /** Connections without a complete request head or with an upgrade not yet answered. */
  readonly pendingConnections: Gauge;
  private pendingNow: () => number = () => 0;
  private readonly authChecks: Counter<'via' | 'outcome'>;
  private readonly agentFrames: Counter<'outcome'>;
  /** Password/token hashes (scrypt) computed. */
  readonly credentialHashes: Counter;
  private readonly streamItemsTotal: Counter<'op' | 'outcome'>;
  private readonly streamBytesTotal: Counter<'op'>;
  private readonly streamsTotal: Counter<'op' | 'outcome'>;
  private readonly counts = new Map<string, number>();
  private readonly subscription: Subscription;

  constructor(agents: AgentRegistry) {
    const own = new Registry();
    const registers = [own];
    this.agentsConnected = new Gauge({
      name: `${PREFIX}agents_connected`,
      help: 'Agent sessions registered now, per tenant (an agent with several hub URLs holds one session per URL)',
      labelNames: ['tenant'],
      registers,
    });
    this.registrations = new Counter({
      name: `${PREFIX}agent_registrations_total`,
      help: 'Agent registrations accepted (a reconnecting agent counts again)',
      labelNames: ['tenant'],
      registers,
    });
    this.disconnects = new Counter({
      name: `${PREFIX}agent_disconnects_total`,
      help: "Registered agents gone: reason 'closed' (socket closed or lost) or 'replaced' (the same agent id registered again)",
      labelNames: ['tenant', 'reason'],
      registers,
    });
    this.apiRequests = new Counter({
      name: `${PREFIX}api_requests_total`,
      help: 'HTTP API requests answered, by route pattern, operation and HTTP status',
      labelNames: ['route', 'op', 'status'],
      registers,
    });
    this.apiDuration = new Histogram({
      name: `${PREFIX}api_request_duration_seconds`,
      help: 'HTTP API request duration, from arrival to the response finished',
      labelNames: ['route', 'op'],
      buckets: API_BUCKETS,
      registers,
    });
    this.connectionsRefused = new Counter({
      name: `${PREFIX}connections_refused_total`,
      help:
        "Connections or agent upgrades refused before a session: reason 'pending_total', 'pending_per_address' (caps on pending connections), " +
        "'headers_timeout', 'upgrade_timeout', 'tenant_sessions' (connections.maxSessionsPerTenant), 'auth_penalty' (429), 'auth_busy' (503)",
      labelNames: ['reason'],
      registers,
    });
    const pendingNow = (): number => this.pendingNow();
    this.pendingConnections = new Gauge({
      name: `${PREFIX}pending_connections`,
      help: 'Connections without a complete first request head, or with an agent upgrade not yet answered',
      registers,
      collect() {
        this.set(pendingNow());
      },
    });
    this.authChecks = new Counter({
      name: `${PREFIX}auth_checks_total`,
      help:
        "Password and API token checks by who presented them ('agent', 'api') and outcome: 'ok', 'failed', 'known_wrong' (refused from the cache " +
        "of wrong credentials, no hash), 'penalty' (address in its penalty window, 429), 'busy' (hash queue full, 503)",
      labelNames: ['via', 'outcome'],
      registers,
    });
    this.agentFrames = new Counter({
      name: `${PREFIX}agent_frames_undelivered_total`,
      help:
        "Frames from agents the hub did not deliver, by outcome: 'dropped' (for a request that had ended lately, e.g. in flight at a cancel), " +
        "'violation' (a refused frame that ended its request with BAD_FRAME), 'refused' (answered with an error frame naming no request)",
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['dropped', 'violation', 'refused']) this.agentFrames.inc({ outcome }, 0);
    this.credentialHashes = new Counter({ name: `${PREFIX}credential_hashes_total`, help: 'Password and API token hashes (scrypt) computed', registers });
    this.streamItemsTotal = new Counter({
      name: `${PREFIX}stream_items_total`,
      help: "NDJSON lines written to API clients as they are written: search entries (outcome 'ok'), export results by outcome 'ok' or 'failed'",
      labelNames: ['op', 'outcome'],
      registers,
    });
    this.streamBytesTotal = new Counter({
      name: `${PREFIX}stream_bytes_total`,
      help: 'Bytes of search entries and export results written to API clients (summary and error lines not included)',
      labelNames: ['op'],
      registers,
    });
    this.streamsTotal = new Counter({
      name: `${PREFIX}streams_total`,
      help: "API searches and exports that ended, by outcome: 'ok', 'partial' (export records failed), 'failed', 'cancelled' (the client went away)",
      labelNames: ['op', 'outcome'],
      registers,
    });
    this.apiInFlight = new Gauge({ name: `${PREFIX}api_requests_in_flight`, help: 'HTTP API requests being served now', registers });
    this.subscription = agents.events$.subscribe((event) => {
      const tenant = event.tenantId;
      if (event.type === 'registered') {
        this.registrations.inc({ tenant });
        this.setAgents(tenant, (this.counts.get(tenant) ?? 0) + 1);
      } else {
        this.disconnects.inc({ tenant, reason: event.type === 'replaced' ? 'replaced' : 'closed' });
        this.setAgents(tenant, Math.max(0, (this.counts.get(tenant) ?? 0) - 1));
      }
    });
    this.registry = withProcessMetrics(own);
  }

  /** Records one answered API request (see the module comment for the label values). */
  observeApiRequest({ route, op, status, seconds }: ApiRequestObservation): void {
    this.apiRequests.inc({ route, op, status: String(status) });
    this.apiDuration.observe({ route, op }, seconds);
  }

  /** `n` NDJSON lines written to an API client (src/hub/http/request-progress.ts). */
  streamItems(op: string, outcome: string, n: number): void {
    this.streamItemsTotal.inc({ op, outcome }, n);
  }

  /** Bytes of lines written to an API client. */
  streamBytes(op: string, n: number): void {
    this.streamBytesTotal.inc({ op }, n);
  }

  /** An API search or export ended with its summary outcome. */
  streamEnded(op: string, outcome: string): void {
    this.streamsTotal.inc({ op, outcome });
  }

  /** A connection or upgrade refused before it had a session (reasons: see the metric's help). */
  connectionRefused(reason: string): void {
    this.connectionsRefused.inc({ reason });
  }

  /** Where the pending-connections gauge reads its value when scraped. */
  followPendingConnections(count: () => number): void {
    this.pendingNow = count;
  }

  /** One password or API token check ended (`via`: 'agent' or 'api'; outcomes: see the metric's help). */
  authChecked(via: string, outcome: string): void {
    this.authChecks.inc({ via, outcome });
  }

  /** A frame from an agent that was not delivered (outcomes: see the metric's help). */
  agentFrameUndelivered(outcome: string): void {
    this.agentFrames.inc({ outcome });
  }

  /** The configured tenants: their agent gauges start at 0 rather than missing (alerts on 0 work). */
  declareTenants(tenants: readonly string[]): void {
    for (const tenant of tenants) if (!this.counts.has(tenant)) this.setAgents(tenant, 0);
  }

  /** Agents registered now, per tenant (tenants seen or configured; `/readyz` detail). */
  agentsPerTenant(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Stops following the registry (it also ends when the registry completes). */
  close(): void {
    this.subscription.unsubscribe();
  }

  private setAgents(tenant: string, n: number): void {
    this.counts.set(tenant, n);
    this.agentsConnected.set({ tenant }, n);
  }
}
