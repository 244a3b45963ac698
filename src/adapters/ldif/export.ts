/**
 * `export`: the ldap adapter's records (add / modify / delete / rename / upsert, decoded by its
 * `decodeRecord` and scope-checked by its `checkScope`) applied to the in-memory directory by
 * the shared export loop (`../export-loop.ts`): one after the other, one `ExportResult` per
 * record in order; a record that fails gets a failed result and the batch goes on. Changes
 * live in memory only: the LDIF files are never written.
 */
import { of, type Observable } from 'rxjs';
import type { ExportResult, OperationContext } from '../../adapter-kit/adapter.js';
import { errorContext, exportLoop, type RecordWriter } from '../../adapter-kit/export-loop.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import { parseDn } from '../directory/dn.js';
import { encodeValues } from '../directory/entry.js';
import { checkScope, decodeRecord, type ExportRecord } from '../directory/export-records.js';
import { renameTarget } from '../directory/rename.js';
import type { AttributeInput, Directory } from './directory.js';
import { toProtocolError } from './errors.js';
import { withoutBinaryOption, type Value } from './values.js';

/** `name;binary` values are base64 and stored as bytes under `name` (the option is only for transfer). */
function stored(name: string, list: readonly string[]): { name: string; values: Value[] } {
  const encoded = encodeValues(name, list);
  return { name: withoutBinaryOption(encoded.name), values: [...encoded.values] };
}

function attributesOf(map: Record<string, string[]>): AttributeInput[] {
  return Object.entries(map).map(([name, list]) => stored(name, list));
}

export interface ExportDeps {
  readonly directory: () => Promise<Directory>;
  readonly config: { readonly baseDN: string };
}

/**
 * Applies one decoded record; returns the result's `data`, if any. The record's scope is
 * checked again here (`checkScope`, the ldap adapter's), so a caller without the export loop
 * cannot skip it.
 */
export function applyRecord(dir: Directory, record: ExportRecord, baseDN: string, context: ProtocolErrorContext = {}): unknown {
  checkScope(record, baseDN, context);
  const rdns = parseDn(record.dn);
  switch (record.op) {
    case 'add':
      dir.add(record.dn, rdns, attributesOf(record.attributes));
      return undefined;
    case 'modify':
      dir.modify(
        record.dn,
        rdns,
        record.changes.map((ch) => ({ operation: ch.operation, ...stored(ch.attribute, ch.values ?? []) })),
      );
      return undefined;
    case 'delete':
      dir.delete(record.dn, rdns);
      return undefined;
    case 'rename': {
      const { newRdn, newSuperior } = renameTarget(record, baseDN, context);
      dir.rename(record.dn, rdns, newRdn, newSuperior, record.deleteOldRdn ?? true);
      return undefined;
    }
    case 'upsert':
      // Adds, or replaces exactly the attributes given (others are left alone), as the ldap
      // adapter does; `cn` and `cn;binary` replace one attribute together (Directory.upsert).
      return { action: dir.upsert(record.dn, rdns, attributesOf(record.attributes)) };
  }
}

/**
 * The ldif record writer: the directory is loaded (or found loaded) when the export is
 * subscribed — a failed load fails the export as a whole — and each record is applied to it
 * synchronously.
 */
export function ldifWriter(deps: ExportDeps): RecordWriter<ExportRecord> {
  const { baseDN } = deps.config;
  let dir: Directory | undefined;
  return {
    decode: (input, context) => decodeRecord(input, context),
    checkScope: (record, context) => checkScope(record, baseDN, context),
    open: async () => {
      dir = await deps.directory();
    },
    write: (record, _index, ctx) => {
      if (dir === undefined) throw new ProtocolError('INTERNAL', 'LDIF export wrote before its directory was loaded');
      return of(applyRecord(dir, record, baseDN, errorContext(ctx)));
    },
    toProtocolError: (err, context, index) => toProtocolError(err, context, index === undefined ? {} : { operation: `export record ${index}` }),
  };
}

export function exportRecords(deps: ExportDeps, records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
  return exportLoop(records$, () => ldifWriter(deps), ctx);
}
