/**
 * A `PageSource` from an async iterator: the usual shape of a streaming upstream (a file read
 * line by line, a database cursor, a paginated HTTP API written as an async generator).
 *
 * Each `pull()` takes up to `pageSize` items from the iterator; the page after the iterator is
 * done is `last`. `close()` calls the iterator's `return()` once (so a generator's `finally`
 * runs and its resources are released), whether the stream ended, failed or was cancelled. The
 * pipeline calls `pull()` only while it holds credit: a stalled consumer stops the iterator.
 */
import { defer, from, type Observable } from 'rxjs';
import type { Page, PageSource } from './adapter.js';

export interface AsyncPagesOptions {
  /** Items per page (and so per pull). */
  readonly pageSize: number;
  /** The upstream's count of all matching items, when known; reported in the stream's `end`. */
  readonly total?: number;
}

export function pageSourceFromAsyncIterator<T>(
  source: AsyncIterable<T> | (() => AsyncIterable<T>),
  options: AsyncPagesOptions,
): PageSource<T> {
  if (!Number.isSafeInteger(options.pageSize) || options.pageSize < 1) throw new RangeError(`pageSize: expected a positive integer, got ${options.pageSize}`);
  let iterator: AsyncIterator<T> | undefined;
  let closed = false;
  let done = false;
  const open = (): AsyncIterator<T> => {
    iterator ??= (typeof source === 'function' ? source() : source)[Symbol.asyncIterator]();
    return iterator;
  };
  const extra = options.total === undefined ? {} : { total: options.total };
  const take = async (): Promise<Page<T>> => {
    const it = open();
    const items: T[] = [];
    while (items.length < options.pageSize && !closed) {
      const step = await it.next();
      if (step.done === true) {
        done = true;
        break;
      }
      items.push(step.value);
    }
    return { items, last: done, ...extra };
  };
  return {
    pull: (): Observable<Page<T>> => defer(() => (closed || done ? from([{ items: [], last: true, ...extra }]) : from(take()))),
    close(): void {
      if (closed) return;
      closed = true;
      const it = iterator;
      if (it?.return === undefined) return;
      // The generator's finally runs here; its failure has nobody to report to but the log.
      void Promise.resolve()
        .then(() => it.return?.())
        .catch(() => undefined);
    },
  };
}
