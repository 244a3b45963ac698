/**
 * `test`: read `/ServiceProviderConfig` (RFC 7644 §4, RFC 7643 §5) and report what the provider
 * supports, then prove the credentials on a list endpoint.
 *
 * Discovery endpoints may be served without authentication (RFC 7644 §4 leaves it to the
 * provider), so a readable `/ServiceProviderConfig` alone says nothing about the token. The
 * probe — `GET <first resource type's endpoint>?count=0` (RFC 7644 §3.4.2.4: "totalResults"
 * only) — is an authenticated read that returns no resources; a refused credential fails
 * `test` with UPSTREAM_AUTH_FAILED. Every request is made fresh (nothing cached is reused), so
 * the answer reflects the provider now.
 */
import { catchError, concatMap, defer, map, of, throwError, type Observable } from 'rxjs';
import { redactUrl } from '../../support/proxy-url.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { OperationContext } from '../../adapter-kit/adapter.js';
import { decodeBody, ListResponse, ServiceProviderConfig, type ResourceType } from './codecs.js';
import type { ScimDeps } from './deps.js';

export interface TestResult {
  readonly ok: true;
  readonly baseUrl: string;
  /** Round trip of the `/ServiceProviderConfig` request, ms. */
  readonly latencyMs: number;
  readonly patch: boolean;
  readonly bulk: { readonly supported: boolean; readonly maxOperations?: number; readonly maxPayloadSize?: number };
  readonly filter: { readonly supported: boolean; readonly maxResults?: number };
  readonly changePassword: boolean;
  readonly sort: boolean;
  readonly etag: boolean;
  /** `name` of each authentication scheme (`type` when a scheme has no name). */
  readonly authenticationSchemes: string[];
  /** RFC 9865 pagination capabilities, when advertised. */
  readonly pagination?: {
    readonly cursor?: boolean;
    readonly index?: boolean;
    readonly defaultPaginationMethod?: string;
    readonly defaultPageSize?: number;
    readonly maxPageSize?: number;
    readonly cursorTimeout?: number;
  };
  readonly documentationUri?: string;
  /** Names from `/ResourceTypes` (empty when the provider has no such endpoint). */
  readonly resourceTypes: string[];
  /** The authenticated read that proved the credentials. */
  readonly probe?: { readonly endpoint: string; readonly totalResults: number };
}

/** Tolerates a provider without the endpoint (404 / 501). */
function orNothing<T>(fallback: T): (source: Observable<T>) => Observable<T> {
  return catchError((err: unknown) =>
    err instanceof ProtocolError && (err.code === 'NOT_FOUND' || err.code === 'OPERATION_NOT_ALLOWED') ? of(fallback) : throwError(() => err),
  );
}

export function testConnection(deps: ScimDeps, ctx: OperationContext): Observable<TestResult> {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  return defer(() => {
    const started = performance.now();
    return deps.client.request({ method: 'GET', path: '/ServiceProviderConfig' }, context).pipe(
      map((res) => ({ spc: decodeBody(ServiceProviderConfig, res.body, 'ServiceProviderConfig', context), latencyMs: Math.round(performance.now() - started) })),
      concatMap(({ spc, latencyMs }) =>
        deps.directory.list(ctx, true).pipe(
          orNothing<ResourceType[]>([]),
          concatMap((types) => {
            const endpoint = types[0]?.endpoint ?? '/Users';
            const probe$ = deps.client.request({ method: 'GET', path: endpoint, query: { startIndex: 1, count: 0 } }, context).pipe(
              map((res) => ({ endpoint, totalResults: decodeBody(ListResponse, res.body, `${endpoint} list response`, context).totalResults })),
              orNothing<{ endpoint: string; totalResults: number } | undefined>(undefined),
            );
            return probe$.pipe(
              map((probe): TestResult => {
                const result: TestResult = {
                  ok: true,
                  baseUrl: redactUrl(deps.config.baseUrl),
                  latencyMs,
                  patch: spc.patch?.supported ?? false,
                  bulk: {
                    supported: spc.bulk?.supported ?? false,
                    ...(spc.bulk?.maxOperations === undefined ? {} : { maxOperations: spc.bulk.maxOperations }),
                    ...(spc.bulk?.maxPayloadSize === undefined ? {} : { maxPayloadSize: spc.bulk.maxPayloadSize }),
                  },
                  filter: { supported: spc.filter?.supported ?? false, ...(spc.filter?.maxResults === undefined ? {} : { maxResults: spc.filter.maxResults }) },
                  changePassword: spc.changePassword?.supported ?? false,
                  sort: spc.sort?.supported ?? false,
                  etag: spc.etag?.supported ?? false,
                  authenticationSchemes: (spc.authenticationSchemes ?? []).flatMap((s) => {
                    const name = s.name ?? s.type;
                    return name === undefined ? [] : [name];
                  }),
                  ...(spc.pagination === undefined ? {} : { pagination: spc.pagination }),
                  ...(spc.documentationUri === undefined ? {} : { documentationUri: spc.documentationUri }),
                  resourceTypes: types.map((t) => t.name),
                  ...(probe === undefined ? {} : { probe }),
                };
                ctx.log.debug({ latencyMs, probe }, 'SCIM test succeeded');
                return result;
              }),
            );
          }),
        ),
      ),
    );
  });
}
