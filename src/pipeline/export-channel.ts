/**
 * `export` is a channel (DESIGN §5–6): the hub streams record chunks under the agent's credit,
 * the agent writes them and streams one result per record back under the hub's credit.
 *
 *   agent → hub   credit {n: streamWindow}                      (may send that many record chunks)
 *   hub → agent   chunk {items: records} … end {count}
 *   agent → hub   chunk {items: results} … credit {n} … end {count}
 *
 * The agent grants a new record chunk only once every result of an earlier chunk has been
 * *sent* — not merely written upstream — so a stalled hub consumer stops the writes too, and
 * memory holds at most `streamWindow` chunks of records or results.
 *
 * Shutdown (`stop$`, the end of the grace period) must not leave a record written without its
 * result: the adapter is let go right after the result of the record it is writing — before it
 * starts the next — or at once when it is writing nothing; the results so far are sent, then a
 * retryable CANCELLED error (the caller resumes from the count of results it got).
 */
import { EMPTY, NEVER, Observable, concat, defer, filter, finalize, from, mergeMap, of, take, takeUntil, takeWhile, tap, throwError, type SchedulerLike, type Subscriber } from 'rxjs';
import type { DataSourceAdapter, OperationContext } from '../adapters/adapter.js';
import { chunk, creditGate } from '../operators/index.js';
import { ProtocolError, nonNegativeInt, positiveInt, type Frame, type Request } from '../protocol/index.js';
import { shuttingDown } from './drain.js';
import { CHUNK_ENVELOPE_BYTES, type PipelineLimits } from './limits.js';
import { NO_METER, type RequestMeter } from './meter.js';

export interface ExportChannelInput {
  readonly request: Request;
  readonly adapter: DataSourceAdapter;
  readonly ctx: OperationContext;
  /** The hub's `chunk`/`end` frames for this request (records). */
  readonly inbound$: Observable<Frame>;
  /** The hub's credit grants for the result stream. */
  readonly credit$: Observable<number>;
  readonly limits: PipelineLimits;
  readonly scheduler?: SchedulerLike;
  /** Metric hooks of the request (first result, result chunks, credit stalls). */
  readonly meter?: RequestMeter;
  /** Emits when the agent shuts down: stop after the record being written (see above). */
  readonly stop$?: Observable<unknown>;
}

