/**
 * Runs an export under the durable journal of its idempotency key (docs/exports.md): opens the
 * key's journal before the export starts (BUSY while another export with the key runs), hands
 * it to the shared export loop through the operation context, and closes it however the export
 * ends — a cancel, a lost socket or a shutdown leave the journal on disk for the resend.
 */
import { concatMap, defer, finalize, from, throwError, type Observable } from 'rxjs';
import type { OperationContext, RecordJournal } from '../adapter-kit/adapter.js';
import { ProtocolError, type Request } from '../protocol/index.js';
import { recordHash, type ExportJournals, type KeyJournal } from './export-journal.js';

function recordJournal(journal: KeyJournal): RecordJournal {
  return {
    hash: recordHash,
    lookup: (index) => journal.lookup(index),
    intent: (index, hash) => journal.intent(index, hash),
    outcome: (index, hash, result) => journal.outcome(index, hash, result),
  };
}

export function journaledExport<T>(
  request: Request,
  journals: ExportJournals | undefined,
  ctx: OperationContext,
  run: (ctx: OperationContext) => Observable<T>,
): Observable<T> {
  const key = request.idempotencyKey;
  if (key === undefined) return run(ctx);
  if (journals === undefined) {
    // The hub only sends keys to agents that announce journals: an older hub, or a bug.
    return throwError(
      () => new ProtocolError('IDEMPOTENCY_NOT_SUPPORTED', 'this agent keeps no export journals (no stateDir in its configuration): the export cannot carry an idempotency key'),
    );
  }
  return defer(() => from(journals.open(request.dataSource, key))).pipe(
    concatMap((journal) => {
      ctx.log.debug('export journaled under its idempotency key');
      return run({ ...ctx, exportJournal: recordJournal(journal) }).pipe(
        finalize(() => void journal.close().catch((err: unknown) => ctx.log.warn({ err }, 'export journal: closing failed'))),
      );
    }),
  );
}
