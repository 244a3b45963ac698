/**
 * `search` over the in-memory directory as a `PageSource`: each `pull()` walks the tree only as
 * far as one page of matches (plus one read ahead, to know whether it was the last), so a
 * stream never holds more than a page, whatever the directory's size. Same params as the ldap
 * adapter (`SearchParams`), same entry shape, same truncation rule: a `sizeLimit` that cuts the
 * result short ends the stream with `truncated: true`, never silently.
 *
 * A pull runs in slices of a few milliseconds (slices.ts): a page that matches rarely may walk
 * much of the directory, and the event loop, other requests and the request's deadline get
 * their turn in between; unsubscribing stops the walk between two slices. Each match is
 * serialised once, here, and a page is one `JsonBatch` of their JSON texts
 * (`itemFormat: 'json-batch'`): the pipeline slices it into chunk frames without another look.
 */
import { defer, from, Observable, of, switchMap, throwError } from 'rxjs';
import type { BatchPageSource, OperationContext, Page } from '../../adapter-kit/adapter.js';
import { JsonBatch } from '../../adapter-kit/json-batch.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import { decodeOrThrow, requireWithin, SearchParams } from '../directory/params.js';
import type { Directory, DirNode, EntryNode, Scope } from './directory.js';
import { selection, toEntry, type Selection } from './entry.js';
import { toProtocolError } from './errors.js';
import { compileFilter } from './filter.js';
import { parseDn, type Rdn } from '../directory/dn.js';
import { inSlices, type SlicedWork } from './slices.js';

type Entry = EntryNode;

/** Deleted entries lose their attributes (see `Directory.delete`). */
const isLive = (node: DirNode): boolean => node.attributes !== undefined;

export interface SearchPlan {
  readonly base: string;
  readonly baseRdns: Rdn[];
  readonly scope: Scope;
  readonly matches: (node: Entry) => boolean;
  readonly selection: Selection;
  /** 0 = no limit. */
  readonly sizeLimit: number;
  readonly pageSize: number;
}

/** Decodes and checks search params: BAD_REQUEST (shape, filter), OPERATION_NOT_ALLOWED (base outside baseDN). */
export function planSearch(params: unknown, config: { baseDN: string; pageSize: number }, context: ProtocolErrorContext = {}): SearchPlan {
  const p = decodeOrThrow(SearchParams, params, 'search parameters', context);
  const base = p.base ?? config.baseDN;
  requireWithin(base, config.baseDN, 'search base', context);
  return {
    base,
    // `\XX` escapes of bytes that are not UTF-8 name those bytes (names.ts).
    baseRdns: parseDn(base),
    scope: p.scope ?? 'sub',
    matches: compileFilter(p.filter ?? '(objectClass=*)', context),
    selection: selection(p.attributes),
    sizeLimit: p.sizeLimit ?? 0,
    // The config's pageSize caps what a caller may ask for.
    pageSize: Math.min(p.pageSize ?? config.pageSize, config.pageSize),
  };
}

/** `SearchCursor.step` ran out of time before the page was complete. */
const PAUSED = Symbol('paused');

/**
 * Matches of a lazy walk, read one page at a time, in steps that stop when their time is up.
 * The one match read ahead is checked again when its page is taken: the directory may have
 * changed in between (a write from `export`).
 */
export class SearchCursor {
  private ahead: Entry | undefined;
  private done = false;
  /** The page being collected (`nextPage` starts one, `step` fills it). */
  private page: { want: number; nodes: Entry[]; readAhead: boolean } | undefined;

  constructor(
    private readonly walk: Iterator<Entry>,
    private readonly matches: (node: Entry) => boolean,
  ) {}

  /** The next match, `undefined` at the end of the walk, or `PAUSED` when `until` passed first. */
  private next(until: number): Entry | undefined | typeof PAUSED {
    for (let looked = 1; ; looked++) {
      const r = this.walk.next();
      if (r.done === true) {
        this.done = true;
        return undefined;
      }
      if (this.matches(r.value)) return r.value;
      if ((looked & 31) === 0 && performance.now() >= until) return PAUSED;
    }
  }

  /** Starts the next page of up to `n` matching nodes (one per pull); `step` collects it. */
  nextPage(n: number): void {
    const nodes: Entry[] = [];
    const held = this.ahead;
    this.ahead = undefined;
    if (held !== undefined && isLive(held) && this.matches(held)) nodes.push(held);
    this.page = { want: n, nodes, readAhead: false };
  }

