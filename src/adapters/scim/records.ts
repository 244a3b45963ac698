/**
 * Export records (what the hub asks the agent to write), decoded one by one with io-ts and
 * discriminated on `op`. A record that does not decode gets a BAD_REQUEST result; the batch
 * goes on (docs/adapters.md rule 4).
 *
 * | op        | HTTP (RFC 7644)                                   |
 * |-----------|---------------------------------------------------|
 * | create    | POST   /Endpoint                         (§3.3)   |
 * | replace   | PUT    /Endpoint/id   If-Match: version  (§3.5.1) |
 * | patch     | PATCH  /Endpoint/id   If-Match: version  (§3.5.2) |
 * | delete    | DELETE /Endpoint/id   If-Match: version  (§3.6)   |
 * | upsert    | GET ?filter=attr eq "value", then POST or PUT     |
 *
 * A `version` asks for a conditional write (RFC 7644 §3.14). It is honoured (sent as
 * `If-Match`) or refused: to a provider whose ServiceProviderConfig says `etag.supported:
 * false`, the record fails with BAD_REQUEST before any write (export.ts).
 */
import * as t from 'io-ts';
import { decoder, isRecord, listOf, strictObject } from '../../config/codecs.js';
import type { ProtocolErrorContext } from '../../protocol/errors.js';
import { JsonObject } from './codecs.js';
import type { CompValue } from './filter.js';
import { AttributePath, hasControlCharacters, ResourceId, ResourceTypeRef, Version } from './params.js';
import { recordDecoder } from '../../adapter-kit/decode.js';

/** RFC 7644 §3.5.2 operation names. Providers must accept any case; we send them lower-case. */
const PatchOpName = decoder<'add' | 'remove' | 'replace'>("'add' | 'remove' | 'replace'", (u, c) => {
  const v = typeof u === 'string' ? u.toLowerCase() : u;
  return v === 'add' || v === 'remove' || v === 'replace' ? t.success(v) : t.failure(u, c);
});

/**
 * A PATCH path (RFC 7644 §3.5.2 `PATH = attrPath / valuePath [subAttr]`), e.g. `name.givenName`
 * or `emails[type eq "work"].value`. Only its shape is checked here; the provider validates it
 * (400 invalidPath / noTarget → BAD_REQUEST).
 */
const PatchPath = decoder<string>('PATCH path', (u, c) =>
  typeof u === 'string' && u.trim() !== '' && !hasControlCharacters(u) ? t.success(u) : t.failure(u, c),
);

export const PatchOperation = strictObject(
  { op: PatchOpName },
  { path: PatchPath, value: t.unknown },
  {
    name: 'PATCH operation (op, path, value)',
    check: (v, input) => {
      const problems: Array<{ path: string[]; message: string }> = [];
      const hasValue = input['value'] !== undefined;
      if (v.op === 'remove' && v.path === undefined) problems.push({ path: ['path'], message: "a 'remove' operation needs a path (RFC 7644 §3.5.2.2)" });
      if ((v.op === 'add' || v.op === 'replace') && !hasValue) problems.push({ path: ['value'], message: `an '${v.op}' operation needs a value` });
      if ((v.op === 'add' || v.op === 'replace') && v.path === undefined && hasValue && !isRecord(input['value'])) {
        problems.push({ path: ['value'], message: `an '${v.op}' operation without a path needs an object value (RFC 7644 §3.5.2.1)` });
      }
      return problems;
    },
  },
);
export type PatchOperation = t.TypeOf<typeof PatchOperation>;

/** A filter comparison value for `upsert` matching. */
const MatchValue = decoder<CompValue>('string, number or boolean', (u, c) =>
  typeof u === 'string' || typeof u === 'boolean' || (typeof u === 'number' && Number.isFinite(u)) ? t.success(u) : t.failure(u, c),
);

const Match = strictObject({ attribute: AttributePath, value: MatchValue }, {}, { name: 'match (attribute, value)' });

const ResourceBody = decoder<JsonObject>('resource (JSON object)', (u, c) => (isRecord(u) ? t.success(u) : t.failure(u, c)));

const CreateRecord = strictObject(
  { op: t.literal('create'), resourceType: ResourceTypeRef, resource: ResourceBody },
  {},
  { name: 'create record (op, resourceType, resource)' },
);
const ReplaceRecord = strictObject(
  { op: t.literal('replace'), resourceType: ResourceTypeRef, id: ResourceId, resource: ResourceBody },
  { version: Version },
  { name: 'replace record (op, resourceType, id, resource, version)' },
);
const PatchRecord = strictObject(
  { op: t.literal('patch'), resourceType: ResourceTypeRef, id: ResourceId, operations: listOf(PatchOperation, 'list of PATCH operations (at least one)', 1) },
  { version: Version },
  { name: 'patch record (op, resourceType, id, operations, version)' },
);
const DeleteRecord = strictObject(
  { op: t.literal('delete'), resourceType: ResourceTypeRef, id: ResourceId },
  { version: Version },
  { name: 'delete record (op, resourceType, id, version)' },
);
const UpsertRecord = strictObject(
  { op: t.literal('upsert'), resourceType: ResourceTypeRef, match: Match, resource: ResourceBody },
  {},
  { name: 'upsert record (op, resourceType, match, resource)' },
);

const RECORDS = { create: CreateRecord, replace: ReplaceRecord, patch: PatchRecord, delete: DeleteRecord, upsert: UpsertRecord } as const;
type RecordOp = keyof typeof RECORDS;
export type ExportRecord = { [K in RecordOp]: t.TypeOf<(typeof RECORDS)[K]> }[RecordOp];

/** Decodes one record (discriminated on `op`) or throws BAD_REQUEST. */
export const decodeRecord: (input: unknown, context?: ProtocolErrorContext) => ExportRecord = recordDecoder<ExportRecord>(RECORDS);
