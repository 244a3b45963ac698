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
import { catchError, concatMap, defer, finalize, from, map, of, type Observable } from 'rxjs';
import type { ExportResult, OperationContext } from './adapter.js';
import { journaledStep } from './export-journaling.js';
import { errorContext, recordStep, type ExportLoopOptions, type ExportTally, type RecordWriter } from './export-step.js';

export { errorContext, recordStep, type AroundWrite, type ExportLoopOptions, type ExportTally, type RecordWriter, type VerifyOutcome } from './export-step.js';

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
