/**
 * `get`: one resource by id (RFC 7644 §3.4.1), `GET /Endpoint/{id}` with the id
 * percent-encoded as one path segment. 404 → NOT_FOUND (errors.ts).
 */
import { concatMap, defer, map, type Observable } from 'rxjs';
import type { ProtocolErrorContext } from '../../protocol/errors.js';
import type { OperationContext } from '../../adapter-kit/adapter.js';
import { decodeBody, Resource } from './codecs.js';
import type { ScimDeps } from './deps.js';
import { attributeQuery, decodeOrThrow, GetParams } from './params.js';

/** `/Users` + id → `/Users/<percent-encoded id>`. */
export function resourcePath(endpoint: string, id: string): string {
  return `${endpoint}/${encodeURIComponent(id)}`;
}

export function getResource(deps: ScimDeps, params: unknown, ctx: OperationContext): Observable<Resource> {
  return defer(() => {
    const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
    const p = decodeOrThrow(GetParams, params, 'get parameters', context);
    return deps.directory.endpoint(p.resourceType, ctx).pipe(
      concatMap((endpoint) =>
        deps.client.request({ method: 'GET', path: resourcePath(endpoint, p.id), query: attributeQuery(p) }, context).pipe(
          map((res) => decodeBody(Resource, res.body, `${endpoint} resource`, context)),
        ),
      ),
    );
  });
}