  /**
   * Walks on until the page is complete or `performance.now()` reaches `until`: the page's
   * nodes and whether more follow, or `undefined` when there is more to do (call again).
   */
  step(until: number): { nodes: Entry[]; more: boolean } | undefined {
    const page = this.page;
    if (page === undefined) throw new Error('SearchCursor.step without a page (call nextPage first)');
    while (page.nodes.length < page.want && !this.done) {
      const node = this.next(until);
      if (node === PAUSED) return undefined;
      if (node !== undefined) page.nodes.push(node);
    }
    if (!this.done && !page.readAhead) {
      const node = this.next(until);
      if (node === PAUSED) return undefined;
      this.ahead = node;
      page.readAhead = true;
    }
    this.page = undefined;
    return { nodes: page.nodes, more: this.ahead !== undefined };
  }

  close(): void {
    this.done = true;
    this.ahead = undefined;
    this.page = undefined;
    this.walk.return?.();
  }
}

export interface SearchDeps {
  readonly directory: () => Promise<Directory>;
  readonly config: { readonly baseDN: string; readonly pageSize: number };
}

/** One pull: collect a page of matches, then serialise them, in slices. */
class PageWork implements SlicedWork<{ texts: string[]; more: boolean }> {
  private found: { nodes: Entry[]; more: boolean } | undefined;
  private readonly texts: string[] = [];
  private serialised = 0;

  constructor(
    private readonly cursor: SearchCursor,
    private readonly selection: Selection,
  ) {}

  step(until: number): boolean {
    this.found ??= this.cursor.step(until);
    const found = this.found;
    if (found === undefined) return false;
    while (this.serialised < found.nodes.length) {
      const node = found.nodes[this.serialised++] as Entry;
      // Deleted by a write between two slices: gone, as if the walk had not reached it yet.
      if (isLive(node)) this.texts.push(JSON.stringify(toEntry(node, this.selection)));
      if (performance.now() >= until) return this.serialised === found.nodes.length;
    }
    return true;
  }

  result(): { texts: string[]; more: boolean } {
    return { texts: this.texts, more: this.found?.more ?? false };
  }
}

/** A page of a search: its entries as one batch of JSON texts. */
type BatchPage = Omit<Page<never>, 'items'> & { readonly items: JsonBatch };

export function searchSource(deps: SearchDeps, params: unknown, ctx: OperationContext): BatchPageSource {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  let plan: SearchPlan | ProtocolError;
  try {
    plan = planSearch(params, deps.config, context);
  } catch (err) {
    plan = toProtocolError(err, context);
  }
  let cursor: SearchCursor | undefined;
  let delivered = 0;
  let finished = false;
  let closed = false;

  const finish = (page: BatchPage): BatchPage => {
    finished = true;
    cursor?.close();
    return page;
  };

  const failed = (err: unknown, p: SearchPlan): ProtocolError => {
    finish({ items: JsonBatch.EMPTY, last: true });
    return toProtocolError(err, context, { operation: `search ${p.base}` });
  };

  const nextPage = (dir: Directory, p: SearchPlan): Observable<BatchPage> => {
    if (closed) throw new ProtocolError('CANCELLED', 'search was closed', context);
    if (cursor === undefined) {
      const base = dir.lookup(p.baseRdns);
      // RFC 4511 §4.5.1: a base that does not exist is noSuchObject.
      if (base === undefined) throw new ProtocolError('NOT_FOUND', `search base ${JSON.stringify(p.base)} does not exist`, context);
      cursor = new SearchCursor(dir.walk(base, p.scope), p.matches);
    }
    const want = p.sizeLimit > 0 ? Math.min(p.pageSize, p.sizeLimit - delivered) : p.pageSize;
    cursor.nextPage(want);
    return new Observable<BatchPage>((subscriber) =>
      inSlices(new PageWork(cursor as SearchCursor, p.selection)).subscribe({
        next: ({ texts, more }) => {
          delivered += texts.length;
          const items = texts.length === 0 ? JsonBatch.EMPTY : JsonBatch.fromTexts(texts);
          if (!more) subscriber.next(finish({ items, last: true }));
          // More matches exist beyond the caller's limit: say so.
          else if (p.sizeLimit > 0 && delivered >= p.sizeLimit) subscriber.next(finish({ items, last: true, truncated: true }));
          else subscriber.next({ items, last: false });
          subscriber.complete();
        },
        error: (err: unknown) => subscriber.error(failed(err, p)),
      }),
    );
  };

  const pull = (): Observable<BatchPage> =>
    defer(() => {
      if (plan instanceof ProtocolError) return throwError(() => plan);
      if (closed) return throwError(() => new ProtocolError('CANCELLED', 'search was closed', context));
      if (finished) return of<BatchPage>({ items: JsonBatch.EMPTY, last: true });
      const p = plan;
      return from(deps.directory()).pipe(
        switchMap((dir) => {
          try {
            return nextPage(dir, p);
          } catch (err) {
            throw failed(err, p);
          }
        }),
      );
    });

  const close = (): void => {
    if (closed) return;
    closed = true;
    cursor?.close();
    cursor = undefined;
  };

  return { pull, close, itemFormat: 'json-batch' };
}
