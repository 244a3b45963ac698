/**
 * `export` is a channel: the hub streams record chunks under the agent's credit, the agent
 * writes them and streams one result per record back under the hub's credit.
 *
 *   agent → hub   credit {n: streamWindow}                      (may send that many record chunks)
 *   hub → agent   chunk {items: records} … end {count}
 *   agent → hub   chunk {items: results} … credit {n} … end {count}
 *
 * The agent grants a new record chunk only once every result of an earlier chunk has been
 * *sent* — not merely written upstream — so a stalled hub consumer stops the writes too, and
 * memory holds at most `streamWindow` chunks of records or results.
 *
 * Every record written is accounted for. The adapter is handed one record at a time, the next
 * only after the result of the previous one, so at any moment at most one record is being
 * written. When the export fails — a record chunk beyond the credit or over `maxChunkItems`, an
 * `end` whose count disagrees, another protocol violation about it (`violation$`: a frame
 * naming it that was refused), the deadline, the shutdown (`stop$`), a failing adapter — no
 * further record is handed over, the record being written (if any) is let finish and its result
 * collected, the adapter is let go, the results that can still go out under credit do, and the
 * one `error` frame carries the rest: `details.results` (in order) and `details.count` (results
 * of the whole export, which is the number of records written). A record whose write has not
 * finished `lastWriteGraceMs` after the deadline or the shutdown is reported with the result
 * OUTCOME_UNKNOWN: the agent cannot tell whether the upstream applied it. `export-results.ts`
 * keeps that error frame within `maxFrameBytes`.
 *
 * With `writeReady$`, the record credit earned waits while the session writer holds a frame of
 * this request (the socket is not taking frames): the hub sends no more records, so no more
 * results are made. Results themselves are never held back or dropped for it.
 *
 * A `cancel` from the hub is not a failure: the request is unsubscribed (run-request.ts) and
 * nothing more is sent for it.
 */
import { NEVER, Observable, asyncScheduler, defer, throwError, timer, type SchedulerLike, type Subscription } from 'rxjs';
import type { DataSourceAdapter, ExportResult, OperationContext } from '../adapter-kit/adapter.js';
import { ProtocolError, nonNegativeInt, positiveInt, type Frame, type Request } from '../protocol/index.js';
import { shuttingDown } from './drain.js';
import { ResultLedger, withResults } from './export-results.js';
import { toProtocolError } from './failures.js';
import type { PipelineLimits } from './limits.js';
import { NO_METER, type RequestMeter } from './meter.js';

/** A partial result chunk goes out this long after its first result at the latest. */
const FLUSH_AFTER_MS = 50;
/**
 * How long the record being written may take to finish once the deadline has passed: well
 * within the second the hub waits beyond its own deadline, so the agent's error (with the
 * results) reaches the hub before the hub gives up on the request.
 */
export const DEADLINE_WRITE_GRACE_MS = 500;
/** The same at shutdown: within the five seconds the agent gives requests to send their last frames. */
export const STOP_WRITE_GRACE_MS = 3000;

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
  /**
   * Protocol violations about the request (a refused frame naming it, see run-request.ts): the
   * first fails the export like its other failures — after the record being written, every
   * record written accounted for in the one `error` frame, the last word on the id.
   */
  readonly violation$?: Observable<ProtocolError>;
  /** The request's deadline: when it passes, stop after the record being written (see above). */
  readonly deadline?: { readonly ms: number; readonly error: () => ProtocolError };
  /**
   * Whether the session writer can take this request's next frame now (`SessionWriter.ready$`):
   * record credit is granted back only then, so results cannot pile up behind a socket the hub
   * does not read. Absent: granted as soon as the results are sent.
   */
  readonly writeReady$?: Observable<boolean>;
}

export function exportFrames(input: ExportChannelInput): Observable<Frame> {
  const { adapter } = input;
  const exportFn = adapter.export?.bind(adapter);
  if (!exportFn) return throwError(() => new ProtocolError('OPERATION_NOT_ALLOWED', `${adapter.type} data sources cannot export`));
  return new Observable<Frame>((subscriber) => runChannel(input, exportFn, subscriber));
}

type ExportFn = NonNullable<DataSourceAdapter['export']>;

interface FrameSink {
  next(frame: Frame): void;
  error(err: unknown): void;
  complete(): void;
  readonly closed: boolean;
}

