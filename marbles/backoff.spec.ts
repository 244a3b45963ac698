import { defer, EMPTY, NEVER, of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { backoff, backoffDelay, type BackoffOptions } from '../src/operators/backoff.js';

const boom = new Error('boom');

describe('backoffDelay', () => {
  const o = { initialDelay: 1000, maxDelay: 30_000, multiplier: 2 };

  it('grows the jitter ceiling and caps it at maxDelay', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, o, () => 0.999_999_9))).toEqual([
      2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('never goes below initialDelay', () => {
    expect([0, 5, 50].map((n) => backoffDelay(n, o, () => 0))).toEqual([1000, 1000, 1000]);
  });

  it('draws the delay from the injected random, rounded', () => {
    expect(backoffDelay(2, o, () => 0.5)).toBe(1000 + 0.5 * 7000);
    expect(backoffDelay(0, { ...o, initialDelay: 3 }, () => 0.5)).toBe(5); // round(3 + 0.5 * 3)
  });

  it('is maxDelay when initialDelay >= maxDelay', () => {
    expect(backoffDelay(0, { ...o, initialDelay: 5000, maxDelay: 5000 }, () => 0.7)).toBe(5000);
    expect(backoffDelay(3, { ...o, initialDelay: 9000, maxDelay: 5000 }, () => 0.7)).toBe(5000);
  });

  it('clamps a broken random into [floor, ceiling]', () => {
    expect(backoffDelay(0, o, () => NaN)).toBe(1000);
    expect(backoffDelay(0, o, () => 7)).toBe(2000);
    expect(backoffDelay(0, o, () => -1)).toBe(1000);
  });

  it('survives huge attempt numbers (multiplier overflow)', () => {
    expect(backoffDelay(10_000, o, () => 0.5)).toBe(15_500);
  });

  it('rejects negative or NaN input with a RangeError quoting the value', () => {
    expect(() => backoffDelay(-1, o, Math.random)).toThrow(/attempt .* got -1/);
    expect(() => backoffDelay(0, { ...o, initialDelay: NaN }, Math.random)).toThrow(RangeError);
    expect(() => backoffDelay(0, { ...o, maxDelay: -5 }, Math.random)).toThrow(/maxDelay .* got -5/);
    expect(() => backoffDelay(0, { ...o, multiplier: 0.5 }, Math.random)).toThrow(/multiplier .* got 0.5/);
  });
});

describe('backoff (marbles)', () => {
  let ts: TestScheduler;
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
  });

  /** Delays 10 → 20 → 40 → 40 … with random () => ~1; notice values are the delays. */
  const opts = (more: Partial<BackoffOptions<string>> = {}): BackoffOptions<string> => ({
    initialDelay: 10,
    maxDelay: 40,
    resetAfter: 100,
    random: () => 0.999_999,
    scheduler: ts,
    ...more,
  });
  const noticeDelay = (_e: unknown, r: { attempt: number; delayMs: number }): string =>
    `${r.attempt}:${r.delayMs}`;

  it('rejects bad options at pipe time', () => {
    expect(() => backoff({ ...opts(), resetAfter: -1 })).toThrow(/resetAfter .* got -1/);
    expect(() => backoff({ ...opts(), initialDelay: NaN })).toThrow(/got NaN/);
  });

  it('no values: an empty source completes the output, no retry', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('---|');
      expectObservable(src.pipe(backoff(opts()))).toBe('---|');
      expectSubscriptions(src.subscriptions).toBe('^--!');
    });
  });

  it('one value then complete passes through', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a|').pipe(backoff(opts()))).toBe('-a|');
    });
  });

  it('many values pass through unchanged', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c-|').pipe(backoff(opts()))).toBe('-a-b-c-|');
    });
  });

  it('delays grow and cap; re-subscribes for ever', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-#');
      expectObservable(src.pipe(backoff(opts())), '^ 200ms !').toBe('');
      // failures at 1, 22, 63, 104, 145, 186 → waits 20, 40, 40, 40, 40 …
      expectSubscriptions(src.subscriptions).toBe([
        '^!',
        '21ms ^!',
        '62ms ^!',
        '103ms ^!',
        '144ms ^!',
        '185ms ^!',
      ]);
    });
  });

  it('notice values appear right before each wait, at the failure frame', () => {
    ts.run(({ cold, expectObservable }) => {
      const src = cold('-a-#');
      const out = src.pipe(backoff(opts({ notice: noticeDelay, resetAfter: Infinity })));
      // a@1, fail@3 (wait 20) → a@24, fail@26 (wait 40) → a@67, fail@69 …
      expectObservable(out, '^ 80ms !').toBe('-a-x 19ms -a-y 39ms -a-z', {
        a: 'a',
        x: '1:20',
        y: '2:40',
        z: '3:40',
      });
    });
  });

  it('jitter uses the injected random', () => {
    ts.run(({ cold, expectObservable }) => {
      const draws = [0, 0.5, 0.25];
      const random = (): number => draws.shift() ?? 0;
      const out = cold('#').pipe(backoff(opts({ random, notice: noticeDelay })));
      // attempt 0: 10 + 0 * 10; attempt 1: 10 + 0.5 * 30 = 25; attempt 2: 10 + 0.25 * 30 = 17.5 → 18
      expectObservable(out, '^ 60ms !').toBe('a 9ms b 24ms c 17ms d', {
        a: '1:10',
        b: '2:25',
        c: '3:18',
        d: '4:10',
      });
    });
  });

  it('resets the attempt counter after a stable period of resetAfter ms', () => {
    ts.run(({ cold, expectObservable }) => {
      // stable value at 0, failure at exactly 100 ms → reset: every wait is the first one (20)
      const out = cold('s 99ms #').pipe(backoff(opts({ notice: noticeDelay })));
      expectObservable(out, '^ 250ms !').toBe('s 99ms a 19ms s 99ms a 19ms s', { s: 's', a: '1:20' });
    });
  });

  it('does not reset when failing before the stable period elapsed', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('s 98ms #').pipe(backoff(opts({ notice: noticeDelay })));
      expectObservable(out, '^ 300ms !').toBe('s 98ms a 19ms s 98ms b 39ms s', {
        s: 's',
        a: '1:20',
        b: '2:40',
      });
    });
  });

  it('measures the stable period from when isStable became true', () => {
    ts.run(({ cold, expectObservable }) => {
      // c(onnecting) is not stable; r(egistered) at 60 → only 40 ms stable before failing at 100
      const isStable = (v: string): boolean => v === 'r';
      const out = cold('c 59ms r 39ms #').pipe(backoff(opts({ isStable, notice: noticeDelay })));
      expectObservable(out, '^ 250ms !').toBe('c 59ms r 39ms a 19ms c 59ms r 39ms b', {
        c: 'c',
        r: 'r',
        a: '1:20',
        b: '2:40',
      });
      // a non-stable value ends the stable period
      const flap = cold('r 99ms (c#)').pipe(backoff(opts({ isStable, notice: noticeDelay })));
      expectObservable(flap, '^ 250ms !').toBe('r 99ms (ca) 16ms r 99ms (cb)', {
        c: 'c',
        r: 'r',
        a: '1:20',
        b: '2:40',
      });
    });
  });

  it('reset counters are per subscription', () => {
    ts.run(({ cold, expectObservable }) => {
      const op = backoff(opts({ notice: noticeDelay }));
      const src = cold('-#');
      expectObservable(src.pipe(op), '^ 30ms !').toBe('-a 19ms -b', { a: '1:20', b: '2:40' });
      expectObservable(src.pipe(op), '10ms ^ 30ms !').toBe('10ms -a 19ms -b', { a: '1:20', b: '2:40' });
    });
  });

  it('error thrown synchronously by the source is retried after the delay, not recursively', () => {
    ts.run(({ expectObservable, flush }) => {
      const at: number[] = [];
      const src = defer(() => {
        at.push(ts.now());
        throw boom;
      });
      expectObservable(src.pipe(backoff(opts({ notice: noticeDelay }))), '^ 80ms !').toBe(
        'a 19ms b 39ms c',
        { a: '1:20', b: '2:40', c: '3:40' },
      );
      flush();
      expect(at).toEqual([0, 20, 60]);
    });
  });

  it('passes the source error to notice', () => {
    ts.run(({ expectObservable }) => {
      const out = throwError(() => boom).pipe(
        backoff<string>(opts({ notice: (e) => (e === boom ? 'same' : 'other') })),
      );
      expectObservable(out, '^ 5ms !').toBe('a', { a: 'same' });
    });
  });

  it('unsubscribing during a wait cancels the timer', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-#');
      expectObservable(src.pipe(backoff(opts())), '^ 10ms !').toBe('');
      // flush() would have run a live timer and re-subscribed at 20
      expectSubscriptions(src.subscriptions).toBe('^!');
    });
  });

  it('a never-completing source is left alone', () => {
    ts.run(({ expectObservable }) => {
      expectObservable(NEVER.pipe(backoff(opts())), '^ 1000ms !').toBe('');
    });
  });

  it('completion after recovery completes the output', () => {
    ts.run(({ expectObservable }) => {
      let n = 0;
      const src = defer(() => (n++ < 2 ? throwError(() => boom) : of('ok')));
      expectObservable(src.pipe(backoff(opts()))).toBe('20ms 40ms (o|)', { o: 'ok' });
      expectObservable(EMPTY.pipe(backoff(opts()))).toBe('|');
    });
  });
});
