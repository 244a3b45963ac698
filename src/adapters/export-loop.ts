/**
 * The one export loop of every adapter. An adapter supplies a `RecordWriter` — how to decode a
 * record, which records its data source's scope refuses, how to write one record upstream and
 * its error table — and the loop does the rest, the same way for every data source:
 *
 * - records are taken one at a time (`concatMap`): record n+1 is decoded only after record n's
 *   result was emitted, so results come one per record, in input order, and a consumer that
 *   stops inside a result's `next` stops before the next write starts;
 * - each record goes through one step (`recordStep`): decode → scope → conditions → write →
 *   result. A record refused by decode or scope never reaches the upstream (no connection is
 *   made for it); conditions may read the upstream (its advertised capabilities), never write;
 * - a failed record gets `{index, ok: false, code, message, retryable}` from the adapter's error
 *   table (which scrubs secrets, `scrub.ts`) and the next record is written;
 * - per-export resources (an LDAP connection lease) are opened when the export is subscribed and
 *   closed when it ends, fails or is unsubscribed.
 *
 * The write of a checked record can be wrapped (`ExportLoopOptions.aroundWrite`): that is the
 * seam for a durable per-record journal (an intent before the write, an outcome after it, a
 * replay instead of a write on a resend, and `RecordWriter.verify` for an intent without an
 * outcome).
 */
import { catchError, concat, concatMap, defer, finalize, from, ignoreElements, last, map, of, type Observable, type ObservableInput } from 'rxjs';
import { ProtocolError, type ProtocolErrorContext } from '../protocol/errors.js';
import type { ExportResult, OperationContext } from './adapter.js';
import { journaledStep } from './export-journaling.js';

/** What `verify` found out about a record whose write may or may not have been applied. */
export type VerifyOutcome = 'applied' | 'not-applied' | 'unknown';

/** What an adapter supplies to the export loop: everything about one record, nothing about the stream. */
export interface RecordWriter<R> {
  /** Decodes one record; throws BAD_REQUEST listing the problems. */
  decode(input: unknown, context: ProtocolErrorContext): R;
  /**
   * Refuses (throws OPERATION_NOT_ALLOWED) a record outside the data source's scope: its target
   * and, for a move, every name it would take (a rename's new superior and new DN). Synchronous
   * and local: a refused record never reaches the upstream.
   */
  checkScope(record: R, context: ProtocolErrorContext): void;
  /**
   * Refuses a record whose conditions the upstream cannot honour (e.g. a version to a SCIM
   * provider without ETags), before any write. May read the upstream's advertised capabilities;
   * never writes. Its values are ignored; failing refuses the record.
   */
  checkConditions?(record: R, ctx: OperationContext, context: ProtocolErrorContext): ObservableInput<unknown>;
  /**
   * The upstream write of one checked record. Resolves with the result's `data` (the last value
   * an Observable emits), or `undefined` for none. Unsubscribing aborts it where the upstream can.
   */
  write(record: R, index: number, ctx: OperationContext): ObservableInput<unknown>;
  /** The adapter's error table: anything thrown → a coded, scrubbed `ProtocolError` (one passes through). */
  toProtocolError(err: unknown, context: ProtocolErrorContext, index?: number): ProtocolError;
  /**
   * Was a record's write applied? For a journal that finds an intent without an outcome (the
   * agent stopped mid-write). Optional: without it such a record is reported OUTCOME_UNKNOWN.
   */
  verify?(record: R, ctx: OperationContext): Promise<VerifyOutcome>;
  /**
   * Opens what the export holds for its whole life (e.g. an LDAP connection lease), when the
   * export is subscribed. Failing fails the export as a whole (e.g. BUSY), before any record.
   */
  open?(ctx: OperationContext): void | Promise<void>;
  /** Releases what `open` took; called once when the export ends, fails or is unsubscribed. */
  close?(): Promise<void>;
}

/**
 * Wraps the write of a decoded, checked record. `write` subscribes the adapter's write; the
 * wrapper may record something before and after it, or answer without calling it. What it
 * emits last is the result's `data`; what it throws goes through the adapter's error table.
 */
