import { connect, defer, filter, finalize, map, merge, mergeMap, type Observable, type OperatorFunction } from 'rxjs';

/** Options of {@link boundedMerge}. */
export interface BoundedMergeOptions<T, R> {
  /** Most projected observables running at once. Integer >= 1. */
  concurrent: number;
  /** Most items waiting for a slot beyond `concurrent`, first in first out. Integer >= 0. */
  queue: number;
  /**
   * Runs one item, e.g. handles one request. Called when the item gets a slot. Its error errors
   * the whole output (as in `mergeMap`): turn per-item failures into values (an `error` frame)
   * inside `project`.
   */
  project: (item: T) => Observable<R>;
  /**
   * Answers an item that found the slots and the queue full, at once and without a slot, e.g.
   * `of(busyFrame(item))`. Should be short: rejections are not limited.
   */
  reject: (item: T) => Observable<R>;
}

interface Tagged<T> {
  readonly item: T;
  readonly admitted: boolean;
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`boundedMerge: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}

/**
 * `mergeMap` with a concurrency cap and a bounded queue: at most `concurrent` projections run at
 * once and up to `queue` more items wait; an item arriving when both are full gets `reject(item)`
 * instead. A slot is freed when its projection completes, errors or is unsubscribed. Completes
 * when the source has completed and every projection and rejection has.
 *
 * ```
 * concurrent 1, queue 1, project x => cold('x--x|'), reject x => of(R)
 * source:  -abc------|
 * output:  -a-Rab--b-|      a runs, b waits, c is rejected; b starts when a completes
 * ```
 */
export function boundedMerge<T, R>(options: BoundedMergeOptions<T, R>): OperatorFunction<T, R> {
  const { concurrent, queue, project, reject } = options;
  checkCount('concurrent', concurrent, 1);
  checkCount('queue', queue, 0);
  if (typeof project !== 'function') throw new TypeError('boundedMerge: project must be a function');
  if (typeof reject !== 'function') throw new TypeError('boundedMerge: reject must be a function');

  return (source) =>
    defer(() => {
      let admitted = 0; // running + waiting, per subscription
      const tag = (item: T): Tagged<T> => {
        if (admitted >= concurrent + queue) return { item, admitted: false };
        admitted += 1;
        return { item, admitted: true };
      };
      return source.pipe(
        map(tag),
        connect((tagged) =>
          merge(
            // mergeMap itself holds the waiting items: never more than `queue` of them.
            tagged.pipe(
              filter((t) => t.admitted),
              mergeMap((t) => project(t.item).pipe(finalize(() => (admitted -= 1))), concurrent),
            ),
            tagged.pipe(
              filter((t) => !t.admitted),
              mergeMap((t) => reject(t.item)),
            ),
          ),
        ),
      );
    });
}
