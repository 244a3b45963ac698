import {
  asyncScheduler,
  mergeMap,
  takeUntil,
  throwError,
  timer,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
} from 'rxjs';

/** Options of {@link deadline}. */
export interface DeadlineOptions {
  /** ms from subscription after which a still running stream fails. Finite, >= 0. */
  ms: number;
  /** The error it fails with, created when the deadline passes, e.g. a `TimeoutError` with a code. */
  error: () => Error;
  /** Runs the timer. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * Fails the whole stream (not each value: see `timeout({ each })` for that) with `error()` when
 * it is still running `ms` after subscription, and unsubscribes the source (which abandons the
 * upstream operation). A source that completes or errors first cancels the timer.
 *
 * ```
 * ms 5
 * source:  -a-b-c-d-|      -a-|
 * output:  -a-b-#          -a-|      # = error() at exactly 5 ms
 * ```
 */
export function deadline<T>(options: DeadlineOptions): MonoTypeOperatorFunction<T> {
  const { ms, error } = options;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`deadline: ms must be a finite number >= 0, got ${String(ms)}`);
  }
  if (typeof error !== 'function') throw new TypeError('deadline: error must be a function');
  const scheduler = options.scheduler ?? asyncScheduler;
  // takeUntil subscribes the timer before the source, so a source that is synchronous completes
  // first, and an error of its notifier errors the output and unsubscribes the source.
  return (source) => source.pipe(takeUntil(timer(ms, scheduler).pipe(mergeMap(() => throwError(error)))));
}
