/**
 * `export`: write records (create / replace / patch / delete / upsert, see records.ts) one
 * after the other, one `ExportResult` per record in input order. A record that fails — bad
 * shape, unknown resource type, refused by the provider, provider unreachable — gets a failed
 * result and the next record is written (docs/adapters.md rule 4).
 *
 * Success data is `{id, version?}` (`version` from `meta.version` or the `ETag` header, RFC
 * 7644 §3.14); an upsert adds `action: 'created' | 'replaced'`.
 *
 * Only PUT and DELETE (and the upsert's lookup) are retried on 429/503: a POST or PATCH that
 * timed out may have been applied (retry.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { catchError, concatMap, defer, map, of, type Observable } from 'rxjs';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { ExportResult, OperationContext } from '../adapter.js';
import { etagOf, type ScimResponse } from './client.js';
import { decodeBody, ListResponse, PATCH_OP_SCHEMA, Resource, WriteResponse } from './codecs.js';
import type { ScimDeps } from './deps.js';
import { toProtocolError } from './errors.js';
import { eqFilter } from './filter.js';
import { resourcePath } from './get.js';
import { decodeRecord, type ExportRecord } from './records.js';

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

function writeOne(deps: ScimDeps, input: unknown, index: number, ctx: OperationContext): Observable<ExportResult> {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  return defer(() => perform(deps, decodeRecord(input, context), index, ctx, context)).pipe(
    map((data): ExportResult => ({ index, ok: true, data })),
    catchError((err: unknown) => {
      const e = toProtocolError(err, context, { operation: `export record ${index}`, secrets: deps.client.secrets() });
      ctx.log.debug({ index, code: e.code, reason: e.message }, 'SCIM export record failed');
      return of<ExportResult>({ index, ok: false, code: e.code, message: e.message, retryable: e.retryable });
    }),
  );
}

export function exportRecords(deps: ScimDeps, records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
  // Sequential: record n+1 is written only after record n's result (order = input order).
  return defer(() => records$.pipe(concatMap((record, index) => writeOne(deps, record, index, ctx))));
}
