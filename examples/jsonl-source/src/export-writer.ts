/**
 * `export` for a writable `jsonl` source: the adapter kit's shared export loop (`exportLoop`)
 * with this source's `RecordWriter` — decode one record, check it, rewrite the file for it. The
 * loop gives one result per record, in order, and goes on after a record that fails (a bad
 * record is BAD_REQUEST, deleting a missing key NOT_FOUND).
 *
 * - `upsert`: adds the record, or sets the attributes given on the existing one (the others are
 *   kept); the key attribute is the record's `key`. Result data: `{ action: 'added' | 'updated' | 'unchanged' }`.
 * - `delete`: removes the record. Result data: `{ action: 'deleted' }`.
 */
import { badRequest, exportLoop, type ExportResult, type OperationContext, type RecordWriter } from 'datasync-agent/adapter-kit';
import type { Observable } from 'rxjs';
import type { JsonlSettings } from './config.js';
import { toProtocolError } from './errors.js';
import { keyOf } from './file-records.js';
import { rewriteRecord, type Change } from './file-rewrite.js';
import { decodeExportRecord, type ExportRecord } from './params.js';

function changeOf(record: ExportRecord, keyAttribute: string): Change {
  if (record.op === 'delete') return () => undefined;
  const given = record.attributes ?? {};
  return (current) => ({ ...current, ...given, [keyAttribute]: current?.[keyAttribute] ?? record.key });
}

export function jsonlWriter(settings: JsonlSettings): RecordWriter<ExportRecord> {
  return {
    decode: (input, context) => {
      const record = decodeExportRecord(input, context);
      if (record.op === 'upsert' && record.attributes !== undefined && Object.hasOwn(record.attributes, settings.key) && keyOf(record.attributes, settings.key) !== record.key) {
        badRequest(`attributes.${settings.key}: must be the record's key ${JSON.stringify(record.key)} or left out (export does not change a record's key)`, context);
      }
      return record;
    },
    // The whole file is this source's scope: nothing to refuse.
    checkScope: () => undefined,
    write: async (record, _index, ctx) => {
      const action = await rewriteRecord(settings.file, settings.key, record.key, changeOf(record, settings.key), { requestId: ctx.requestId, dataSource: ctx.dataSource });
      return { action };
    },
    toProtocolError: (err, context) => toProtocolError(err, context),
  };
}

export function exportRecords(settings: JsonlSettings, records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
  return exportLoop(records$, jsonlWriter(settings), ctx);
}
