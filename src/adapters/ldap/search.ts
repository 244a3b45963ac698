/**
 * `search`: an RFC 2696 paged search exposed as a `BatchPageSource`: each page is one
 * `JsonBatch`, its entries' JSON written as bytes while the client parses them (the streaming
 * transcoder, `entry-batch.ts`), so the pipeline sends the page without serialising anything.
 * Each `pull()` makes
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
import type { BatchPageSource, OperationContext, Page } from '../../adapter-kit/adapter.js';
import { JsonBatch } from '../../adapter-kit/json-batch.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { LdapClientPool, Lease } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { EntryBatchWriter } from './entry-batch.js';
import { ldapResultCode, toProtocolError } from '../directory/errors.js';
import { checkFilter, decodeOrThrow, requireWithin, SearchParams } from '../directory/params.js';

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

/** A page of a batch source. */
export type BatchPage = Omit<Page<never>, 'items'> & { readonly items: JsonBatch };

/** A page's entries as written by the sink, and what else the server said with them. */
interface PageRead {
  readonly batch: JsonBatch;
  readonly references: number;
}

type Step = { kind: 'page'; page: PageRead } | { kind: 'done' } | { kind: 'sizeLimit' };

/** The first `n` items of a batch (no copy). */
function firstItems(batch: JsonBatch, n: number): JsonBatch {
  if (n >= batch.count) return batch;
  if (n <= 0) return JsonBatch.EMPTY;
  return new JsonBatch(batch.bytes.subarray(0, batch.ends[n - 1]), batch.ends.slice(0, n));
}

/** `planSearch`, a failure kept as the value that every pull then fails with. */
export function planOrError(params: unknown, config: LdapDataSourceConfig, context: ProtocolErrorContext): SearchPlan | ProtocolError {
  try {
    return planSearch(params, config, context);
  } catch (err) {
    return toProtocolError(err, context);
  }
}

/**
 * A paged search run in this thread. Each page is one `JsonBatch` of the entries' JSON
 * (`itemFormat: 'json-batch'`): written once, here, whichever thread runs it.
 */
export interface PagedSearch extends BatchPageSource {
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
  /** The stream's client decodes entries into `sink` (else its pages are ldapts' entries: `takePage`). */
  let entryDecoder = true;
  /** Where the client writes each page's entries as they are parsed. */
  const sink = new EntryBatchWriter();
  /** A page read ahead by the short-page check (only on servers that send short pages early). */
  let readAhead: PageRead | undefined;
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

  const finish = (page: BatchPage): BatchPage => {
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
    entryDecoder = c.entryDecoder;
    it = c.client.searchPaginated(p.base, {
      scope: p.scope,
      filter: p.filter,
      paged: { pageSize: p.pageSize },
      ...(p.attributes === undefined ? {} : { attributes: p.attributes }),
      // Entries written as JSON into `sink` while they are parsed (the pool's clients decode with
      // entry-decoder.ts), or — the decoder off — returned by ldapts and written by `takePage`.
      explicitBufferAttributes: sink.attributes,
    });
    return it;
  };

  const step = async (generator: AsyncGenerator<SearchResult>): Promise<Step> => {
    try {
      const r = await generator.next();
      if (r.done === true) {
        sink.take();
        return { kind: 'done' };
      }
      // The page's entries were written to the sink as they came: take them now, before the next request.
      const batch = sink.takePage(r.value.searchEntries, entryDecoder);
      return { kind: 'page', page: { batch, references: r.value.searchReferences.length } };
    } catch (err) {
      // The entries of a failed page are dropped, as ldapts drops them.
      sink.take();
      // A server-side size limit: ldapts throws because we sent no sizeLimit of our own.
      if (ldapResultCode(err) === 4) return { kind: 'sizeLimit' };
      throw err;
    }
  };

  const nextPage = async (p: SearchPlan): Promise<BatchPage> => {
    const generator = await open(p);
    let read = readAhead;
    readAhead = undefined;
    if (read === undefined) {
      const s = await step(generator);
      if (s.kind === 'done') return finish({ items: JsonBatch.EMPTY, last: true });
      if (s.kind === 'sizeLimit') return finish({ items: JsonBatch.EMPTY, last: true, truncated: true });
      read = s.page;
    }
    if (read.references > 0) ctx.log.debug({ references: read.references }, 'LDAP search continuation references not followed');
    let items = read.batch;
    if (p.sizeLimit > 0 && delivered + items.count > p.sizeLimit) {
      items = firstItems(items, p.sizeLimit - delivered);
      delivered += items.count;
      return finish({ items, last: true, truncated: true });
    }
    delivered += items.count;
    if (read.batch.count < p.pageSize && !closed) {
      // A short page is the last one on every server we know: then `next()` ends the generator
      // without a request. If a server sends short pages early, we hold one page read ahead.
      const s = await step(generator);
      if (s.kind === 'done') return finish({ items, last: true });
      if (s.kind === 'sizeLimit') return finish({ items, last: true, truncated: true });
      readAhead = s.page;
    }
    return { items, last: false };
  };

  const pull = (): Observable<BatchPage> =>
    defer(() => {
      if (plan instanceof ProtocolError) return throwError(() => plan);
      if (closed) return throwError(() => new ProtocolError('CANCELLED', 'search was closed', context));
      if (finished) return of<BatchPage>({ items: JsonBatch.EMPTY, last: true });
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

  return { pull, close, released: () => releasing, itemFormat: 'json-batch' };
}
