import {
  asyncScheduler,
  filter,
  take,
  throwError,
  throwIfEmpty,
  timeout,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';

/** Options of {@link firstWithin}. */
export interface FirstWithinOptions<T, S extends T> {
  /** The awaited value, e.g. `(f): f is Welcome => f.type === 'welcome'`. */
  predicate: (value: T) => value is S;
  /** ms from subscription until `onTimeout()` is thrown. Finite, >= 0. */
  timeoutMs: number;
  /** Error thrown when `timeoutMs` passes first, e.g. a `RegistrationTimeoutError`. */
  onTimeout: () => Error;
  /**
   * Error thrown when the source completes (socket closed) before a match.
   * Default: `Error('closed before a matching value arrived')`.
   */
  onComplete?: () => Error;
  /** Runs the timeout. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * Emits the first value matching `predicate` and completes; errors with `onTimeout()` if none
 * arrives within `timeoutMs`, with `onComplete()` if the source completes first. Non-matching
 * values are dropped; source errors pass through. Used to await `welcome` after `hello`.
 *
 * ```
 * timeoutMs 4, predicate v => v === 'w'
 * source:  -x-w-      -x-|      -x----
 * output:  ---(w|)    ---C      ----T      C = onComplete(), T = onTimeout()
 * ```
 */
export function firstWithin<T, S extends T>(options: FirstWithinOptions<T, S>): OperatorFunction<T, S> {
  const { predicate, timeoutMs, onTimeout } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`firstWithin: timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`);
  }
  const onComplete = options.onComplete ?? (() => new Error('closed before a matching value arrived'));
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    source.pipe(
      filter(predicate),
      take(1),
      timeout({ first: timeoutMs, with: () => throwError(onTimeout), scheduler }),
      throwIfEmpty(onComplete),
    );
}