export type AroundWrite<R> = (write: () => Observable<unknown>, record: R, index: number, ctx: OperationContext) => Observable<unknown>;

export interface ExportLoopOptions<R> {
  readonly aroundWrite?: AroundWrite<R>;
}

/** Counts of an export's results, logged when it ends. */
export interface ExportTally {
  records: number;
  ok: number;
  failed: number;
}

export function errorContext(ctx: OperationContext): ProtocolErrorContext {
  return { requestId: ctx.requestId, dataSource: ctx.dataSource };
}

/** The result of a failed record, logged: INTERNAL is a bug (error with its cause), the rest is the caller's or the upstream's (debug). */
function failed(e: ProtocolError, err: unknown, index: number, ctx: OperationContext): ExportResult {
  if (e.code === 'INTERNAL') ctx.log.error({ err: e.cause ?? err, index }, 'export record failed unexpectedly');
  else ctx.log.debug({ index, code: e.code, reason: e.message }, 'export record failed');
  return { index, ok: false, code: e.code, message: e.message, retryable: e.retryable };
}

/**
 * One record's way through the loop: decode → scope → conditions → (wrapped) write → result.
 * Never fails: every failure becomes the record's failed result.
 */
export function recordStep<R>(writer: RecordWriter<R>, ctx: OperationContext, options: ExportLoopOptions<R> = {}): (input: unknown, index: number) => Observable<ExportResult> {
  const context = errorContext(ctx);
  return (input, index) =>
    defer(() => {
      const record = writer.decode(input, context);
      writer.checkScope(record, context);
      const conditions$ = writer.checkConditions === undefined ? of() : from(writer.checkConditions(record, ctx, context)).pipe(ignoreElements());
      const write = (): Observable<unknown> => defer(() => from(writer.write(record, index, ctx))).pipe(last(null, undefined));
      const { aroundWrite } = options;
      // Deferred: neither the write nor its wrapper starts before the conditions have passed.
      const written$ = aroundWrite === undefined ? write() : defer(() => aroundWrite(write, record, index, ctx)).pipe(last(null, undefined));
      return concat(conditions$, written$);
    }).pipe(
      map((data): ExportResult => (data === undefined ? { index, ok: true } : { index, ok: true, data })),
      catchError((err: unknown) => of(failed(writer.toProtocolError(err, context, index), err, index, ctx))),
    );
}

/**
 * Writes `records$` through `writer`, one `ExportResult` per record in input order. `writer` is
 * an object, or a factory called once per subscription (for a writer that holds per-export
 * state, such as a connection lease). Cold: nothing is opened before subscription.
 */
export function exportLoop<R>(
  records$: Observable<unknown>,
  writer: RecordWriter<R> | (() => RecordWriter<R>),
  ctx: OperationContext,
  options: ExportLoopOptions<R> = {},
): Observable<ExportResult> {
  return defer(() => {
    const w = typeof writer === 'function' ? writer() : writer;
    const tally: ExportTally = { records: 0, ok: 0, failed: 0 };
    // An export with an idempotency key runs each write under its durable journal.
    const step = ctx.exportJournal === undefined ? recordStep(w, ctx, options) : journaledStep(w, ctx, ctx.exportJournal);
    const opened$ = defer(() => {
      const r = w.open?.(ctx);
      return r === undefined ? of(undefined) : from(r);
    }).pipe(
      catchError((err: unknown) => {
        throw w.toProtocolError(err, errorContext(ctx));
      }),
    );
    return opened$.pipe(
      // Sequential: record n+1 is taken only after record n's result (order = input order).
      concatMap(() => records$.pipe(concatMap(step))),
      map((result) => {
        tally.records += 1;
        if (result.ok) tally.ok += 1;
        else tally.failed += 1;
        return result;
      }),
      finalize(() => {
        ctx.log.debug({ ...tally }, 'export finished');
        w.close?.().catch((err: unknown) => ctx.log.warn({ err }, 'export: releasing its resources failed'));
      }),
    );
  });
}
