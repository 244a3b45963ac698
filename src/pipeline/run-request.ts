/**
 * One request → the frames that answer it: find the data source, check its allow-list, call
 * the adapter, and map its result, stream or failure to frames — under the request's deadline
 * (the hub's `timeoutMs`, capped locally) and until the hub cancels. After a cancel nothing
 * more is sent for the id; after a failure exactly one `error` frame is.
 *
 * A protocol violation about the request (a refused frame naming it, a `chunk` or `end` for a
 * request that is not an export, credit granted beyond 2^53 − 1 in total) is a failure: the
 * stream stops — its page source is closed — and its one `error` frame, BAD_FRAME with the id,
 * is the last word on it (an export stops as for its other failures, results accounted for).
 * An `error` frame from the hub naming the request ends it like a cancel: an error is never
 * answered. See docs/protocol.md, "Protocol errors".
 */
import { EMPTY, NEVER, catchError, defer, filter, finalize, identity, map, mergeMap, of, share, take, takeUntil, tap, throwError, throwIfEmpty, type Observable, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import type { DataSourceAdapter, OperationContext } from '../adapter-kit/adapter.js';
import { deadline } from '../operators/index.js';
import { ProtocolError, violationError, type Frame, type Operation, type OutgoingFrame, type Request } from '../protocol/index.js';
import { exportFrames } from './export-channel.js';
import type { ExportJournals } from './export-journal.js';
import { journaledExport } from './journaled-export.js';
import { errorFrame } from './failures.js';
import type { RequestInbound } from './inbox.js';
import { shuttingDown, type Drain } from './drain.js';
import type { StreamSlots } from './stream-slots.js';
import type { PipelineLimits } from './limits.js';
import { NO_METER, type PipelineMetrics, type RequestMeter } from './meter.js';
import { withProgress } from './progress.js';
import { searchFrames } from './search-stream.js';

/** A configured data source as the pipeline sees it. */
export interface ServedDataSource {
  readonly adapter: DataSourceAdapter;
  /** The config's allow-list. */
  readonly operations: readonly Operation[];
}

export interface RequestDeps {
  readonly dataSources: ReadonlyMap<string, ServedDataSource>;
  /** Shutdown state: while draining, new requests are refused. */
  readonly drain?: Drain;
  /** search/export streams running over all sessions (maxConcurrentStreams); absent: unbounded. */
  readonly streams?: StreamSlots;
  readonly limits: PipelineLimits;
  readonly log: Logger;
  readonly scheduler?: SchedulerLike;
  /** Metric hooks (src/metrics/agent-metrics.ts); absent: nothing is measured. */
  readonly metrics?: PipelineMetrics;
  /** Export journals (`stateDir`); absent: exports with an idempotency key are refused. */
  readonly journals?: ExportJournals;
  /**
   * Whether the session writer can take request `id`'s next frame now (session-pipeline.ts):
   * search and export streams produce only then. Absent: credit alone paces them.
   */
  readonly writeReady?: (requestId: string) => Observable<boolean>;
  /** A search or export still running logs its progress this often (progress.ts); 0 or absent: never. */
  readonly progressEveryMs?: number;
}

type SingleOp = 'test' | 'schema' | 'attributes' | 'resourceTypes' | 'get';

function single(adapter: DataSourceAdapter, op: SingleOp, params: Record<string, unknown>, ctx: OperationContext): Observable<unknown> {
  switch (op) {
    case 'test':
      return adapter.test(ctx);
    case 'get':
      return adapter.get ? adapter.get(params, ctx) : notSupported(adapter, op);
    case 'schema':
      return adapter.schema ? adapter.schema(ctx) : notSupported(adapter, op);
    case 'attributes':
      return adapter.attributes ? adapter.attributes(ctx) : notSupported(adapter, op);
    case 'resourceTypes':
      return adapter.resourceTypes ? adapter.resourceTypes(ctx) : notSupported(adapter, op);
  }
}

function notSupported(adapter: DataSourceAdapter, op: Operation): Observable<never> {
  return throwError(() => new ProtocolError('OPERATION_NOT_ALLOWED', `${adapter.type} data sources do not support ${op}`));
}

/** Credit a stream may be granted in total: beyond, counting in doubles is no longer exact. */
const MAX_TOTAL_CREDIT = Number.MAX_SAFE_INTEGER;

/**
 * The protocol violations about a request among its inbound frames, as the errors it ends with:
 * violation notices, `chunk`/`end` for a request that takes no records, credit beyond
 * {@link MAX_TOTAL_CREDIT} in total.
 */
function violations(request: Request, own$: Observable<RequestInbound>): Observable<ProtocolError> {
  const takesRecords = request.op === 'export';
  let granted = request.credit ?? 0;
  return own$.pipe(
    mergeMap((f): Observable<ProtocolError> => {
      if (f.type === 'violation') return of(violationError(f.violation, 'hub'));
      if ((f.type === 'chunk' || f.type === 'end') && !takesRecords) {
        return of(violationError({ id: request.id, frameType: f.type, message: `a ${request.op} request takes no ${f.type} frames` }, 'hub'));
      }
      if (f.type === 'credit') {
        granted += f.n;
        if (granted > MAX_TOTAL_CREDIT) {
          return of(violationError({ id: request.id, frameType: 'credit', message: `credit granted in total exceeds ${MAX_TOTAL_CREDIT}` }, 'hub'));
        }
      }
      return EMPTY;
    }),
    take(1),
  );
}

/**
 * @param own$ the hub's frames about this request (credit, cancel, export chunk/end, an error)
 *   and violation notices
 */
export function runRequest(request: Request, own$: Observable<RequestInbound>, deps: RequestDeps): Observable<OutgoingFrame> {
  const { id, op, dataSource } = request;
  const log = deps.log.child({ requestId: id, dataSource, op });
  const refuse = (err: ProtocolError): Observable<OutgoingFrame> =>
    defer(() => {
      const frame = errorFrame(err, id, dataSource, log);
      deps.metrics?.requestRefused(op, dataSource, frame.code);
      return of(frame);
    });
  const source = deps.dataSources.get(dataSource);
  if (!source) {
    return refuse(new ProtocolError('UNKNOWN_DATA_SOURCE', `no data source named ${JSON.stringify(dataSource)} on this agent`));
  }
  const { adapter, operations } = source;
  if (!operations.includes(op) || !adapter.supports.includes(op)) {
    const why = operations.includes(op) ? `the ${adapter.type} adapter does not implement ${op}` : `${op} is not in its operations allow-list`;
    return refuse(new ProtocolError('OPERATION_NOT_ALLOWED', `data source ${dataSource} does not allow ${op}: ${why}`));
  }
  const ctx: OperationContext = { requestId: id, dataSource, log };
  const credit$ = own$.pipe(
    filter((f) => f.type === 'credit'),
    map((f) => (f.type === 'credit' ? f.n : 0)),
  );
  // A hub's `error` naming the request ends it as a cancel does: an error is never answered.
  const cancel$ = own$.pipe(filter((f) => f.type === 'cancel' || f.type === 'error'));
  // One subscription to the inbound frames counts the credit granted, however many read it.
  const violation$ = violations(request, own$).pipe(share());
  const timeoutMs = Math.min(request.timeoutMs, deps.limits.maxRequestTimeoutMs);
  const started = Date.now();
  const timedOut = (): ProtocolError => new ProtocolError('TIMEOUT', `${op} on ${dataSource} did not finish within ${timeoutMs} ms`);

  const body$ = (meter: RequestMeter): Observable<OutgoingFrame> => defer(() => {
    switch (op) {
      case 'search': {
        if (!adapter.search) return notSupported(adapter, op);
        return searchFrames(request, adapter.search(request.params, ctx), credit$, deps.limits, meter, deps.writeReady?.(id));
      }
      case 'export':
        return journaledExport(request, deps.journals, ctx, (exportCtx) =>
          exportFrames({
            request,
            adapter,
            ctx: exportCtx,
            inbound$: own$.pipe(filter((f): f is Frame => f.type === 'chunk' || f.type === 'end')),
            violation$,
            credit$,
            limits: deps.limits,
            ...(deps.scheduler ? { scheduler: deps.scheduler } : {}),
            meter,
            ...(deps.drain ? { stop$: deps.drain.stopping$ } : {}),
            deadline: { ms: timeoutMs, error: timedOut },
            ...(deps.writeReady ? { writeReady$: deps.writeReady(id) } : {}),
          }),
        );
      default:
        return single(adapter, op, request.params, ctx).pipe(
          take(1),
          tap(() => meter.firstResult()),
          throwIfEmpty(() => new ProtocolError('INTERNAL', `${adapter.type} ${op} produced no result`)),
          map((data): Frame => ({ type: 'result', id, data })),
        );
    }
  });

  log.debug({ timeoutMs }, 'request started');
  return defer(() => {
    const base = deps.metrics?.requestStarted(op, dataSource) ?? NO_METER;
    const streams = op === 'search' || op === 'export';
    const meter = streams
      ? withProgress(base, { everyMs: deps.progressEveryMs ?? 0, log, op, ...(deps.scheduler ? { scheduler: deps.scheduler } : {}) })
      : base;
    /** 'OK', the code of the error frame sent, or 'CANCELLED'; unset while running. */
    let outcome: string | undefined;
    return body$(meter).pipe(
      // Shutdown after the grace period: a coded, retryable error instead of a vanished request.
      // An export stops itself (after the record it is writing and that record's result).
      takeUntil(op === 'export' || !deps.drain ? NEVER : deps.drain.stopping$.pipe(mergeMap(() => throwError(() => shuttingDown(`${op} stopped`))))),
      // An export applies its deadline itself: it stops after the record being written and
      // reports the results of every record written (export-channel.ts), where unsubscribing
      // here would cut a write short and drop the results not yet sent.
      op === 'export' ? identity : deadline({ ms: timeoutMs, error: timedOut, ...(deps.scheduler ? { scheduler: deps.scheduler } : {}) }),
      // A protocol violation about the request: the stream stops (unsubscribing closes its page
      // source) before its error frame goes out, so no chunk follows the error. An export
      // stops itself, accounting for the records written (export-channel.ts).
      takeUntil(op === 'export' ? NEVER : violation$.pipe(mergeMap((err) => throwError(() => err)))),
      catchError((err: unknown) => {
        const frame = errorFrame(err, id, dataSource, log);
        outcome = frame.code;
        return of<OutgoingFrame>(frame);
      }),
      // A cancelled request sends nothing more; unsubscribing releases the upstream operation.
      takeUntil(cancel$.pipe(tap(() => (outcome ??= 'CANCELLED')))),
      tap({ complete: () => (outcome ??= 'OK') }),
      finalize(() => {
        // Unsubscribed before completing: the session closed under the request.
        // A stream's meter logs its own end (with its totals: progress.ts).
        meter.finished(outcome ?? 'CANCELLED');
        if (!streams) log.debug({ ms: Date.now() - started }, 'request finished');
      }),
    );
  });
}
