/**
 * `search`: an RFC 2696 paged search exposed as a `PageSource`. Each `pull()` makes
 * at most one page request: ldapts' `searchPaginated` generator asks the server for the next
 * page only when `next()` is called, so a consumer without credit stops the server too.
 *
 * Size limits are never silent:
 * - the caller's `sizeLimit` is enforced here, not sent to the server: ldapts turns a server
 *   "sizeLimitExceeded" into a silent, partial success whenever a sizeLimit was sent, which would
 *   also hide a smaller server-side limit. We ask for `sizeLimit + 1` entries' worth of page and
 *   stop after `sizeLimit`: seeing entry `sizeLimit + 1` is the proof of truncation.
 * - a server-side limit (no sizeLimit sent) makes ldapts throw code 4: the stream ends with an
 *   empty page marked `truncated` (ldapts drops the entries of that last partial page).
 */
import { defer, from, of, throwError, type Observable } from 'rxjs';
import type { SearchResult } from 'ldapts';
import type { OperationContext, Page, PageSource } from '../adapter.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { LdapClientPool, Lease } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { LOSSLESS_ENTRIES } from './entry-decoder.js';
import { entryJson, losslessEntry } from './entry.js';
import { ldapResultCode, toProtocolError } from './errors.js';
import { checkFilter, decodeOrThrow, requireWithin, SearchParams } from './params.js';

export interface SearchDeps {
  readonly pool: LdapClientPool;
  readonly config: LdapDataSourceConfig;
  readonly secrets: readonly string[];
}

/** A decoded, checked search. */
export interface SearchPlan {
  readonly base: string;
  readonly scope: 'base' | 'one' | 'sub';
  readonly filter: string;
  readonly attributes?: string[];
  /** 0 = no limit. */
  readonly sizeLimit: number;
  /** Entries per page asked of the server. */
  readonly pageSize: number;
}

/** Decodes and checks search params (BAD_REQUEST / OPERATION_NOT_ALLOWED). */
export function planSearch(params: unknown, config: LdapDataSourceConfig, context: ProtocolErrorContext = {}): SearchPlan {
  const p = decodeOrThrow(SearchParams, params, 'search parameters', context);
  const base = p.base ?? config.baseDN;
  requireWithin(base, config.baseDN, 'search base', context);
  const filter = checkFilter(p.filter ?? '(objectClass=*)', context);
  const sizeLimit = p.sizeLimit ?? 0;
  // The config's pageSize caps what a caller may ask for; one extra entry proves truncation.
  let pageSize = Math.min(p.pageSize ?? config.pageSize, config.pageSize);
  if (sizeLimit > 0) pageSize = Math.min(pageSize, sizeLimit + 1);
  return { base, scope: p.scope ?? 'sub', filter, ...(p.attributes === undefined ? {} : { attributes: p.attributes }), sizeLimit, pageSize };
}

type Step = { kind: 'page'; result: SearchResult } | { kind: 'done' } | { kind: 'sizeLimit' };

/** `planSearch`, a failure kept as the value that every pull then fails with. */
export function planOrError(params: unknown, config: LdapDataSourceConfig, context: ProtocolErrorContext): SearchPlan | ProtocolError {
  try {
    return planSearch(params, config, context);
  } catch (err) {
    return toProtocolError(err, context);
  }
}

/**
 * A paged search run in this thread. Its items are the entries' JSON texts (`itemFormat:
 * 'json'`, see `entryJson`): serialised once, here, whichever thread runs it.
 */
export interface PagedSearch extends PageSource<string> {
  /** Settles once the stream's connection is closed (after the last page, a failure or `close()`). */
  released(): Promise<void>;
}

export function searchSource(deps: SearchDeps, params: unknown, ctx: OperationContext): PagedSearch {
  return pagedSearch(deps, planOrError(params, deps.config, { requestId: ctx.requestId, dataSource: ctx.dataSource }), ctx);
}

