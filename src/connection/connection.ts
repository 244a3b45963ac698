/**
 * A hub URL → an endless Observable<ConnectionStatus>: dial, register, stay up, and when the
 * connection ends for any reason, report why and dial again after a backoff delay. The
 * `registered` status carries the live session. Reconnecting is subscribing again.
 *
 *   dial:      c--r-------#          c---#         c--r----…
 *   statuses:  c--r-------d(15s)----c---x(30s)----c--r----…      (d disconnected, x rejected)
 */
import { defer, map, type Observable, type SchedulerLike } from 'rxjs';
import { backoff } from '../operators/index.js';
import { ConnectionError, RegistrationRejectedError } from './errors.js';
import { dial as realDial, type DialEvent, type DialOptions } from './dial.js';
import type { ConnectionStatus } from './status.js';

export interface ReconnectOptions {
  /** ms, floor and base of the exponential backoff (config `reconnectDelay`). */
  readonly reconnectDelay: number;
  /** ms, cap of the backoff (config `maxReconnectDelay`). */
  readonly maxReconnectDelay: number;
  /** ms a registration must last before the backoff starts again from `reconnectDelay`. */
  readonly reconnectResetAfter: number;
  /** [0,1) source for jitter; injectable for deterministic tests. */
  readonly random?: () => number;
  readonly scheduler?: SchedulerLike;
}

export type Dialer = (url: string) => Observable<DialEvent>;

/** Status stream for one URL with an injectable dialer (marble tests use cold observables). */
export function connectionWith(url: string, dialer: Dialer, options: ReconnectOptions): Observable<ConnectionStatus> {
  return defer(() => {
    let attempt = 0;
    return defer(() => {
      attempt += 1;
      return dialer(url);
    }).pipe(
      map((event): ConnectionStatus =>
        event.type === 'connecting'
          ? { state: 'connecting', url, attempt }
          : { state: 'registered', url, sessionId: event.session.sessionId, session: event.session },
      ),
      backoff<ConnectionStatus>({
        initialDelay: options.reconnectDelay,
        maxDelay: options.maxReconnectDelay,
        resetAfter: options.reconnectResetAfter,
        isStable: (s) => s.state === 'registered',
        ...(options.random ? { random: options.random } : {}),
        ...(options.scheduler ? { scheduler: options.scheduler } : {}),
        notice: (error, retry) => toRetryStatus(url, error, retry.delayMs, retry.attempt),
      }),
    );
  });
}

/** The production connection: real sockets. */
export function connection(url: string, options: DialOptions & ReconnectOptions): Observable<ConnectionStatus> {
  return connectionWith(url, (u) => realDial(u, options), options);
}

function toRetryStatus(url: string, error: unknown, retryInMs: number, attempt: number): ConnectionStatus {
  if (error instanceof RegistrationRejectedError) {
    return { state: 'rejected', url, code: error.code, reason: error.message, retryInMs, attempt };
  }
  if (error instanceof ConnectionError) {
    return { state: 'disconnected', url, code: error.code, reason: error.message, retryInMs, attempt };
  }
  const reason = error instanceof Error ? error.message : String(error);
  return { state: 'disconnected', url, code: 'INTERNAL', reason, retryInMs, attempt };
}
