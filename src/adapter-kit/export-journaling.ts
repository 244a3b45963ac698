/**
 * The export loop's step for a journaled export (an idempotency key, docs/exports.md): every
 * upstream write is bracketed by the durable journal of its key, so a resend of the same export
 * writes no record twice.
 *
 *   journal says          record's hash   what happens
 *   nothing               —               intent → write → outcome (the usual step)
 *   outcome (replayable)  same            the journaled result, `replayed: true`; no write
 *   outcome (retryable)   same            written again (a retryable failure applied nothing)
 *   intent, no outcome    same            `verify`: applied → ok (`replayed`, `verified`), not
 *                                         applied → written, unknown / no verify → OUTCOME_UNKNOWN
 *   anything              different       IDEMPOTENCY_MISMATCH; no write
 *
 * The intent is written before the write starts and the write does not start if it cannot be;
 * the outcome after the upstream answered. A write cut off in between (cancel, socket loss, the
 * agent killed) leaves the intent alone, which the next attempt verifies. OUTCOME_UNKNOWN is
 * journaled as that record's outcome, so it is reported once and never turned into a write.
 */
import { catchError, concatMap, defer, from, last, map, of, tap, type Observable } from 'rxjs';
import { ProtocolError } from '../protocol/errors.js';
import type { ExportResult, JournaledResult, OperationContext, RecordJournal } from './adapter.js';
import { errorContext, recordStep, type RecordWriter } from './export-step.js';

const replayable = (r: JournaledResult): boolean => r.ok || !r.retryable;

function asResult(index: number, r: JournaledResult, marks: { replayed?: true; verified?: true }): ExportResult {
  return r.ok ? { index, ok: true, ...(r.data === undefined ? {} : { data: r.data }), ...marks } : { index, ok: false, code: r.code, message: r.message, retryable: r.retryable, ...marks };
}

function journaled(e: ProtocolError): JournaledResult {
  return { ok: false, code: e.code, message: e.message, retryable: e.retryable };
}

export function journaledStep<R>(writer: RecordWriter<R>, ctx: OperationContext, journal: RecordJournal): (input: unknown, index: number) => Observable<ExportResult> {
  const context = errorContext(ctx);

  /** Before the write: verify an interrupted one, then the intent. 'applied' = no write needed. */
  const prepare = async (record: R, index: number, hash: string, interrupted: boolean): Promise<'write' | 'applied'> => {
    if (interrupted) {
      const found =
        writer.verify === undefined
          ? 'unknown'
          : await writer.verify(record, ctx).catch((err: unknown) => {
              ctx.log.warn({ index, err: writer.toProtocolError(err, context, index) }, 'export: verifying a record whose write was interrupted failed');
              return 'unknown' as const;
            });
      ctx.log.info({ index, found }, 'export: a record whose write was interrupted, verified against the data source');
      if (found === 'applied') {
        journal.outcome(index, hash, { ok: true });
        return 'applied';
      }
      if (found === 'unknown') {
        const e = new ProtocolError(
          'OUTCOME_UNKNOWN',
          `record ${index}: the agent stopped while writing it and the data source cannot tell whether it was applied; it is not written again under this key`,
          context,
        );
        journal.outcome(index, hash, journaled(e));
        throw e;
      }
    }
    try {
      journal.intent(index, hash);
    } catch (err) {
      // No write without its intent.
      throw err instanceof ProtocolError ? err : new ProtocolError('INTERNAL', `export journal: ${String(err)}`, context, { cause: err, retryable: true });
    }
    return 'write';
  };

  return (input, index) =>
    defer(() => {
      const hash = journal.hash(input);
      const known = journal.lookup(index);
      if (known.state !== 'none' && known.hash !== hash) {
        ctx.log.warn({ index }, 'export record differs from the one journaled under this idempotency key: not written');
        return of<ExportResult>({
          index,
          ok: false,
          code: 'IDEMPOTENCY_MISMATCH',
          message: `record ${index} differs from the record sent at this position under the same idempotency key; it was not written (use a new key for new content)`,
          retryable: false,
        });
      }
      if (known.state === 'outcome' && replayable(known.result)) return of(asResult(index, known.result, { replayed: true }));
      let verified = false;
      const step = recordStep(writer, ctx, {
        aroundWrite: (write, record) =>
          from(prepare(record, index, hash, known.state === 'intent')).pipe(
            concatMap((next) => {
              if (next === 'applied') {
                verified = true;
                return of(undefined);
              }
              return write().pipe(
                last(null, undefined),
                tap((data) => journal.outcome(index, hash, data === undefined ? { ok: true } : { ok: true, data })),
                catchError((err: unknown) => {
                  const e = writer.toProtocolError(err, context, index);
                  journal.outcome(index, hash, journaled(e));
                  throw e;
                }),
              );
            }),
          ),
      });
      return step(input, index).pipe(map((r) => (verified ? { ...r, replayed: true as const, verified: true as const } : r)));
    });
}
