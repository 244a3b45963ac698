/** Retry-After parsing (RFC 9110 §10.2.3) and the bounded retry policy of idempotent requests. */
import { defer, of, throwError, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { ScimResponseError } from '../../../src/adapters/scim/errors.js';
import { DEFAULT_RETRY_POLICY, checkRetryPolicy, isRetryableFailure, parseRetryAfter, retryDelay, retryIdempotent } from '../../../src/adapters/scim/retry.js';

const NOW = Date.parse('2015-10-21T07:28:00Z');

const status = (s: number, headers: Record<string, string> = {}): ScimResponseError => new ScimResponseError('GET', '/Users', s, headers, undefined, '');
const sys = (code: string): Error => Object.assign(new Error(code), { code });

describe('parseRetryAfter', () => {
  it('delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 5 ', NOW)).toBe(5000);
  });

  it('IMF-fixdate, relative to now', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', NOW)).toBe(30_000);
  });

  it('obsolete RFC 850 and asctime dates (asctime is UTC)', () => {
    expect(parseRetryAfter('Wednesday, 21-Oct-15 07:28:10 GMT', NOW)).toBe(10_000);
    expect(parseRetryAfter('Wed Oct 21 07:28:20 2015', NOW)).toBe(20_000);
    expect(parseRetryAfter('Wed Oct  1 07:28:20 2015', Date.parse('2015-10-01T07:28:00Z'))).toBe(20_000);
  });

  it('a date in the past is 0', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', NOW)).toBe(0);
  });

  it('the first of several header values', () => {
    expect(parseRetryAfter(['3', '9'], NOW)).toBe(3000);
  });

  it.each([undefined, '', '-1', '1.5', 'soon', '2015-10-21T07:28:30Z', 'Wed, 21 Oct 2015 07:28:30 PST', 'Wed, 99 Oct 2015 07:28:30 GMT'])('%j → undefined', (v) => {
    expect(parseRetryAfter(v, NOW)).toBeUndefined();
  });
});

describe('retryDelay', () => {
  const policy = DEFAULT_RETRY_POLICY;

  it('retries 429, 502, 503, 504 and connection failures; nothing else', () => {
    for (const s of [429, 502, 503, 504]) expect(isRetryableFailure(status(s))).toBe(true);
    for (const s of [400, 401, 404, 409, 412, 500, 501]) expect(isRetryableFailure(status(s))).toBe(false);
    for (const c of ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET']) expect(isRetryableFailure(sys(c))).toBe(true);
    // A timeout already waited timeoutMs; TLS and unknown errors will not get better.
    for (const c of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'DEPTH_ZERO_SELF_SIGNED_CERT']) expect(isRetryableFailure(sys(c))).toBe(false);
    expect(isRetryableFailure(new Error('x'))).toBe(false);
  });

  it('honours Retry-After up to maxDelayMs', () => {
    expect(retryDelay(status(503, { 'retry-after': '7' }), 1, policy, NOW)).toBe(7000);
    expect(retryDelay(status(429, { 'retry-after': 'Wed, 21 Oct 2015 07:28:30 GMT' }), 2, policy, NOW)).toBe(30_000);
  });

  it('does not wait for a Retry-After beyond maxDelayMs: the failure is reported at once', () => {
    expect(retryDelay(status(503, { 'retry-after': '31' }), 1, policy, NOW)).toBeUndefined();
  });

  it('grows exponentially without Retry-After, capped at maxDelayMs', () => {
    const p = { maxAttempts: 10, maxDelayMs: 3000, baseDelayMs: 500 };
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(status(503), n, p, NOW))).toEqual([500, 1000, 2000, 3000, 3000]);
    expect(retryDelay(sys('ECONNREFUSED'), 1, p, NOW)).toBe(500);
  });

  it('stops after maxAttempts attempts in total', () => {
    expect(retryDelay(status(503), 1, policy, NOW)).toBe(500);
    expect(retryDelay(status(503), 2, policy, NOW)).toBe(1000);
    expect(retryDelay(status(503), 3, policy, NOW)).toBeUndefined();
    expect(retryDelay(status(503), 1, { ...policy, maxAttempts: 1 }, NOW)).toBeUndefined();
  });

  it('checkRetryPolicy refuses bad values, quoting them', () => {
    expect(() => checkRetryPolicy({ ...policy, maxAttempts: 0 })).toThrow(/retry.maxAttempts must be an integer >= 1, got 0/);
    expect(() => checkRetryPolicy({ ...policy, maxDelayMs: -1 })).toThrow(RangeError);
    expect(() => checkRetryPolicy({ ...policy, baseDelayMs: 1.5 })).toThrow(RangeError);
  });
});

describe('retryIdempotent (virtual time)', () => {
  const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

  /** A source that fails with `errors[n]` on attempt n and then succeeds with 'a'. */
  function flaky(errors: unknown[], log: number[], s: TestScheduler): Observable<string> {
    let attempt = 0;
    return defer(() => {
      log.push(s.now());
      const err = errors[attempt++];
      return err === undefined ? of('a') : throwError(() => err);
    });
  }

  it('waits Retry-After, then exponential, then succeeds', () => {
    const s = scheduler();
    s.run(({ expectObservable }) => {
      const log: number[] = [];
      const src = flaky([status(503, { 'retry-after': '2' }), status(502)], log, s).pipe(retryIdempotent({ policy: { maxAttempts: 3, maxDelayMs: 30_000, baseDelayMs: 500 }, scheduler: s }));
      // 2000 ms (Retry-After), then 1000 ms (2nd retry: 500 × 2).
      expectObservable(src).toBe('3000ms (a|)');
      s.flush();
      expect(log).toEqual([0, 2000, 3000]);
    });
  });

  it('gives up after maxAttempts with the last error', () => {
    const s = scheduler();
    s.run(({ expectObservable }) => {
      const last = status(503);
      const src = flaky([status(503), status(503), last, status(503)], [], s).pipe(retryIdempotent({ policy: { maxAttempts: 3, maxDelayMs: 30_000, baseDelayMs: 100 }, scheduler: s }));
      expectObservable(src).toBe('300ms #', undefined, last);
    });
  });

  it('does not retry a non-retryable failure', () => {
    const s = scheduler();
    s.run(({ expectObservable }) => {
      const e = status(404);
      expectObservable(flaky([e], [], s).pipe(retryIdempotent({ policy: DEFAULT_RETRY_POLICY, scheduler: s }))).toBe('#', undefined, e);
    });
  });

  it('unsubscribing during the wait cancels the retry', () => {
    const s = scheduler();
    s.run(({ expectObservable }) => {
      const log: number[] = [];
      const src = flaky([status(503, { 'retry-after': '10' })], log, s).pipe(retryIdempotent({ policy: DEFAULT_RETRY_POLICY, scheduler: s }));
      expectObservable(src, '5000ms !').toBe('');
      s.flush();
      expect(log).toEqual([0]);
    });
  });

  it('reports each retry before its wait', () => {
    const s = scheduler();
    s.run(() => {
      const seen: Array<[number, number]> = [];
      flaky([status(429, { 'retry-after': '1' }), sys('ECONNRESET')], [], s)
        .pipe(retryIdempotent({ policy: DEFAULT_RETRY_POLICY, scheduler: s, onRetry: (_e, n, ms) => seen.push([n, ms]) }))
        .subscribe();
      s.flush();
      expect(seen).toEqual([
        [1, 1000],
        [2, 1000],
      ]);
    });
  });
});
