/**
 * Which data source (and which request) the code running now works for, carried through
 * asynchronous work by an `AsyncLocalStorage`. The guarded adapter (guarded-adapter.ts) enters
 * the context whenever it hands control to an adapter — calling an operation, subscribing to
 * what it returned, pulling or closing a page source, handing it an export record — so every
 * promise, timer and socket callback the adapter creates there inherits it.
 *
 * Why: a promise rejection nobody handles, or an exception thrown from a timer, surfaces in a
 * process-level handler far from its cause. Node runs those handlers in the async context of the
 * failing promise or callback, so `currentSource()` there names the data source that leaked it
 * (process-guard.ts), where a stack trace would often show only library frames.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Observable } from 'rxjs';

export interface SourceContext {
  /** The configured data-source name. */
  readonly dataSource: string;
  /** The request being served, when the work is for one (not for `close()` of the adapter). */
  readonly requestId?: string;
}

const storage = new AsyncLocalStorage<SourceContext>();

/** The data source the current code (and the async work that led to it) runs for, if any. */
export function currentSource(): SourceContext | undefined {
  return storage.getStore();
}

/** Runs `fn` (and every async operation it starts) in `context`. */
export function runInSource<T>(context: SourceContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * `source$` subscribed inside `context`: the work the subscription starts synchronously, and
 * the async work it schedules, belongs to the data source. (Emissions arrive in whatever context
 * produced them; the adapter created them, so that is its own.)
 */
export function subscribeInSource<T>(context: SourceContext, source$: Observable<T>): Observable<T> {
  return new Observable<T>((subscriber) => storage.run(context, () => source$.subscribe(subscriber)));
}

/**
 * `records$` with every notification delivered inside `context`: what an adapter does on a
 * record (an export's write, its promises) belongs to the data source, although the record
 * came from the hub's socket.
 */
export function deliverInSource<T>(context: SourceContext, records$: Observable<T>): Observable<T> {
  return new Observable<T>((subscriber) =>
    records$.subscribe({
      next: (value) => storage.run(context, () => subscriber.next(value)),
      error: (err: unknown) => storage.run(context, () => subscriber.error(err)),
      complete: () => storage.run(context, () => subscriber.complete()),
    }),
  );
}
