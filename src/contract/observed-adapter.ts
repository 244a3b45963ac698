/**
 * The adapter as the contract suite sees it: `observeAdapter` wraps what the definition's
 * `create` built and passes every call through unchanged, recording what the agent does to each
 * search's `PageSource` — every `pull()` subscribed, each page it yielded (with the upstream's
 * request count before and after), every `close()` — so the checks can await those events
 * instead of sleeping.
 *
 * One deliberate interference, armed only by the cancel and disconnect checks (`holdPages`):
 * the page of the second and later pulls of a new search is held back (the pull is subscribed
 * and the upstream asked; only its delivery waits), so the stream is guaranteed to be mid-page
 * when the cancel or the disconnect arrives, however fast the upstream is.
 */
import { Subject, concatMap, defer, finalize, from, map, tap, type Observable } from 'rxjs';
import { isBatchSource, type DataSourceAdapter, type OperationContext, type SearchSource } from '../adapter-kit/adapter.js';

/** What happened to one search's page source, as the agent drove it. */
export interface ObservedSearch {
  readonly id: number;
  readonly dataSource: string;
  /** `pull()` subscriptions so far. */
  pulls: number;
  /** Pulls subscribed after the first `close()` (the pipeline must never do that). */
  pullsAfterClose: number;
  /** Pulls subscribed and not yet ended (emitted and unsubscribed, failed, or cancelled). */
  pullsOpen: number;
  /** Pages the adapter yielded, and how many of them were `last`. */
  pages: number;
  lastPages: number;
  /** The largest growth of `upstreamRequests()` during one pull: what one page costs upstream. */
  pageCost: number;
  /** `close()` calls so far. */
  closes: number;
  /** `upstreamRequests()` when `close()` was first called. */
  upstreamAtClose: number | undefined;
}

export interface SearchObserver {
  /** Every search of every observed adapter, in the order they were created. */
  readonly searches: readonly ObservedSearch[];
  /** Emits after every change to any `ObservedSearch`. */
  readonly changed$: Observable<void>;
  /** From now on, new searches deliver only their first page until `release()` is called. */
  holdPages(): void;
  /** Delivers the held pages (of searches still pulling) and stops holding. */
  release(): void;
}

interface Hold {
  readonly released: Promise<void>;
  readonly release: () => void;
}

/** Records searches of the adapters made with `observe`; `upstream` is the fixture's probe. */
export function searchObserver(upstream: () => number): SearchObserver & { observe(adapter: DataSourceAdapter, dataSource: string): DataSourceAdapter } {
  const searches: ObservedSearch[] = [];
  const changed = new Subject<void>();
  let hold: Hold | undefined;
  const changedNow = (): void => changed.next();

  const watch = (source: SearchSource, dataSource: string): SearchSource => {
    const record: ObservedSearch = {
      id: searches.length + 1,
      dataSource,
      pulls: 0,
      pullsAfterClose: 0,
      pullsOpen: 0,
      pages: 0,
      lastPages: 0,
      pageCost: 0,
      closes: 0,
      upstreamAtClose: undefined,
    };
    searches.push(record);
    const heldBy = hold;
    const pull = <P extends { readonly last: boolean }>(inner: () => Observable<P>): Observable<P> =>
      defer(() => {
        const index = record.pulls;
        record.pulls += 1;
        record.pullsOpen += 1;
        if (record.closes > 0) record.pullsAfterClose += 1;
        const before = upstream();
        changedNow();
        const page$ = inner().pipe(
          tap((page) => {
            record.pages += 1;
            if (page.last) record.lastPages += 1;
            record.pageCost = Math.max(record.pageCost, upstream() - before);
            changedNow();
          }),
        );
        const held = heldBy !== undefined && index >= 1 ? page$.pipe(concatMap((page) => from(heldBy.released).pipe(map(() => page)))) : page$;
        return held.pipe(
          finalize(() => {
            record.pullsOpen -= 1;
            changedNow();
          }),
        );
      });
    const close = (innerClose: () => void): void => {
      if (record.closes === 0) record.upstreamAtClose = upstream();
      record.closes += 1;
      changedNow();
      innerClose();
    };
    if (isBatchSource(source)) {
      return { itemFormat: 'json-batch', pull: () => pull(() => source.pull()), close: () => close(() => source.close()) };
    }
    return {
      ...(source.itemFormat === undefined ? {} : { itemFormat: source.itemFormat }),
      pull: () => pull(() => source.pull()),
      close: () => close(() => source.close()),
    };
  };

  const observe = (adapter: DataSourceAdapter, dataSource: string): DataSourceAdapter => {
    // Every method is called on the adapter itself (a class's methods use `this`).
    const passed = (key: 'schema' | 'attributes' | 'resourceTypes' | 'get' | 'export'): object =>
      adapter[key] === undefined ? {} : { [key]: (...args: unknown[]) => (adapter[key] as (...a: unknown[]) => unknown).apply(adapter, args) };
    return {
      type: adapter.type,
      supports: adapter.supports,
      test: (ctx) => adapter.test(ctx),
      close: () => adapter.close(),
      ...passed('schema'),
      ...passed('attributes'),
      ...passed('resourceTypes'),
      ...passed('get'),
      ...passed('export'),
      ...(adapter.search === undefined
        ? {}
        : { search: (params: Record<string, unknown>, ctx: OperationContext): SearchSource => watch((adapter.search as NonNullable<DataSourceAdapter['search']>).call(adapter, params, ctx), dataSource) }),
    };
  };

  return {
    searches,
    changed$: changed.asObservable(),
    observe,
    holdPages() {
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      hold = { released, release };
    },
    release() {
      hold?.release();
      hold = undefined;
    },
  };
}
