/**
 * Progress and counts of one NDJSON stream the HTTP API serves (a search or an export). A
 * ten-minute search used to show nothing on the hub between its arrival and the `API request`
 * line, and that line said 200 with no counts even when export records had failed.
 *
 * While the stream runs, every `everyMs` (hub.yaml `logging.progressInterval`; 0: never) one
 * info line gives the lines written so far (entries of a search; ok and failed results of an
 * export), the bytes, the rate over the last interval and the time since the start, with the
 * request id, tenant, data source and serving agent. The same counts go to the hub's metrics as
 * they are written (`datasync_hub_stream_items_total`, `…_bytes_total`), and once per stream its
 * summary outcome (`datasync_hub_streams_total`).
 *
 * The completion line (`API request`, written where the response closes) reads `summaryOf(req)`:
 * the counts and `outcome` — `ok`, `partial` (an export some of whose records failed), `failed`
 * (an error answer or error line) or `cancelled` (the client went away before the end). The
 * counts are those of the lines handed to the response, as the agent's progress counts what it
 * handed to its socket.
 */
import { interval, type SchedulerLike, type Subscription } from 'rxjs';
import type { Logger } from 'pino';

export type StreamOp = 'search' | 'export';
export type StreamOutcome = 'ok' | 'partial' | 'failed' | 'cancelled';

/** The metrics a stream feeds (HubMetrics implements them). */
export interface StreamCounters {
  /** `n` lines written: search entries (`ok`), export results (`ok` or `failed`). */
  streamItems(op: StreamOp, outcome: 'ok' | 'failed', n: number): void;
  streamBytes(op: StreamOp, n: number): void;
  /** A stream ended with its summary outcome. */
  streamEnded(op: StreamOp, outcome: StreamOutcome): void;
}

export interface StreamProgressOptions {
  readonly op: StreamOp;
  /** Interval between progress lines; 0 turns them off. */
  readonly everyMs: number;
  /** The request's logger (it carries the request id and client). */
  readonly log: Logger;
  readonly tenantId: string;
  readonly dataSource: string;
  readonly counters: StreamCounters;
  readonly scheduler?: SchedulerLike;
  /** Time source (the scheduler's `now` in marble tests). Default `Date.now`. */
  readonly now?: () => number;
}

interface Ending {
  readonly outcome: 'ok' | 'failed';
  readonly truncated?: boolean;
  readonly errorCode?: string;
}

export class StreamProgress {
  /** Search entries, or export results that succeeded. */
  ok = 0;
  /** Export results that failed. */
  failed = 0;
  bytes = 0;
  private agentId: string | undefined;
  private ending: Ending | undefined;
  private closed = false;
  private readonly started: number;
  private readonly now: () => number;
  private ticker: Subscription | undefined;

  constructor(private readonly options: StreamProgressOptions) {
    this.now = options.now ?? (() => options.scheduler?.now() ?? Date.now());
    this.started = this.now();
    if (options.everyMs > 0) {
      let lastItems = 0;
      let lastAt = this.started;
      this.ticker = interval(options.everyMs, options.scheduler).subscribe(() => {
        const at = this.now();
        const seconds = (at - lastAt) / 1000;
        const perSecond = seconds > 0 ? Math.round((this.items - lastItems) / seconds) : 0;
        lastItems = this.items;
        lastAt = at;
        this.logProgress(perSecond, at - this.started);
      });
    }
  }

  /** Lines written so far. */
  get items(): number {
    return this.ok + this.failed;
  }

  /** The agent serving the request, once known. */
  servedBy(agentId: string): void {
    this.agentId = agentId;
  }

  /** `ok` and `failed` lines of `bytes` bytes were handed to the response. */
  written(ok: number, failed: number, bytes: number): void {
    const { op, counters } = this.options;
    this.ok += ok;
    this.failed += failed;
    this.bytes += bytes;
    if (ok > 0) counters.streamItems(op, 'ok', ok);
    if (failed > 0) counters.streamItems(op, 'failed', failed);
    counters.streamBytes(op, bytes);
  }

  /** The last line (summary or error) or an error answer was written; the first call counts. */
  ended(ending: Ending): void {
    this.ending ??= ending;
  }

  /** The response closed (after its end, or the client went away): stops the lines, counts the outcome once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ticker?.unsubscribe();
    this.ticker = undefined;
    this.options.counters.streamEnded(this.options.op, this.outcome);
  }

  /** `cancelled` until an ending is known; `partial` for an export that ended with failed records. */
  get outcome(): StreamOutcome {
    const ending = this.ending;
    if (ending === undefined) return 'cancelled';
    if (ending.outcome === 'ok' && this.failed > 0) return 'partial';
    return ending.outcome;
  }

  /** The fields the completion line carries. */
  summary(): Record<string, unknown> {
    const ending = this.ending;
    return {
      outcome: this.outcome,
      ...(this.agentId === undefined ? {} : { agentId: this.agentId }),
      ...this.countFields(),
      bytes: this.bytes,
      ...(ending?.truncated === undefined ? {} : { truncated: ending.truncated }),
      ...(ending?.errorCode === undefined ? {} : { errorCode: ending.errorCode }),
    };
  }

  private countFields(): Record<string, number> {
    return this.options.op === 'search' ? { entries: this.ok } : { ok: this.ok, failed: this.failed };
  }

  private logProgress(perSecond: number, elapsedMs: number): void {
    const { op, log, tenantId, dataSource } = this.options;
    const what = op === 'search' ? `${this.ok} entries written` : `${this.items} results written (${this.ok} ok, ${this.failed} failed)`;
    log.info(
      { op, tenantId, dataSource, ...(this.agentId === undefined ? {} : { agentId: this.agentId }), ...this.countFields(), bytes: this.bytes, perSecond, elapsedMs },
      `${op} in progress: ${what}`,
    );
  }
}

/** The stream of each request being served, for its completion line. */
const STREAMS = new WeakMap<object, StreamProgress>();

/** Follows `progress` as the stream of `req` (the fastify request). */
export function trackStream(req: object, progress: StreamProgress): StreamProgress {
  STREAMS.set(req, progress);
  return progress;
}

/**
 * The completion line's counts and outcome of `req` when it served a search or an export (the
 * `API request` line spreads them), else nothing.
 */
export function summaryOf(req: object): Record<string, unknown> {
  return STREAMS.get(req)?.summary() ?? {};
}