export function exportFrames(input: ExportChannelInput): Observable<Frame> {
  const { request, adapter, ctx, limits } = input;
  const meter = input.meter ?? NO_METER;
  const id = request.id;
  const exportFn = adapter.export?.bind(adapter);
  if (!exportFn) return throwError(() => new ProtocolError('OPERATION_NOT_ALLOWED', `${adapter.type} data sources cannot export`));
  return defer(() => {
    let granted = limits.streamWindow;
    let receivedChunks = 0;
    let receivedRecords = 0;
    /** Cumulative record count at the end of each received chunk not yet credited back. */
    const boundaries: number[] = [];
    let sent = 0;
    let answered = 0;
    let endReceived = false;
    let stopping = false;

    // The adapter may subscribe to the records late (after acquiring a connection): hold what
    // arrives meanwhile. Bounded: the hub may only send the chunks the agent granted.
    const inbound = holdUntilSubscribed(input.inbound$);
    const records$ = inbound.frames$.pipe(
      takeWhile((f) => f.type !== 'end', true),
      mergeMap((f): Observable<unknown> => {
        if (f.type === 'chunk') {
          receivedChunks += 1;
          if (receivedChunks > granted) {
            return throwError(
              () => new ProtocolError('BAD_REQUEST', `export chunk ${receivedChunks} sent without credit (granted ${granted})`),
            );
          }
          if (f.items.length > limits.maxChunkItems) {
            return throwError(
              () => new ProtocolError('BAD_REQUEST', `export chunk of ${f.items.length} records exceeds the limit of ${limits.maxChunkItems}`),
            );
          }
          receivedRecords += f.items.length;
          boundaries.push(receivedRecords);
          return from(f.items);
        }
        if (f.type === 'end' && f.count !== receivedRecords) {
          return throwError(
            () => new ProtocolError('BAD_REQUEST', `export end says ${f.count} records, ${receivedRecords} arrived`),
          );
        }
        if (f.type === 'end') endReceived = true;
        return EMPTY;
      }),
    );

    // Writing nothing when the stop comes: results are one per record, in order, so every
    // record handed to the adapter has been answered.
    const stopNow$ = (input.stop$ ?? NEVER).pipe(
      take(1),
      tap(() => (stopping = true)),
      filter(() => answered === receivedRecords),
    );
    let firstResult = true;
    const results$ = exportFn(records$, ctx).pipe(
      tap(() => {
        answered += 1;
        if (firstResult) meter.firstResult();
        firstResult = false;
      }),
      // Completing inside the result's `next` unsubscribes the adapter before it starts the
      // next record (a sequential adapter starts it when this one's write completes).
      takeWhile(() => !stopping, true),
      takeUntil(stopNow$),
      chunk({
        maxItems: limits.maxChunkItems,
        maxBytes: limits.maxFrameBytes - CHUNK_ENVELOPE_BYTES,
        // A slow record must not hold finished results back for long.
        flushAfter: 50,
        ...(input.scheduler ? { scheduler: input.scheduler } : {}),
      }),
      creditGate({
        credit$: input.credit$,
        initialCredit: request.credit ?? 0,
        // Results in flight are bounded by the records the agent granted: one result per record.
        maxBuffered: limits.streamWindow * limits.maxChunkItems,
        onStall: () => meter.creditStalled(),
      }),
      mergeMap((items, seq) => {
        const frames: Frame[] = [{ type: 'chunk', id, seq: nonNegativeInt(seq), items }];
        sent += items.length;
        // Results are small and few per upstream write: serialising them twice costs little.
        meter.chunkSent(items.length, Buffer.byteLength(JSON.stringify(items)));
        let credited = 0;
        while (boundaries.length > 0 && (boundaries[0] ?? Infinity) <= sent) {
          boundaries.shift();
          credited += 1;
        }
        if (credited > 0) {
          granted += credited;
          frames.push({ type: 'credit', id, n: positiveInt(credited) });
        }
        return from(frames);
      }),
    );

    return concat(
      of<Frame>({ type: 'credit', id, n: positiveInt(limits.streamWindow) }),
      results$,
      defer(() =>
        stopping && !(endReceived && sent === receivedRecords)
          ? throwError(() => shuttingDown(`export stopped after ${sent} records, each with its result; the records after them were not written`))
          : of<Frame>({ type: 'end', id, count: nonNegativeInt(sent) }),
      ),
    ).pipe(finalize(() => inbound.release()));
  });
}

/**
 * Subscribes to `source$` now and keeps its values until `frames$` is subscribed (once), then
 * passes them through. `release()` ends the early subscription.
 */
function holdUntilSubscribed<T>(source$: Observable<T>): { frames$: Observable<T>; release(): void } {
  const held: T[] = [];
  let live: Subscriber<T> | undefined;
  let ended: { error: unknown } | { complete: true } | undefined;
  const sub = source$.subscribe({
    next: (v) => (live ? live.next(v) : held.push(v)),
    error: (error: unknown) => (live ? live.error(error) : (ended = { error })),
    complete: () => (live ? live.complete() : (ended = { complete: true })),
  });
  const frames$ = new Observable<T>((subscriber) => {
    for (const v of held.splice(0)) subscriber.next(v);
    if (ended) {
      if ('error' in ended) subscriber.error(ended.error);
      else subscriber.complete();
      return;
    }
    live = subscriber;
    return () => {
      live = undefined;
    };
  });
  return { frames$, release: () => sub.unsubscribe() };
}
