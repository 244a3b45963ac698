/**
 * `export`: the ldap adapter's records (add / modify / delete / rename / upsert, decoded by its
 * `decodeRecord`) applied to the in-memory directory one after the other, one `ExportResult`
 * per record in order. A record that fails gets a failed result and the batch goes on.
 * Changes live in memory only: the LDIF files are never written.
 */
import { map, switchMap, defer, from, type Observable } from 'rxjs';
import type { ExportResult, OperationContext } from '../adapter.js';
import type { ProtocolErrorContext } from '../../protocol/errors.js';
import { formatDn, parseDn, type Rdn } from '../ldap/dn.js';
import { encodeValues } from '../ldap/entry.js';
import { decodeRecord, type ExportRecord } from '../ldap/export.js';
import { badRequest, requireWithin } from '../ldap/params.js';
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

/** Applies one decoded record; returns the result's `data`, if any. */
export function applyRecord(dir: Directory, record: ExportRecord, baseDN: string, context: ProtocolErrorContext = {}): unknown {
  const rdns = requireWithin(record.dn, baseDN, 'dn', context);
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
      const newRdn = parseDn(record.newRdn);
      const rdn = newRdn[0];
      if (newRdn.length !== 1 || rdn === undefined) return badRequest(`newRdn ${JSON.stringify(record.newRdn)} must be exactly one RDN`, context);
      const newSuperior: Rdn[] | undefined = record.newSuperior === undefined ? undefined : requireWithin(record.newSuperior, baseDN, 'newSuperior', context);
      // The entry's new name must stay inside the data source too (renaming the base would leave it).
      requireWithin(formatDn([rdn, ...(newSuperior ?? rdns.slice(1))]), baseDN, 'new DN', context);
      dir.rename(record.dn, rdns, rdn, newSuperior, record.deleteOldRdn ?? true);
      return undefined;
    }
    case 'upsert': {
      const attributes = attributesOf(record.attributes);
      if (dir.entry(rdns) === undefined) {
        dir.add(record.dn, rdns, attributes);
        return { action: 'added' };
      }
      // It exists: replace exactly the attributes given (others are left alone), as the ldap adapter does.
      dir.modify(
        record.dn,
        rdns,
        attributes.map((a) => ({ operation: 'replace' as const, name: a.name, values: a.values })),
      );
      return { action: 'replaced' };
    }
  }
}

function writeOne(dir: Directory, baseDN: string, input: unknown, index: number, ctx: OperationContext): ExportResult {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  try {
    const data = applyRecord(dir, decodeRecord(input, context), baseDN, context);
    return data === undefined ? { index, ok: true } : { index, ok: true, data };
  } catch (err) {
    const e = toProtocolError(err, context, { operation: `export record ${index}` });
    if (e.code === 'INTERNAL') ctx.log.error({ err, index }, 'LDIF export record failed unexpectedly');
    else ctx.log.debug({ index, code: e.code, reason: e.message }, 'LDIF export record refused');
    return { index, ok: false, code: e.code, message: e.message, retryable: e.retryable };
  }
}

export function exportRecords(deps: ExportDeps, records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
  return defer(() => from(deps.directory())).pipe(
    // Sequential by construction: each record is applied synchronously, in input order.
    switchMap((dir) => records$.pipe(map((record, index) => writeOne(dir, deps.config.baseDN, record, index, ctx)))),
  );
}
