import {
  asyncScheduler,
  connect,
  endWith,
  ignoreElements,
  startWith,
  switchMap,
  takeUntil,
  tap,
  throwError,
  timeout,
  timer,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';

/** Options of {@link keepAlive}. Durations are milliseconds of `scheduler` time. */
export interface KeepAliveOptions {
  /** ms of inbound silence after which a ping is sent (RFC 6455 §5.5.2). Finite, > 0. */
  interval: number;
  /** ms to wait for any inbound traffic (pong or message) after that ping. Finite, > 0. */
  timeout: number;
  /** Side effect sending the ping, e.g. `() => ws.ping()`. An exception errors the output. */
  sendPing: () => void;
  /** Runs both timers. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** The peer stayed silent for `interval + timeout` ms: the socket is presumed dead. */
export class KeepAliveTimeoutError extends Error {
  override readonly name = 'KeepAliveTimeoutError';
  readonly code = 'KEEPALIVE_TIMEOUT';
  constructor(readonly info: { interval: number; timeout: number; silentForMs: number }) {
    super(
      `no inbound traffic for ${info.silentForMs} ms ` +
        `(ping after ${info.interval} ms of silence, no answer within ${info.timeout} ms)`,
    );
  }
}

function check(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`keepAlive: ${name} must be a finite number > 0, got ${String(value)}`);
  }
}

/**
 * Watches a stream of liveness signals (pongs and inbound messages). After `interval` ms of
 * silence it calls `sendPing()`; if nothing arrives within `timeout` ms after that ping it errors
 * with {@link KeepAliveTimeoutError} (the caller then `terminate()`s the socket — a half-open TCP
 * connection would never deliver a close frame). Any signal restarts the cycle, so worst-case
 * detection is `interval + timeout` after the last signal. One ping per silent period. Completes
 * when the source completes (socket closed); source errors pass through. Never emits.
 *
 * ```
 * interval 3, timeout 2                     p = sendPing() called
 * signals:  -s-----s------
 * pings:    ----p-----p---
 * output:   ------------#       # = KeepAliveTimeoutError at 7 + 3 + 2
 * ```
 */
export function keepAlive(options: KeepAliveOptions): OperatorFunction<unknown, never> {
  const { interval, timeout: deadline, sendPing } = options;
  check('interval', interval);
  check('timeout', deadline);
  if (typeof sendPing !== 'function') throw new TypeError('keepAlive: sendPing must be a function');
  const scheduler = options.scheduler ?? asyncScheduler;

  // Sender: state "quiet since the last signal"; `interval` later, ping once.
  const sender = (signals: Observable<unknown>): Observable<never> =>
    signals.pipe(
      startWith(null),
      switchMap(() => timer(interval, scheduler)),
      tap(() => sendPing()),
      ignoreElements(),
    );

  // Watchdog: a deadline `interval + timeout` after the last signal (or the subscription), i.e.
  // `timeout` after the sender's ping. It also ends the sender when the socket closes or errors.
  const silentForMs = interval + deadline;
  const watchdog = (signals: Observable<unknown>): Observable<never> =>
    signals.pipe(
      timeout({
        each: silentForMs,
        with: () => throwError(() => new KeepAliveTimeoutError({ interval, timeout: deadline, silentForMs })),
        scheduler,
      }),
      ignoreElements(),
    );

  // `takeUntil` subscribes the watchdog first: it completes/errors the output promptly, even while
  // the sender's timer is pending, so no ping is ever sent on a closed socket.
  return (source) =>
    source.pipe(connect((signals) => sender(signals).pipe(takeUntil(watchdog(signals).pipe(endWith(null))))));
}
