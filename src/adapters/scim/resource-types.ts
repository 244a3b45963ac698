/**
 * Resource types (RFC 7643 §6, RFC 7644 §4 `/ResourceTypes`): the list, cached for the life of
 * the adapter, and the endpoint of a resource type given by name (`User`) or endpoint (`/Users`).
 *
 * An endpoint given as such is used without asking the server. A name is looked up in the
 * cached list; a name the cache does not know makes one fresh read (a resource type may have
 * been added). Providers without `/ResourceTypes` (404/501) still work for the two core types
 * by their RFC 7643 §4 endpoints, `User` → `/Users`, `Group` → `/Groups`.
 */
import { defer, map, of, tap, catchError, throwError, type Observable } from 'rxjs';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { OperationContext } from '../../adapter-kit/adapter.js';
import type { ScimClient } from './client.js';
import { listItems, ResourceType } from './codecs.js';
import { badRequest } from './params.js';

const CORE_ENDPOINTS: Readonly<Record<string, string>> = { user: '/Users', group: '/Groups' };

/** RFC 7643 §6 `endpoint` must be relative to the base URL; we accept one path segment. */
const ENDPOINT = /^\/[A-Za-z0-9._~-]+$/;

export class ResourceTypeDirectory {
  #cache: ResourceType[] | undefined;

  constructor(private readonly client: ScimClient) {}

  /** `/ResourceTypes`, decoded; `fresh` skips the cache. Odd items are skipped (and logged). */
  list(ctx: OperationContext, fresh = false): Observable<ResourceType[]> {
    return defer(() => {
      const cached = this.#cache;
      if (!fresh && cached !== undefined) return of(cached);
      const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
      return this.client.request({ method: 'GET', path: '/ResourceTypes' }, context).pipe(
        map((res) => {
          const { items, skipped } = listItems(ResourceType, res.body, 'ResourceTypes', context);
          if (skipped.length > 0) ctx.log.warn({ skipped: skipped.length }, 'SCIM resource types that do not decode were skipped');
          return items;
        }),
        tap((items) => {
          this.#cache = items;
        }),
      );
    });
  }

  /** The endpoint (`/Users`) of `ref` (`User` or `/Users`). */
  endpoint(ref: string, ctx: OperationContext): Observable<string> {
    const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
    if (ref.startsWith('/')) return of(ref);
    const find = (list: readonly ResourceType[]): string | undefined => {
      const hit = list.find((rt) => rt.name === ref) ?? list.find((rt) => rt.name.toLowerCase() === ref.toLowerCase());
      return hit?.endpoint;
    };
    const checked = (endpoint: string): string => {
      if (!ENDPOINT.test(endpoint)) throw new ProtocolError('UPSTREAM_ERROR', `resource type ${ref}: endpoint ${JSON.stringify(endpoint)} is not a path relative to the base URL`, context);
      return endpoint;
    };
    return defer(() => {
      const cachedHit = this.#cache === undefined ? undefined : find(this.#cache);
      if (cachedHit !== undefined) return of(checked(cachedHit));
      return this.list(ctx, this.#cache !== undefined).pipe(
        map((list) => {
          const hit = find(list);
          if (hit !== undefined) return checked(hit);
          return badRequest(`unknown resource type ${JSON.stringify(ref)}; the server has ${list.map((rt) => rt.name).join(', ') || 'none'}`, context);
        }),
        catchError((err: unknown) => {
          // No discovery endpoint: the RFC 7643 §4 core types are still where the RFC puts them.
          const core = CORE_ENDPOINTS[ref.toLowerCase()];
          if (err instanceof ProtocolError && (err.code === 'NOT_FOUND' || err.code === 'OPERATION_NOT_ALLOWED') && core !== undefined) {
            ctx.log.debug({ resourceType: ref, endpoint: core }, 'no /ResourceTypes; using the RFC 7643 core endpoint');
            return of(core);
          }
          return throwError(() => err);
        }),
      );
    });
  }
}
