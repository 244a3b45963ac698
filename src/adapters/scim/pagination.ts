/**
 * Pure paging decisions of `search` (RFC 7644 §3.4.2.4 index paging, RFC 9865 cursor paging).
 * No I/O here: `search.ts` makes the requests, these functions say what to ask and what a
 * response means.
 */
import type { ServiceProviderConfig } from './codecs.js';

export type PagingMethod = 'index' | 'cursor';

/**
 * The paging method for a provider's RFC 9865 `pagination` capabilities: `cursor` when the
 * provider advertises `cursor: true` **and** either prefers it (`defaultPaginationMethod:
 * cursor`, case-insensitive) or does not offer index paging (`index: false`); else `index`
 * (also when `pagination` is absent: RFC 7644 providers page by index).
 */
export function choosePaging(pagination: ServiceProviderConfig['pagination'] | undefined): PagingMethod {
  if (pagination?.cursor !== true) return 'index';
  if (pagination.index === false) return 'cursor';
  return pagination.defaultPaginationMethod?.toLowerCase() === 'cursor' ? 'cursor' : 'index';
}

/** Where a cursor-paged search stands before a request. */
export interface CursorState {
  /** The cursor to send: `''` for the first page (RFC 9865 §2: an empty `cursor` starts). */
  readonly cursor: string;
  /** Resources delivered so far (after the caller's cap). */
  readonly delivered: number;
  /** Resources received from the provider so far (before the cap). */
  readonly received: number;
  /** The caller's `count` cap; `undefined` = all. */
  readonly limit: number | undefined;
}

/** What one cursor-paged response means. */
export interface CursorStep<T> {
  /** What to deliver (the page, cut to the cap). */
  readonly items: readonly T[];
  readonly last: boolean;
  readonly truncated: boolean;
  /** Why the provider's answer ended the stream early, for a warning; `undefined` otherwise. */
  readonly stalled?: 'empty page with nextCursor' | 'nextCursor unchanged';
  /** The state for the next request (meaningless when `last`). */
  readonly next: CursorState;
}

/** `count` to ask for: the page size, or only what is left under the cap. */
export function cursorAsk(state: CursorState, pageSize: number): number {
  return state.limit === undefined ? pageSize : Math.min(pageSize, Math.max(0, state.limit - state.delivered));
}

/**
 * One cursor-paged response (`Resources`, `totalResults`, `nextCursor`) → what to deliver and
 * whether it was the last page:
 * - no `nextCursor` → the provider's last page (RFC 9865 §2), never truncated;
 * - the cap reached → last; truncated when the page was cut, or the provider had more
 *   (`nextCursor`, or `totalResults` beyond what was received);
 * - an empty page, or a `nextCursor` equal to the cursor sent, while the provider says more
 *   follow → last and truncated (`stalled`): a provider that does not advance must not loop.
 */
export function cursorStep<T>(state: CursorState, resources: readonly T[], totalResults: number, nextCursor: string | undefined): CursorStep<T> {
  const left = state.limit === undefined ? Infinity : Math.max(0, state.limit - state.delivered);
  const items = resources.length > left ? resources.slice(0, left) : resources;
  const delivered = state.delivered + items.length;
  const received = state.received + resources.length;
  const next: CursorState = { cursor: nextCursor ?? state.cursor, delivered, received, limit: state.limit };
  const cut = items.length < resources.length;
  if (cut || (state.limit !== undefined && delivered >= state.limit)) {
    return { items, last: true, truncated: cut || nextCursor !== undefined || received < totalResults, next };
  }
  if (nextCursor === undefined) return { items, last: true, truncated: false, next };
  if (resources.length === 0) return { items, last: true, truncated: true, stalled: 'empty page with nextCursor', next };
  if (nextCursor === state.cursor) return { items, last: true, truncated: true, stalled: 'nextCursor unchanged', next };
  return { items, last: false, truncated: false, next };
}
