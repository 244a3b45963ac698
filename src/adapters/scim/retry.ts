/**
 * Bounded retries of idempotent SCIM requests (GET, PUT, DELETE — RFC 9110 §9.2.2), composed
 * as rxjs `retry({ delay })` around pure delay functions, waiting on a scheduler
 * so the policy can be tested in virtual time.
 *
 * What is retried: 429 Too Many Requests, 502/503/504, and failures to reach the server at all
 * (refused, reset, DNS). A `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or HTTP-date)
 * is honoured; a server asking for more than `maxDelayMs` is not waited for — the failure is
 * reported at once (it is retryable, the caller may come back later). Without the header the
 * waits grow exponentially from `baseDelayMs`. Timeouts are not retried: the request already
 * waited `timeoutMs`, and the pipeline's deadline is the caller's to spend.
 */
import { retry, throwError, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { isConnectionFailure, ScimResponseError } from './errors.js';

export interface RetryPolicy {
  /** Attempts in total, first one included. Integer >= 1. Default 3. */
  readonly maxAttempts: number;
  /** Longest wait between attempts, ms; a longer `Retry-After` is not waited for. Default 30 000. */
  readonly maxDelayMs: number;
  /** First wait without `Retry-After`, ms; doubles per retry. Default 500. */
  readonly baseDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, maxDelayMs: 30_000, baseDelayMs: 500 };

/** Methods that may be repeated without changing the outcome (RFC 9110 §9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT` and obsolete RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`. */
const IMF_OR_RFC850 = /^[A-Za-z]{3,9}, \d{2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$/;
/** Obsolete asctime `Sun Nov  6 08:49:37 1994` (always UTC, RFC 9110 §5.6.7). */
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * `Retry-After` in ms from `nowMs`, or `undefined` when absent or malformed. A date in the
 * past is 0.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, nowMs: number): number | undefined {
  const raw = typeof value === 'string' ? value : value?.[0];
  if (raw === undefined) return undefined;
  const s = raw.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  let at: number;
  if (IMF_OR_RFC850.test(s)) at = Date.parse(s);
  else if (ASCTIME.test(s)) at = Date.parse(`${s.replace(/ +/g, ' ')} GMT`);
  else return undefined;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Is this failure worth another attempt of the same (idempotent) request? */
export function isRetryableFailure(err: unknown): boolean {
  if (err instanceof ScimResponseError) return RETRY_STATUSES.has(err.status);
  return isConnectionFailure(err);
}

/**
 * Wait before retry number `retryCount` (1 = the first retry) of a request that failed with
 * `err`, in ms; `undefined` = do not retry.
 */
export function retryDelay(err: unknown, retryCount: number, policy: RetryPolicy, nowMs: number): number | undefined {
  if (retryCount >= policy.maxAttempts || !isRetryableFailure(err)) return undefined;
  if (err instanceof ScimResponseError) {
    const after = parseRetryAfter(err.headers['retry-after'], nowMs);
    if (after !== undefined) return after <= policy.maxDelayMs ? after : undefined;
  }
  return Math.min(policy.baseDelayMs * 2 ** (retryCount - 1), policy.maxDelayMs);
}

/** Checks a policy: integers, attempts >= 1, delays >= 0. */
export function checkRetryPolicy(policy: RetryPolicy): RetryPolicy {
  const check = (name: keyof RetryPolicy, min: number): void => {
    const v = policy[name];
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`SCIM adapter: retry.${name} must be an integer >= ${min}, got ${String(v)}`);
  };
  check('maxAttempts', 1);
  check('maxDelayMs', 0);
  check('baseDelayMs', 0);
  return policy;
}

export interface RetryOptions {
  readonly policy: RetryPolicy;
  readonly scheduler: SchedulerLike;
  /** Called before each wait (for a log line). */
  readonly onRetry?: (err: unknown, retryCount: number, delayMs: number) => void;
}

/**
 * Retries the source per {@link retryDelay}; apply to idempotent requests only.
 *
 * ```
 * source:  --#                       (503, Retry-After: 2)
 *             --#                    (503, no Retry-After: 2× base)
 *                  ----a|
 * result:  ----------------a|
 * ```
 */
export function retryIdempotent<T>(options: RetryOptions): MonoTypeOperatorFunction<T> {
  return retry({
    delay: (err: unknown, retryCount: number) => {
      const ms = retryDelay(err, retryCount, options.policy, options.scheduler.now());
      if (ms === undefined) return throwError(() => err);
      options.onRetry?.(err, retryCount, ms);
      return timer(ms, options.scheduler);
    },
  });
}
