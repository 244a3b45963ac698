import {
  asyncScheduler,
  catchError,
  concat,
  defer,
  of,
  retry,
  tap,
  throwError,
  timer,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
} from 'rxjs';

/** Options of {@link backoff}. All durations are milliseconds of `scheduler` time. */
export interface BackoffOptions<T> {
  /** Floor of every delay, ms (config `reconnectDelay`). Finite, >= 0. */
  initialDelay: number;
  /** Cap of every delay, ms (config `maxReconnectDelay`). Finite, >= 0. */
  maxDelay: number;
  /** Growth of the jitter ceiling per attempt. Finite, >= 1. Default `2`. */
  multiplier?: number;
  /**
   * ms. If the source emitted a stable value and then stayed subscribed at least this long before
   * failing, the attempt counter resets to 0. `>= 0`; `Infinity` never resets.
   */
  resetAfter: number;
  /**
   * Marks the start of a stable period (e.g. `status.type === 'registered'`). The period starts
   * when the predicate becomes true and ends at a value for which it is false again.
   * Default `() => true`: any value starts a stable period.
   */
  isStable?: (value: T) => boolean;
  /** Uniform source in [0, 1) for the jitter. Default `Math.random`; inject for marbles. */
  random?: () => number;
  /** Measures stable periods and runs the waits. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /**
   * Optional value emitted downstream right before each wait, e.g. a
   * `disconnected {reason, retryInMs}` status. `attempt` is 1 for the first retry after a
   * (reset) failure; `delayMs` is the wait that follows. Default: nothing is emitted.
   */
  notice?: (error: unknown, retry: { attempt: number; delayMs: number }) => T;
}

/** The numeric part of {@link BackoffOptions}, as taken by {@link backoffDelay}. */
export interface BackoffDelays {
  initialDelay: number;
  maxDelay: number;
  multiplier: number;
}

function check(name: string, value: number, min: number, allowInfinity = false): void {
  if (Number.isNaN(value) || value < min || (!allowInfinity && !Number.isFinite(value))) {
    throw new RangeError(`backoff: ${name} must be a finite number >= ${min}, got ${String(value)}`);
  }
}

/**
 * Delay before retry number `attempt` (0-based), in ms.
 *
 * "Full jitter" above a floor (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015):
 * the ceiling grows as `initialDelay * multiplier^(attempt+1)` up to `maxDelay`, and the delay is
 * drawn uniformly between `initialDelay` and that ceiling. Plain full jitter draws from 0; the
 * floor is there so that a fleet of agents whose hub restarts never hot-loops against it, while
 * the jitter still spreads their reconnects out. Returns `maxDelay` when `initialDelay >= maxDelay`.
 */
export function backoffDelay(attempt: number, o: BackoffDelays, random: () => number): number {
  check('attempt', attempt, 0);
  check('initialDelay', o.initialDelay, 0);
  check('maxDelay', o.maxDelay, 0);
  check('multiplier', o.multiplier, 1);
  const { initialDelay, maxDelay, multiplier } = o;
  if (initialDelay >= maxDelay) return maxDelay;
  const ceiling = Math.min(maxDelay, initialDelay * multiplier ** (attempt + 1));
  const r = random();
  const u = r > 0 ? Math.min(r, 1) : 0; // a broken random (NaN, out of range) must not stop retries
  const delay = Math.round(initialDelay + u * (ceiling - initialDelay));
  return Math.min(maxDelay, Math.max(initialDelay, delay));
}

/**
 * Re-subscribes to the source for ever when it errors, waiting {@link backoffDelay} in between.
 * It never gives up: a daemon keeps reconnecting for years. A source that completes completes
 * the output (nothing is retried); unsubscribing during a wait cancels the timer.
 *
 * ```
 * initialDelay 10, maxDelay 40, random () => 1, notice (e, r) => r.delayMs
 * source (per subscription):  -#
 * output:                     -a 19ms -b 39ms -c 39ms …   a=20 b=40 c=40 (capped)
 * subscriptions:              ^!  19ms ^! 39ms ^! …
 * ```
 */
export function backoff<T>(options: BackoffOptions<T>): MonoTypeOperatorFunction<T> {
  const delays: BackoffDelays = {
    initialDelay: options.initialDelay,
    maxDelay: options.maxDelay,
    multiplier: options.multiplier ?? 2,
  };
  backoffDelay(0, delays, () => 0); // validates eagerly, at pipe time
  check('resetAfter', options.resetAfter, 0, true);
  const { resetAfter, notice } = options;
  const isStable = options.isStable ?? (() => true);
  const random = options.random ?? Math.random;
  const scheduler = options.scheduler ?? asyncScheduler;

  return (source) =>
    defer(() => {
      // Per output subscription; survives the re-subscriptions done by `retry`.
      let failures = 0;
      let stableSince: number | undefined;
      let delayMs = 0;
      return source.pipe(
        tap((value) => {
          if (!isStable(value)) stableSince = undefined;
          else stableSince ??= scheduler.now();
        }),
        catchError((error: unknown) => {
          if (stableSince !== undefined && scheduler.now() - stableSince >= resetAfter) failures = 0;
          stableSince = undefined;
          delayMs = backoffDelay(failures, delays, random);
          failures += 1;
          const rethrow = throwError(() => error);
          return notice ? concat(of(notice(error, { attempt: failures, delayMs })), rethrow) : rethrow;
        }),
        // `retry` re-subscribes from a timer callback: no recursion, no nested subscriptions.
        retry({ delay: () => timer(delayMs, scheduler) }),
      );
    });
}
