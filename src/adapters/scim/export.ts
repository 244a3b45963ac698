/**
 * `export`: the SCIM record writer (create / replace / patch / delete / upsert, see records.ts)
 * for the shared export loop (`../export-loop.ts`): one record after the other, one
 * `ExportResult` per record in input order. A record that fails — bad shape, unknown resource
 * type, a condition the provider cannot honour, refused by the provider, provider unreachable —
 * gets a failed result and the next record is written (docs/adapters.md rule 4).
 *
 * Conditions are honoured or refused, never dropped: a record with a `version` is sent with
 * `If-Match`, unless the provider's ServiceProviderConfig says `etag.supported: false` — then
 * it is refused (BAD_REQUEST) before any write, since the provider would ignore `If-Match`.
 *
 * Success data is `{id, version?}` (`version` from `meta.version` or the `ETag` header, RFC
 * 7644 §3.14); an upsert adds `action: 'created' | 'replaced'`.
 *
 * Only PUT and DELETE (and the upsert's lookup) are retried on 429/503: a POST or PATCH that
 * timed out may have been applied (retry.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { concatMap, EMPTY, map, type Observable } from 'rxjs';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { ExportResult, OperationContext } from '../../adapter-kit/adapter.js';
import { errorContext, exportLoop, type RecordWriter } from '../../adapter-kit/export-loop.js';
import { etagOf, type ScimResponse } from './client.js';
import { decodeBody, ListResponse, PATCH_OP_SCHEMA, Resource, WriteResponse } from './codecs.js';
import type { ScimDeps } from './deps.js';
import { toProtocolError } from './errors.js';
import { eqFilter } from './filter.js';
import { resourcePath } from './get.js';
import { decodeRecord, type ExportRecord } from './records.js';
import { requireEtags } from './service-provider.js';

export interface WriteData {
  readonly id?: string;
  readonly version?: string;
  readonly action?: 'created' | 'replaced';
}

/** Id from the `Location` header (RFC 7644 §3.3: the URI of the created resource). */
function idFromLocation(headers: IncomingHttpHeaders): string | undefined {
  const loc = headers.location;
  if (typeof loc !== 'string') return undefined;
  const last = loc.replace(/\/+$/, '').split('/').pop();
  if (last === undefined || last === '') return undefined;
  try {
    return decodeURIComponent(last);
  } catch {
    return undefined;
  }
}

/** `{id, version}` of a write response; `knownId` when the body has none (204, or PUT echo). */
function writeData(res: ScimResponse, what: string, context: ProtocolErrorContext, knownId?: string): WriteData {
  const body = res.body === undefined ? {} : decodeBody(WriteResponse, res.body, what, context);
  const id = body.id ?? knownId ?? idFromLocation(res.headers);
  const version = body.meta?.version ?? etagOf(res.headers);
  return { ...(id === undefined ? {} : { id }), ...(version === undefined ? {} : { version }) };
}

function perform(deps: ScimDeps, record: ExportRecord, index: number, ctx: OperationContext, context: ProtocolErrorContext): Observable<WriteData> {
  const { client } = deps;
  return deps.directory.endpoint(record.resourceType, ctx).pipe(
    concatMap((endpoint): Observable<WriteData> => {
      switch (record.op) {
        case 'create':
          return client
            .request({ method: 'POST', path: endpoint, body: record.resource }, context)
            .pipe(map((res) => withId(writeData(res, `${endpoint} create response`, context), ctx, index)));
        case 'replace':
          return client
            .request({ method: 'PUT', path: resourcePath(endpoint, record.id), body: record.resource, ...(record.version === undefined ? {} : { ifMatch: record.version }) }, context)
            .pipe(map((res) => writeData(res, `${endpoint} replace response`, context, record.id)));
        case 'patch':
          return client
            .request(
              {
                method: 'PATCH',
                path: resourcePath(endpoint, record.id),
                body: { schemas: [PATCH_OP_SCHEMA], Operations: record.operations },
                ...(record.version === undefined ? {} : { ifMatch: record.version }),
              },
              context,
            )
            .pipe(map((res) => writeData(res, `${endpoint} patch response`, context, record.id)));
        case 'delete':
          return client
            .request({ method: 'DELETE', path: resourcePath(endpoint, record.id), ...(record.version === undefined ? {} : { ifMatch: record.version }) }, context)
            .pipe(map(() => ({ id: record.id })));
        case 'upsert': {
          const filter = eqFilter(record.match.attribute, record.match.value);
          // Two hits prove ambiguity; `attributes=id` keeps the lookup small (id is "returned: always").
          return client.request({ method: 'GET', path: endpoint, query: { filter, startIndex: 1, count: 2, attributes: 'id' } }, context).pipe(
            concatMap((res) => {
              const list = decodeBody(ListResponse, res.body, `${endpoint} list response`, context);
              const hits = (list.Resources ?? []).map((r) => decodeBody(Resource, r, `${endpoint} resource`, context));
              const hit = hits[0];
              if (hits.length > 1 || list.totalResults > 1) {
                throw new ProtocolError('CONSTRAINT_VIOLATION', `upsert: ${list.totalResults} ${endpoint} resources match ${filter}; expected at most one`, context);
              }
              if (hit === undefined) {
                return client
                  .request({ method: 'POST', path: endpoint, body: record.resource }, context)
                  .pipe(map((r): WriteData => ({ ...withId(writeData(r, `${endpoint} create response`, context), ctx, index), action: 'created' })));
              }
              return client
                .request({ method: 'PUT', path: resourcePath(endpoint, hit.id), body: record.resource }, context)
                .pipe(map((r): WriteData => ({ ...writeData(r, `${endpoint} replace response`, context, hit.id), action: 'replaced' })));
            }),
          );
        }
      }
    }),
  );
}

/** A create the provider accepted but without a recognisable id is still a success. */
function withId(data: WriteData, ctx: OperationContext, index: number): WriteData {
  if (data.id === undefined) ctx.log.warn({ index }, 'SCIM create succeeded but the response names no id');
  return data;
}

/** The `version` (→ `If-Match`) a record asks for, if any. */
export function versionOf(record: ExportRecord): string | undefined {
  return record.op === 'replace' || record.op === 'patch' || record.op === 'delete' ? record.version : undefined;
}

/**
 * The SCIM record writer. No scope check: every record addresses one resource type of the
 * configured base URL (one path segment, `params.ts`). A record with a `version` is checked
 * against the provider's `etag.supported` before its write (`requireEtags`).
 */
export function scimWriter(deps: ScimDeps): RecordWriter<ExportRecord> {
  return {
    decode: (input, context) => decodeRecord(input, context),
    checkScope: () => undefined,
    checkConditions: (record, ctx, context) => {
      const version = versionOf(record);
      return version === undefined ? EMPTY : deps.serviceProvider.capabilities(ctx).pipe(map((caps) => requireEtags(caps, version, context)));
    },
    write: (record, index, ctx) => perform(deps, record, index, ctx, errorContext(ctx)),
    toProtocolError: (err, context, index) =>
      toProtocolError(err, context, { ...(index === undefined ? {} : { operation: `export record ${index}` }), secrets: deps.client.secrets() }),
  };
}

export function exportRecords(deps: ScimDeps, records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
  return exportLoop(records$, scimWriter(deps), ctx);
}
