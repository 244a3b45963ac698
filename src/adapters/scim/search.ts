/**
 * `search`: RFC 7644 §3.4.2 query with index-based pagination (§3.4.2.4) exposed as a
 * `PageSource` pulled under credit. Each `pull()` makes exactly one `GET /Endpoint?startIndex=…&count=…`
 * (1-based `startIndex`); nothing is requested before the first pull or after the last page.
 *
 * The last page is known without another request when `startIndex + received - 1 >=
 * totalResults`, or when a page is empty. Providers are not trusted to honour `count`:
 * - a page with more resources than asked is delivered whole (it is already in memory; the
 *   pipeline chunks it to the frame size) and `startIndex` advances by what was received;
 * - a short page is not taken as the end while `totalResults` says more follow;
 * - an empty page before `totalResults` is reached ends the stream marked `truncated`.
 *
 * The caller's `count` caps the total (RFC 7644 `count` is per page; ours is for the stream):
 * the last page asks only for what is left, and the stream is `truncated` when the provider
 * had more. Every page carries the provider's latest `totalResults`.
 *
 * Index-based paging is not a snapshot (RFC 7644 §3.4.2.4): resources added or deleted while a
 * search runs can shift pages. Use a `sortBy` the provider supports for a stable order. A
 * `sortBy` to a provider whose ServiceProviderConfig says `sort.supported: false` is refused
 * (BAD_REQUEST) at the first pull, before any search request: it would be ignored, and an
 * unsorted result must not pass for a sorted one (`service-provider.ts`).
 *
 * Pages are `JsonBatch`es (`itemFormat: 'json-batch'`): each resource's JSON is taken from the
 * response body's bytes as the provider wrote it (compacted), never re-serialised from the
 * parsed body — resource-batch.ts. The body is still parsed and decoded as a ListResponse for
 * `totalResults`, the cursors, and the check that every resource is an object.
 *
 * Cursor paging (RFC 9865) is used instead when the provider's `/ServiceProviderConfig`
 * (read once per adapter, `service-provider.ts`) advertises `pagination.cursor: true` and
 * prefers it (`defaultPaginationMethod: cursor`) or has no index paging (`index: false`); the
 * method is fixed at the first pull. Then the first request is `GET /Endpoint?cursor=&count=…`
 * (an empty cursor starts), each next one sends the previous page's `nextCursor`, and a page
 * without `nextCursor` is the last (`previousCursor` is ignored). The same contract holds:
 * one GET per pull, the `count` cap, `totalResults`, and a provider that does not advance
 * (empty page or unchanged `nextCursor`) ends the stream `truncated` — see `pagination.ts`.
 */
import { concatMap, defer, map, of, throwError, type Observable } from 'rxjs';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { BatchPageSource, OperationContext, Page } from '../../adapter-kit/adapter.js';
import { JsonBatch } from '../../adapter-kit/json-batch.js';
import { decodeBody, ListResponse } from './codecs.js';
import type { ScimDeps } from './deps.js';
import { toProtocolError } from './errors.js';
import { cursorAsk, cursorStep, type CursorState, type PagingMethod } from './pagination.js';
import { requireSort } from './service-provider.js';
import { attributeQuery, decodeOrThrow, SearchParams } from './params.js';
import { batchHead, resourcesBatch } from './resource-batch.js';

/**
 * A page of resources — their JSON as the provider sent it, compacted, in one `JsonBatch`
 * (resource-batch.ts) — with the provider's `totalResults` (for a progress display).
 */
export interface ScimPage extends Omit<Page<never>, 'items'> {
  readonly items: JsonBatch;
  readonly totalResults: number;
}

/** A decoded, checked search. */
export interface SearchPlan {
  readonly resourceType: string;
  /** Query parameters other than `startIndex`/`cursor`/`count`. */
  readonly query: Readonly<Record<string, string>>;
  /** Resources per request. */
  readonly pageSize: number;
  /** Most resources in total; `undefined` = all. */
  readonly limit: number | undefined;
}

/** Decodes and checks search params (BAD_REQUEST). */
export function planSearch(params: unknown, pageSizeCap: number, context: ProtocolErrorContext = {}): SearchPlan {
  const p = decodeOrThrow(SearchParams, params, 'search parameters', context);
  return {
    resourceType: p.resourceType,
    query: {
      ...(p.filter === undefined ? {} : { filter: p.filter }),
      ...attributeQuery(p),
      ...(p.sortBy === undefined ? {} : { sortBy: p.sortBy }),
      ...(p.sortOrder === undefined ? {} : { sortOrder: p.sortOrder }),
    },
    // The config's pageSize caps what a caller may ask for.
    pageSize: Math.min(p.pageSize ?? pageSizeCap, pageSizeCap),
    limit: p.count,
  };
}

