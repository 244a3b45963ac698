/**
 * The directory export records (add / modify / delete / rename / upsert): their codecs, with
 * `dn;binary` targets, and their scope check — shared by the ldap and ldif data sources, whose
 * writers (`../ldap/export.ts`, `../ldif/export.ts`) give them to the shared export loop.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { recordDecoder } from '../../adapter-kit/decode.js';
import { Bool, decoder, isRecord, listOf, strictObject } from '../../config/codecs.js';
import type { ProtocolErrorContext } from '../../protocol/errors.js';
import { parseDn } from './dn.js';
import { isBase64 } from './entry-write.js';
import { badRequest, DnString, requireWithin, targetDn } from './params.js';
import { renameTarget } from './rename.js';

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
  {
    name: 'rename record (op, dn, newRdn, newSuperior, deleteOldRdn)',
    // RFC 4511 §4.9: newrdn is an RDN, not a DN (a new parent is newSuperior).
    check: (v) => {
      const n = v.newRdn === undefined ? 1 : parseDn(v.newRdn).length;
      return n === 1 ? [] : [{ path: ['newRdn'], message: `expected exactly one RDN, got ${n} (a new parent goes in newSuperior)` }];
    },
  },
);

const RECORDS = { add: AddRecord, modify: ModifyRecord, delete: DeleteRecord, rename: RenameRecord, upsert: UpsertRecord } as const;
type RecordOp = keyof typeof RECORDS;
export type ExportRecord = { [K in RecordOp]: t.TypeOf<(typeof RECORDS)[K]> }[RecordOp];

const decodeShape: (input: unknown, context?: ProtocolErrorContext) => ExportRecord = recordDecoder<ExportRecord>(RECORDS);

/**
 * Decodes one record (discriminated on `op`) or throws BAD_REQUEST. The target may be given as
 * `dn;binary` (base64 of the DN's bytes, which wins over `dn`): it becomes the equivalent DN
 * string with hex escapes (docs/protocol.md, "Entries").
 */
export function decodeRecord(input: unknown, context: ProtocolErrorContext = {}): ExportRecord {
  if (isRecord(input) && Object.hasOwn(input, 'dn;binary')) {
    const { 'dn;binary': bytes, ...rest } = input;
    if (typeof bytes !== 'string') return badRequest('dn;binary: expected base64 of a distinguished name', context);
    return decodeShape({ ...rest, dn: targetDn({ 'dn;binary': bytes }, context) }, context);
  }
  return decodeShape(input, context);
}

/**
 * The scope check of every directory record (ldap and ldif): its DN inside `baseDN`, and for a
 * rename the new superior and the new DN too (`renameTarget`). OPERATION_NOT_ALLOWED otherwise.
 */
export function checkScope(record: ExportRecord, baseDN: string, context: ProtocolErrorContext = {}): void {
  if (record.op === 'rename') renameTarget(record, baseDN, context);
  else requireWithin(record.dn, baseDN, 'dn', context);
}
