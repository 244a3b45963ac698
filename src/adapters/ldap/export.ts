/**
 * `export`: write records (add / modify / delete / rename / upsert) one after the other on a
 * dedicated connection, one `ExportResult` per record in order. A record that fails — bad
 * shape, outside baseDN, refused by the server, connection lost — gets a failed result and the
 * batch goes on; a lost connection is re-made (with failover) for the next record.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { Attribute, Change, type Client } from 'ldapts';
import { concatMap, defer, finalize, from, type Observable } from 'rxjs';
import type { ExportResult, OperationContext } from '../adapter.js';
import { Bool, decoder, isRecord, listOf, strictObject } from '../../config/codecs.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { LdapClientPool, Lease } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { encodeValues, isBase64 } from './entry.js';
import { ldapResultCode, toProtocolError } from './errors.js';
import { renameEntry } from './modify-dn.js';
import { parseDn } from './dn.js';
import { badRequest, DnString, requireWithin } from './params.js';
import { recordDecoder } from '../decode.js';

const ATTRIBUTE_TYPE = /^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)(;[A-Za-z0-9-]+)*$/;
const BINARY_OPTION = /;binary$/i;

/** Values of `name;binary` must be base64; returns the problem, if any. */
function binaryProblem(name: string, values: readonly string[]): string | undefined {
  return BINARY_OPTION.test(name) && !values.every(isBase64) ? `values of ${name} must be base64` : undefined;
}

const Values = decoder<string[]>('string or list of strings', (u, c) => {
  if (typeof u === 'string') return t.success([u]);
  return Array.isArray(u) && u.every((v): v is string => typeof v === 'string') ? t.success([...u]) : t.failure(u, c);
});

/** `{name: string | string[]}`, at least one attribute, each with at least one value. */
const AttributeMap = decoder<Record<string, string[]>>('mapping of attribute names to values', (u, c) => {
  if (!isRecord(u) || Object.keys(u).length === 0) return t.failure(u, c);
  const errors: t.ValidationError[] = [];
  const out: Array<[string, string[]]> = [];
  for (const [name, raw] of Object.entries(u)) {
    const at = t.appendContext(c, name, Values, raw);
    const r = Values.validate(raw, at);
    if (!ATTRIBUTE_TYPE.test(name)) errors.push({ value: raw, context: at, message: `invalid attribute name ${JSON.stringify(name)}` });
    else if (isLeft(r)) errors.push(...r.left);
    else if (r.right.length === 0) errors.push({ value: raw, context: at, message: `no values for ${name}` });
    else {
      const problem = binaryProblem(name, r.right);
      if (problem !== undefined) errors.push({ value: raw, context: at, message: problem });
      else out.push([name, r.right]);
    }
  }
  return errors.length > 0 ? t.failures(errors) : t.success(Object.fromEntries(out));
});

const ChangeC = strictObject(
  { operation: t.keyof({ add: null, delete: null, replace: null }, "'add' | 'delete' | 'replace'"), attribute: t.string },
  { values: listOf(t.string, 'list of strings') },
  {
    name: 'change (operation, attribute, values)',
    check: (v) => {
      const problems: Array<{ path: string[]; message: string }> = [];
      if (v.attribute !== undefined && !ATTRIBUTE_TYPE.test(v.attribute)) problems.push({ path: ['attribute'], message: `invalid attribute name ${JSON.stringify(v.attribute)}` });
      if (v.operation === 'add' && (v.values ?? []).length === 0) problems.push({ path: ['values'], message: "an 'add' change needs at least one value" });
      const binary = v.attribute === undefined ? undefined : binaryProblem(v.attribute, v.values ?? []);
      if (binary !== undefined) problems.push({ path: ['values'], message: binary });
      return problems;
    },
  },
);

const AddRecord = strictObject({ op: t.literal('add'), dn: DnString, attributes: AttributeMap }, {}, { name: 'add record (op, dn, attributes)' });
const UpsertRecord = strictObject({ op: t.literal('upsert'), dn: DnString, attributes: AttributeMap }, {}, { name: 'upsert record (op, dn, attributes)' });
const ModifyRecord = strictObject(
  { op: t.literal('modify'), dn: DnString, changes: listOf(ChangeC, 'list of changes (at least one)', 1) },
  {},
  { name: 'modify record (op, dn, changes)' },
);
const DeleteRecord = strictObject({ op: t.literal('delete'), dn: DnString }, {}, { name: 'delete record (op, dn)' });
const RenameRecord = strictObject(
  { op: t.literal('rename'), dn: DnString, newRdn: DnString },
  { newSuperior: DnString, deleteOldRdn: Bool },
  { name: 'rename record (op, dn, newRdn, newSuperior, deleteOldRdn)' },
);