export function searchSource(deps: ScimDeps, params: unknown, ctx: OperationContext): BatchPageSource {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  let plan: SearchPlan | ProtocolError;
  try {
    plan = planSearch(params, deps.config.pageSize, context);
  } catch (err) {
    plan = toProtocolError(err, context);
  }

  let method: PagingMethod | undefined;
  let startIndex = 1;
  let delivered = 0;
  let cursorState: CursorState | undefined;
  let finished = false;
  let closed = false;

  /** The page's resources from the body bytes; the decoded list has checked that each is an object. */
  const pageBatch = (res: { readonly bytes: Buffer }, resources: readonly unknown[], endpoint: string): JsonBatch => {
    const { batch, path } = resourcesBatch(res.bytes, resources);
    if (path === 'values') ctx.log.debug({ endpoint, resources: resources.length }, 'SCIM resources serialised from the parsed body (bytes not usable as sent)');
    return batch;
  };

  const nextCursorPage = (p: SearchPlan, endpoint: string): Observable<ScimPage> => {
    const state: CursorState = cursorState ?? { cursor: '', delivered: 0, received: 0, limit: p.limit };
    const ask = cursorAsk(state, p.pageSize);
    return deps.client.request({ method: 'GET', path: endpoint, query: { ...p.query, cursor: state.cursor, count: ask } }, context).pipe(
      map((res): ScimPage => {
        const list = decodeBody(ListResponse, res.body, `${endpoint} list response`, context);
        const total = list.totalResults;
        const resources = list.Resources ?? [];
        const step = cursorStep(state, resources, total, list.nextCursor);
        cursorState = step.next;
        delivered = step.next.delivered;
        if (step.stalled !== undefined) ctx.log.warn({ endpoint, reason: step.stalled, received: step.next.received, totalResults: total }, 'SCIM provider did not advance its cursor');
        if (step.last) finished = true;
        const items = batchHead(pageBatch(res, resources, endpoint), step.items.length);
        return { items, last: step.last, ...(step.truncated ? { truncated: true } : {}), totalResults: total, total };
      }),
    );
  };

  const nextIndexPage = (p: SearchPlan, endpoint: string): Observable<ScimPage> => {
    const left = p.limit === undefined ? Infinity : p.limit - delivered;
    const ask = Math.min(p.pageSize, left);
    return deps.client.request({ method: 'GET', path: endpoint, query: { ...p.query, startIndex, count: ask } }, context).pipe(
      map((res): ScimPage => {
        const list = decodeBody(ListResponse, res.body, `${endpoint} list response`, context);
        const received = list.Resources ?? [];
        const total = list.totalResults;
        // Progress is counted from what we asked for, not the provider's `startIndex` echo: a
        // provider that ignores startIndex (always answering from 1) must not loop forever.
        const pageStart = startIndex;
        const kept = Math.min(received.length, left);
        const items = batchHead(pageBatch(res, received, endpoint), kept);
        delivered += kept;
        startIndex = pageStart + received.length;
        const providerHasMore = pageStart + received.length - 1 < total;
        let last: boolean;
        let truncated = false;
        if (kept < received.length || delivered >= (p.limit ?? Infinity)) {
          last = true;
          truncated = kept < received.length || providerHasMore;
        } else if (received.length === 0) {
          last = true;
          // Nothing came although totalResults says there is more: say so, never end silently.
          truncated = providerHasMore;
          if (truncated) ctx.log.warn({ endpoint, startIndex: pageStart, totalResults: total }, 'SCIM provider returned an empty page before totalResults');
        } else {
          last = !providerHasMore;
        }
        if (last) finished = true;
        return { items, last, ...(truncated ? { truncated } : {}), totalResults: total, total };
      }),
    );
  };

  const pull = (): Observable<ScimPage> =>
    defer(() => {
      if (plan instanceof ProtocolError) return throwError(() => plan);
      if (closed) return throwError(() => new ProtocolError('CANCELLED', 'search was closed', context));
      if (finished) return of<ScimPage>({ items: JsonBatch.EMPTY, last: true, totalResults: delivered });
      const p = plan;
      // The first pull reads the provider's capabilities: the paging method, and whether it
      // can honour a sortBy (refused before any search request if not).
      const method$ =
        method === undefined
          ? deps.serviceProvider.capabilities(ctx).pipe(
              map((caps) => {
                if (p.query['sortBy'] !== undefined) requireSort(caps, p.query['sortBy'], context);
                return caps.paging;
              }),
            )
          : of(method);
      return method$.pipe(
        concatMap((m) => {
          method = m;
          return deps.directory.endpoint(p.resourceType, ctx);
        }),
        concatMap((endpoint) => (method === 'cursor' ? nextCursorPage(p, endpoint) : nextIndexPage(p, endpoint))),
      );
    });

  // Neither method holds anything to release on the provider (RFC 9865 has no cursor close;
  // an unused cursor expires after the provider's cursorTimeout): closing only stops further
  // pulls (an in-flight pull is unsubscribed by the pipeline first, which aborts its request).
  const close = (): void => {
    closed = true;
  };

  return { pull, close, itemFormat: 'json-batch' };
}