function runChannel(input: ExportChannelInput, exportFn: ExportFn, out: FrameSink): () => void {
  const { request, ctx, limits } = input;
  const id = request.id;
  const meter = input.meter ?? NO_METER;
  const scheduler = input.scheduler ?? asyncScheduler;
  const subs: Subscription[] = [];

  // Records: granted chunks, received chunks, the records not yet handed to the adapter.
  let granted = limits.streamWindow;
  let receivedChunks = 0;
  let receivedRecords = 0;
  let endReceived = false;
  /** Cumulative record count at the end of each received chunk not yet credited back. */
  const boundaries: number[] = [];
  const waiting: unknown[][] = [];
  let waitingPos = 0;

  // The adapter: records handed over, results received.
  let feeder: { next(r: unknown): void; complete(): void } | undefined;
  let handed = 0;
  let answered = 0;
  let recordsCompleted = false;
  let adapterDone = false;
  let adapterSub: Subscription | undefined;
  let pumping = false;
  let firstResult = true;

  // Failure: the first reason wins; `closed` once the last frame went out.
  let failure: (() => ProtocolError) | undefined;
  let cutTimer: Subscription | undefined;
  let closed = false;
  let seqNo = 0;
  /** Record credit earned (results sent) but not granted yet: the writer is full. */
  let owed = 0;
  let writerReady = input.writeReady$ === undefined;
  const grantRecords = (): void => {
    if (owed === 0 || !writerReady || closed || failure !== undefined) return;
    const n = owed;
    owed = 0;
    granted += n;
    out.next({ type: 'credit', id, n: positiveInt(n) });
  };

  const ledger = new ResultLedger({
    limits,
    initialCredit: request.credit ?? 0,
    flushAfterMs: FLUSH_AFTER_MS,
    scheduler,
    send: (items, bytes) => {
      out.next({ type: 'chunk', id, seq: nonNegativeInt(seqNo++), items });
      meter.chunkSent(items.length, bytes);
      let credited = 0;
      while (boundaries.length > 0 && (boundaries[0] ?? Infinity) <= ledger.sent) {
        boundaries.shift();
        credited += 1;
      }
      // A failing export takes no more records: no credit for them.
      if (credited > 0 && failure === undefined) {
        owed += credited;
        grantRecords();
      }
    },
    onStall: () => meter.creditStalled(),
    onShortened: (index, bytes) => ctx.log.warn({ index, bytes }, 'export result too large for a frame: shortened'),
  });

  const inFlight = (): boolean => handed > answered;

  /** Hands records to the adapter, one at a time (see the file comment). */
  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    try {
      while (!closed && failure === undefined && feeder !== undefined && !inFlight() && waiting.length > 0 && ledger.roomForOneMore()) {
        const chunk = waiting[0] as unknown[];
        const record = chunk[waitingPos++];
        if (waitingPos >= chunk.length) {
          waiting.shift();
          waitingPos = 0;
        }
        handed += 1;
        feeder.next(record);
      }
      if (!closed && failure === undefined && feeder !== undefined && endReceived && waiting.length === 0 && !inFlight() && !recordsCompleted) {
        recordsCompleted = true;
        feeder.complete();
      }
    } finally {
      pumping = false;
    }
  };

  /** The export is over when every record was answered and every result went out. */
  const maybeEnd = (): void => {
    if (closed || failure !== undefined || !adapterDone || ledger.unsent > 0) return;
    closed = true;
    out.next({ type: 'end', id, count: nonNegativeInt(ledger.sent) });
    out.complete();
  };

  /** Ends with the error frame: the record in flight has been answered (or declared unknown). */
  const finish = (): void => {
    if (closed) return;
    closed = true;
    adapterSub?.unsubscribe();
    // What credit allows goes out as usual; the rest travels in the error frame.
    ledger.flush();
    const results = ledger.takeUnsent();
    const err = (failure as () => ProtocolError)();
    out.error(withResults(err, id, results, ledger.sent + results.length, limits.maxFrameBytes));
  };

  /** A record being written whose result will not come: its outcome is unknown. */
  const unknownOutcome = (why: string): void => {
    if (!inFlight()) return;
    const index = handed - 1;
    answered = handed;
    ledger.add({
      index,
      ok: false,
      code: 'OUTCOME_UNKNOWN',
      message: `record ${index} was being written when the export stopped and ${why}: check whether the data source applied it`,
      retryable: false,
    });
  };

  const fail = (reason: () => ProtocolError): void => {
    if (closed) return;
    failure ??= reason;
    if (!inFlight()) finish();
  };

  /** The deadline or the shutdown: stop, and give the record being written `graceMs` to finish. */
  const stopWithin = (reason: () => ProtocolError, graceMs: number): void => {
    if (closed) return;
    fail(reason);
    if (closed || cutTimer !== undefined) return;
    cutTimer = scheduler.schedule(() => {
      unknownOutcome(`its write did not finish within ${graceMs} ms`);
      finish();
    }, graceMs);
    subs.push(cutTimer);
  };

  const onRecords = (f: Frame): void => {
    if (closed || failure !== undefined) return;
    if (f.type === 'chunk') {
      receivedChunks += 1;
      if (endReceived) return fail(() => new ProtocolError('BAD_REQUEST', `export chunk ${receivedChunks} sent after the end`));
      if (receivedChunks > granted) {
        const n = receivedChunks;
        const g = granted;
        return fail(() => new ProtocolError('BAD_REQUEST', `export chunk ${n} sent without credit (granted ${g})`));
      }
      if (f.items.length > limits.maxChunkItems) {
        const n = f.items.length;
        return fail(() => new ProtocolError('BAD_REQUEST', `export chunk of ${n} records exceeds the limit of ${limits.maxChunkItems}`));
      }
      receivedRecords += f.items.length;
      ctx.log.trace({ chunk: receivedChunks, items: f.items.length }, 'export chunk received');
      boundaries.push(receivedRecords);
      if (f.items.length > 0) waiting.push(f.items);
      return pump();
    }
    if (f.type === 'end') {
      if (f.count !== receivedRecords) {
        const arrived = receivedRecords;
        return fail(() => new ProtocolError('BAD_REQUEST', `export end says ${f.count} records, ${arrived} arrived`));
      }
      endReceived = true;
      pump();
    }
  };

  const onResult = (result: ExportResult): void => {
    if (closed) return;
    if (!inFlight()) {
      return fail(() => new ProtocolError('INTERNAL', `the ${input.adapter.type} adapter answered more results than the ${handed} records it was given`));
    }
    answered += 1;
    if (firstResult) meter.firstResult();
    firstResult = false;
    ledger.add(result);
    if (failure !== undefined) return finish();
    pump();
    maybeEnd();
  };

  const onAdapterError = (err: unknown): void => {
    adapterDone = true;
    if (closed) return;
    if (failure !== undefined) ctx.log.warn({ err }, 'export adapter failed while the export was stopping');
    unknownOutcome('the data source adapter failed');
    fail(() => toProtocolError(err, id, ctx.dataSource));
  };

  const onAdapterComplete = (): void => {
    adapterDone = true;
    if (closed) return;
    if (failure === undefined && (inFlight() || !recordsCompleted)) {
      const given = handed;
      const got = answered;
      unknownOutcome('the data source adapter ended without its result');
      return fail(() => new ProtocolError('INTERNAL', `the ${input.adapter.type} adapter ended after answering ${got} of the ${given} records it was given`));
    }
    if (failure !== undefined) {
      unknownOutcome('the data source adapter ended without its result');
      return finish();
    }
    ledger.flush();
    maybeEnd();
  };

  // The hub may only send the chunks the agent granted: what arrives before the adapter takes
  // records (it may first acquire a connection) waits in `waiting`, bounded by that credit.
  subs.push(input.inbound$.subscribe({ next: onRecords }));
  if (input.writeReady$ !== undefined) {
    subs.push(
      input.writeReady$.subscribe((ready) => {
        writerReady = ready;
        grantRecords();
      }),
    );
  }
  out.next({ type: 'credit', id, n: positiveInt(limits.streamWindow) });
  subs.push(
    input.credit$.subscribe((n) => {
      if (closed) return;
      ledger.grant(n);
      pump();
      maybeEnd();
    }),
  );
  if (input.violation$ !== undefined) subs.push(input.violation$.subscribe((err) => fail(() => err)));
  if (input.deadline !== undefined) {
    const { ms, error } = input.deadline;
    subs.push(timer(ms, scheduler).subscribe(() => stopWithin(error, DEADLINE_WRITE_GRACE_MS)));
  }
  subs.push(
    (input.stop$ ?? NEVER).subscribe(() =>
      stopWithin(() => shuttingDown(`export stopped after ${answered} records, each with its result; the records after them were not written`), STOP_WRITE_GRACE_MS),
    ),
  );

  if (!closed) {
    const records$ = new Observable<unknown>((sub) => {
      if (feeder !== undefined) {
        sub.error(new ProtocolError('INTERNAL', 'export records subscribed twice'));
        return;
      }
      feeder = sub;
      pump();
      return () => {
        if (feeder === sub) feeder = undefined;
      };
    });
    adapterSub = defer(() => exportFn(records$, ctx)).subscribe({ next: onResult, error: onAdapterError, complete: onAdapterComplete });
    // A synchronous failure inside `subscribe` finished before `adapterSub` was assigned.
    if (closed) adapterSub.unsubscribe();
  }

  return () => {
    closed = true;
    ledger.stop();
    adapterSub?.unsubscribe();
    for (const s of subs) s.unsubscribe();
  };
}