const RECORDS = { add: AddRecord, modify: ModifyRecord, delete: DeleteRecord, rename: RenameRecord, upsert: UpsertRecord } as const;
type RecordOp = keyof typeof RECORDS;
export type ExportRecord = { [K in RecordOp]: t.TypeOf<(typeof RECORDS)[K]> }[RecordOp];

/** Decodes one record (discriminated on `op`) or throws BAD_REQUEST. */
export const decodeRecord: (input: unknown, context?: ProtocolErrorContext) => ExportRecord = recordDecoder<ExportRecord>(RECORDS);

function attributesOf(map: Record<string, string[]>): Attribute[] {
  return Object.entries(map).map(([name, list]) => {
    const { name: type, values } = encodeValues(name, list);
    return new Attribute({ type, values });
  });
}

function replaceAll(map: Record<string, string[]>): Change[] {
  return attributesOf(map).map((modification) => new Change({ operation: 'replace', modification }));
}

export interface ExportDeps {
  readonly pool: LdapClientPool;
  readonly config: LdapDataSourceConfig;
  readonly secrets: readonly string[];
}

/**
 * Checks one decoded record against the data source's scope and returns its write. Every
 * refusal (outside baseDN, a bad newRdn) happens here, before the record's connection is
 * made: a refused record never reaches the server.
 */
function plan(record: ExportRecord, baseDN: string, context: ProtocolErrorContext): (client: Client) => Promise<unknown> {
  requireWithin(record.dn, baseDN, 'dn', context);
  switch (record.op) {
    case 'add':
      return async (client) => {
        await client.add(record.dn, attributesOf(record.attributes));
        return undefined;
      };
    case 'modify':
      return async (client) => {
        await client.modify(
          record.dn,
          record.changes.map((ch) => {
            const { name, values } = encodeValues(ch.attribute, ch.values ?? []);
            return new Change({ operation: ch.operation, modification: new Attribute({ type: name, values }) });
          }),
        );
        return undefined;
      };
    case 'delete':
      return async (client) => {
        await client.del(record.dn);
        return undefined;
      };
    case 'rename': {
      const newRdn = parseDn(record.newRdn);
      const rdn = newRdn[0];
      if (newRdn.length !== 1 || rdn === undefined) return badRequest(`newRdn ${JSON.stringify(record.newRdn)} must be exactly one RDN`, context);
      const newSuperior = record.newSuperior === undefined ? undefined : requireWithin(record.newSuperior, baseDN, 'newSuperior', context);
      return async (client) => {
        await renameEntry(client, { dn: record.dn, newRdn: rdn, deleteOldRdn: record.deleteOldRdn ?? true, ...(newSuperior === undefined ? {} : { newSuperior }) });
        return undefined;
      };
    }
    case 'upsert':
      return async (client) => {
        try {
          await client.add(record.dn, attributesOf(record.attributes));
          return { action: 'added' };
        } catch (err) {
          if (ldapResultCode(err) !== 68) throw err;
        }
        // It exists: replace exactly the attributes given (others are left alone).
        await client.modify(record.dn, replaceAll(record.attributes));
        return { action: 'replaced' };
      };
  }
}

async function writeOne(deps: ExportDeps, lease: Lease, input: unknown, index: number, ctx: OperationContext): Promise<ExportResult> {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  let url: string | undefined;
  try {
    const write = plan(decodeRecord(input, context), deps.config.baseDN, context);
    const c = await lease.connection();
    url = c.url;
    const data = await write(c.client);
    return data === undefined ? { index, ok: true } : { index, ok: true, data };
  } catch (err) {
    const e = toProtocolError(err, { ...context, ...(url === undefined ? {} : { url }) }, { operation: `export record ${index}`, secrets: deps.secrets });
    ctx.log.debug({ index, code: e.code, reason: e.message }, 'LDAP export record failed');
    return { index, ok: false, code: e.code, message: e.message, retryable: e.retryable };
  }
}

export function exportRecords(deps: ExportDeps, records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
  return defer(() => {
    let lease: Lease;
    try {
      lease = deps.pool.lease();
    } catch (err) {
      throw err instanceof ProtocolError ? err : toProtocolError(err, { requestId: ctx.requestId, dataSource: ctx.dataSource });
    }
    return records$.pipe(
      // Sequential: record n+1 is written only after record n's result (order = input order).
      concatMap((record, index) => defer(() => from(writeOne(deps, lease, record, index, ctx)))),
      finalize(() => void lease.release()),
    );
  });
}
