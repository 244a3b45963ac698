/**
 * What the hub's callers send to a `jsonl` source, as io-ts codecs: `get` and `search`
 * parameters and `export` records. Decoded with the adapter kit's `decodeOrThrow` and
 * `recordDecoder`, so a mistake is one BAD_REQUEST listing every problem, never a crash.
 *
 * - get    `{ "key": "u42" }`
 * - search `{ "filter": { "dept": "sales", "active": true } }`  (every given attribute equal;
 *          a list-valued attribute matches when it contains the value; no filter: every record)
 * - export `{ "op": "upsert", "key": "u42", "attributes": { "name": "Ada" } }`
 *          `{ "op": "delete", "key": "u42" }`
 */
import { decodeOrThrow, NonEmptyString, recordDecoder, strictObject, t, type ProtocolErrorContext } from 'datasync-agent/adapter-kit';

const GetParams = strictObject({ key: NonEmptyString }, {}, { name: 'get parameters { key }' });

/** A value a filter compares with. */
const Scalar = t.union([t.string, t.number, t.boolean, t.null], 'string, number, boolean or null');

const SearchParams = strictObject({}, { filter: t.record(t.string, Scalar, 'mapping of attribute to value') }, { name: 'search parameters { filter? }' });

/** Attribute → the value it must equal. */
export type Filter = Readonly<Record<string, string | number | boolean | null>>;

/** Decodes `get` parameters; throws BAD_REQUEST listing the problems. */
export function getParams(params: unknown, context: ProtocolErrorContext): { readonly key: string } {
  return decodeOrThrow(GetParams, params, 'get parameters', context);
}

/** Decodes `search` parameters; throws BAD_REQUEST listing the problems. */
export function searchParams(params: unknown, context: ProtocolErrorContext): { readonly filter?: Filter } {
  return decodeOrThrow(SearchParams, params, 'search parameters', context);
}

const Attributes = t.record(t.string, t.unknown, 'mapping of attribute to value');

const UpsertRecord = strictObject({ op: t.literal('upsert'), key: NonEmptyString }, { attributes: Attributes }, { name: 'upsert record { op, key, attributes? }' });
const DeleteRecord = strictObject({ op: t.literal('delete'), key: NonEmptyString }, {}, { name: 'delete record { op, key }' });

/** An export record as decoded. */
export type ExportRecord =
  | { readonly op: 'upsert'; readonly key: string; readonly attributes?: Readonly<Record<string, unknown>> }
  | { readonly op: 'delete'; readonly key: string };

/** Decodes one export record by its `op`; throws BAD_REQUEST listing the problems. */
export const decodeExportRecord: (input: unknown, context?: ProtocolErrorContext) => ExportRecord = recordDecoder<ExportRecord>({ upsert: UpsertRecord, delete: DeleteRecord });

/** Does a record match the filter? */
export function matches(attributes: Readonly<Record<string, unknown>>, filter: Filter | undefined): boolean {
  if (filter === undefined) return true;
  return Object.entries(filter).every(([name, wanted]) => {
    const value = attributes[name];
    return Array.isArray(value) ? value.includes(wanted) : value === wanted;
  });
}
