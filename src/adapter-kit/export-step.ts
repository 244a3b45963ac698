/**
 * One record's way through the shared export loop (export-loop.ts): the `RecordWriter` an adapter
 * supplies, and `recordStep` — decode → scope → conditions → (wrapped) write → result — which the
 * loop runs per record and the journaled step (export-journaling.ts) wraps.
 */
import { catchError, concat, defer, from, ignoreElements, last, map, of, type Observable, type ObservableInput } from 'rxjs';
import { ProtocolError, type ProtocolErrorContext } from '../protocol/errors.js';
import type { ExportResult, OperationContext } from './adapter.js';

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