/** The paged search of a plan (or the planning failure every pull reports). */
export function pagedSearch(deps: SearchDeps, plan: SearchPlan | ProtocolError, ctx: OperationContext): PagedSearch {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  let lease: Lease | undefined;
  let it: AsyncGenerator<SearchResult> | undefined;
  let url: string | undefined;
  /** A page read ahead by the short-page check (only on servers that send short pages early). */
  let readAhead: SearchResult | undefined;
  let delivered = 0;
  let finished = false;
  let closed = false;
  let releasing: Promise<void> = Promise.resolve();

  const release = (): void => {
    // Closing the connection is the only way to stop the server's cursor: ldapts has no Abandon.
    const generator = it;
    it = undefined;
    if (generator !== undefined) void generator.return(undefined).catch(() => undefined);
    const l = lease;
    lease = undefined;
    if (l !== undefined) releasing = l.release();
  };

  const finish = (page: Page<string>): Page<string> => {
    finished = true;
    release();
    return page;
  };

  const open = async (p: SearchPlan): Promise<AsyncGenerator<SearchResult>> => {
    if (it !== undefined) return it;
    lease = deps.pool.lease();
    const c = await lease.connection();
    if (closed) throw new ProtocolError('CANCELLED', 'search was closed', context);
    url = c.url;
    it = c.client.searchPaginated(p.base, {
      scope: p.scope,
      filter: p.filter,
      paged: { pageSize: p.pageSize },
      ...(p.attributes === undefined ? {} : { attributes: p.attributes }),
      // Entries as bytes (the pool's clients decode with entry-decoder.ts), written to JSON below.
      explicitBufferAttributes: LOSSLESS_ENTRIES,
    });
    return it;
  };

  const step = async (generator: AsyncGenerator<SearchResult>): Promise<Step> => {
    try {
      const r = await generator.next();
      return r.done === true ? { kind: 'done' } : { kind: 'page', result: r.value };
    } catch (err) {
      // A server-side size limit: ldapts throws because we sent no sizeLimit of our own.
      if (ldapResultCode(err) === 4) return { kind: 'sizeLimit' };
      throw err;
    }
  };

  const nextPage = async (p: SearchPlan): Promise<Page<string>> => {
    const generator = await open(p);
    let result = readAhead;
    readAhead = undefined;
    if (result === undefined) {
      const s = await step(generator);
      if (s.kind === 'done') return finish({ items: [], last: true });
      if (s.kind === 'sizeLimit') return finish({ items: [], last: true, truncated: true });
      result = s.result;
    }
    if (result.searchReferences.length > 0) ctx.log.debug({ references: result.searchReferences.length }, 'LDAP search continuation references not followed');
    let items = result.searchEntries.map((e) => entryJson(losslessEntry(e)));
    if (p.sizeLimit > 0 && delivered + items.length > p.sizeLimit) {
      items = items.slice(0, p.sizeLimit - delivered);
      delivered += items.length;
      return finish({ items, last: true, truncated: true });
    }
    delivered += items.length;
    if (result.searchEntries.length < p.pageSize && !closed) {
      // A short page is the last one on every server we know: then `next()` ends the generator
      // without a request. If a server sends short pages early, we hold one page read ahead.
      const s = await step(generator);
      if (s.kind === 'done') return finish({ items, last: true });
      if (s.kind === 'sizeLimit') return finish({ items, last: true, truncated: true });
      readAhead = s.result;
    }
    return { items, last: false };
  };

  const pull = (): Observable<Page<string>> =>
    defer(() => {
      if (plan instanceof ProtocolError) return throwError(() => plan);
      if (closed) return throwError(() => new ProtocolError('CANCELLED', 'search was closed', context));
      if (finished) return of<Page<string>>({ items: [], last: true });
      const p = plan;
      return from(
        nextPage(p).catch((err: unknown) => {
          finished = true;
          release();
          throw toProtocolError(err, { ...context, ...(url === undefined ? {} : { url }) }, { operation: `search ${p.base}`, secrets: deps.secrets });
        }),
      );
    });

  const close = (): void => {
    if (closed) return;
    closed = true;
    release();
  };

  return { pull, close, released: () => releasing, itemFormat: 'json' };
}
