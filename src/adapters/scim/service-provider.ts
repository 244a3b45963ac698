/**
 * `/ServiceProviderConfig` (RFC 7643 §5, RFC 7644 §4) for `search`: read once per adapter and
 * cached for its life, like the resource types. Only the RFC 9865 `pagination` capabilities are
 * used (to choose between index and cursor paging, see `pagination.ts`).
 *
 * A provider without the endpoint (404 / 501), or with one that does not decode, pages by index
 * (RFC 7644) — that answer is cached too. Any other failure (unreachable, refused credentials)
 * fails the search and is not cached: the next search asks again. `test` reads the endpoint
 * fresh on its own and does not use this cache.
 */
import { catchError, defer, map, of, tap, throwError, type Observable } from 'rxjs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { OperationContext } from '../adapter.js';
import type { ScimClient } from './client.js';
import { ServiceProviderConfig } from './codecs.js';
import { choosePaging, type PagingMethod } from './pagination.js';

export class ServiceProviderInfo {
  #paging: PagingMethod | undefined;

  constructor(private readonly client: ScimClient) {}

  /** The paging method `search` uses with this provider (one request, the first time). */
  paging(ctx: OperationContext): Observable<PagingMethod> {
    return defer(() => {
      const cached = this.#paging;
      if (cached !== undefined) return of(cached);
      const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
      return this.client.request({ method: 'GET', path: '/ServiceProviderConfig' }, context).pipe(
        map((res): PagingMethod => {
          const spc = ServiceProviderConfig.decode(res.body);
          if (isLeft(spc)) {
            ctx.log.warn('SCIM ServiceProviderConfig does not decode; paging by index');
            return 'index';
          }
          return choosePaging(spc.right.pagination);
        }),
        catchError((err: unknown) => {
          if (err instanceof ProtocolError && (err.code === 'NOT_FOUND' || err.code === 'OPERATION_NOT_ALLOWED')) {
            ctx.log.debug('no /ServiceProviderConfig; paging by index');
            return of<PagingMethod>('index');
          }
          return throwError(() => err);
        }),
        tap((method) => {
          this.#paging = method;
          ctx.log.debug({ paging: method }, 'SCIM paging method');
        }),
      );
    });
  }
}
