/**
 * `/ServiceProviderConfig` (RFC 7643 §5, RFC 7644 §4): read once per adapter, on first need,
 * and cached for its life, like the resource types. What is used of it:
 * - the RFC 9865 `pagination` capabilities: `search` chooses index or cursor paging
 *   (`pagination.ts`);
 * - `sort.supported` and `etag.supported`: conditions the caller asks for that the provider
 *   cannot honour are refused before any request that would ignore them (`requireSort`,
 *   `requireEtags`). RFC 7644 makes both optional (§3.4.2.3, §3.14), and a provider that does
 *   not implement them ignores `sortBy` and `If-Match` — an unsorted result would pass for a
 *   sorted one, an unconditional write for a conditional one.
 *
 * A provider without the endpoint (404 / 501), or with one that does not decode, pages by index
 * and states no sort or etag support — that answer is cached too; `sortBy` and `If-Match` are
 * then sent as asked, since nothing says they are unsupported. Only an explicit `supported:
 * false` refuses. Any other failure (unreachable, refused credentials) fails the operation and
 * is not cached: the next one asks again. `test` reads the endpoint fresh on its own and does
 * not use this cache.
 */
import { catchError, defer, map, of, tap, throwError, type Observable } from 'rxjs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { OperationContext } from '../../adapter-kit/adapter.js';
import type { ScimClient } from './client.js';
import { ServiceProviderConfig } from './codecs.js';
import { choosePaging, type PagingMethod } from './pagination.js';

/** What the adapter uses of a provider's ServiceProviderConfig. */
export interface ProviderCapabilities {
  /** The paging method of `search`. */
  readonly paging: PagingMethod;
  /** `sort.supported`; `undefined` when the provider does not say. */
  readonly sort: boolean | undefined;
  /** `etag.supported`; `undefined` when the provider does not say. */
  readonly etag: boolean | undefined;
}

const UNSTATED: ProviderCapabilities = { paging: 'index', sort: undefined, etag: undefined };

export class ServiceProviderInfo {
  #capabilities: ProviderCapabilities | undefined;

  constructor(private readonly client: ScimClient) {}

  /** The provider's capabilities (one request, the first time). */
  capabilities(ctx: OperationContext): Observable<ProviderCapabilities> {
    return defer(() => {
      const cached = this.#capabilities;
      if (cached !== undefined) return of(cached);
      const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
      return this.client.request({ method: 'GET', path: '/ServiceProviderConfig' }, context).pipe(
        map((res): ProviderCapabilities => {
          const spc = ServiceProviderConfig.decode(res.body);
          if (isLeft(spc)) {
            ctx.log.warn('SCIM ServiceProviderConfig does not decode; paging by index, sort and etag support unknown');
            return UNSTATED;
          }
          return { paging: choosePaging(spc.right.pagination), sort: spc.right.sort?.supported, etag: spc.right.etag?.supported };
        }),
        catchError((err: unknown) => {
          if (err instanceof ProtocolError && (err.code === 'NOT_FOUND' || err.code === 'OPERATION_NOT_ALLOWED')) {
            ctx.log.debug('no /ServiceProviderConfig; paging by index, sort and etag support unknown');
            return of(UNSTATED);
          }
          return throwError(() => err);
        }),
        tap((caps) => {
          this.#capabilities = caps;
          ctx.log.debug({ ...caps }, 'SCIM provider capabilities');
        }),
      );
    });
  }

  /** The paging method `search` uses with this provider. */
  paging(ctx: OperationContext): Observable<PagingMethod> {
    return this.capabilities(ctx).pipe(map((c) => c.paging));
  }
}

/**
 * Refuses (BAD_REQUEST, not retryable) a `sortBy` the provider says it cannot honour (RFC 7644
 * §3.4.2.3: sorting is optional; `sort.supported: false`).
 */
export function requireSort(caps: ProviderCapabilities, sortBy: string, context: ProtocolErrorContext = {}): void {
  if (caps.sort !== false) return;
  throw new ProtocolError(
    'BAD_REQUEST',
    `sortBy ${JSON.stringify(sortBy)} refused: the provider's ServiceProviderConfig says sort.supported: false, so it would return the resources unsorted (RFC 7644 §3.4.2.3); search without sortBy`,
    { ...context, details: { ...context.details, unsupported: 'sort' } },
    { retryable: false },
  );
}

/**
 * Refuses (BAD_REQUEST, not retryable) a conditional write (`version` → `If-Match`) to a
 * provider that says it has no ETags (RFC 7644 §3.14; `etag.supported: false`): it would ignore
 * `If-Match` and apply the write unconditionally.
 */
export function requireEtags(caps: ProviderCapabilities, version: string, context: ProtocolErrorContext = {}): void {
  if (caps.etag !== false) return;
  throw new ProtocolError(
    'BAD_REQUEST',
    `version ${JSON.stringify(version)} refused: the provider's ServiceProviderConfig says etag.supported: false, so it would ignore If-Match and write unconditionally (RFC 7644 §3.14); nothing was written — send the record without version to write it unconditionally`,
    { ...context, details: { ...context.details, unsupported: 'etag' } },
    { retryable: false },
  );
}
