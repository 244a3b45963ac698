import { NEVER, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { deadline } from '../src/operators/deadline.js';

class TooSlow extends Error {
  override readonly name = 'TooSlow';
}

describe('deadline (marbles)', () => {
  let ts: TestScheduler;
  let createdAt: number[];
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    createdAt = [];
  });
  const late = new TooSlow('over 5 ms');
  const within = (ms: number) =>
    deadline<string>({
      ms,
      error: () => {
        createdAt.push(ts.now());
        return late;
      },
      scheduler: ts,
    });

  it('rejects bad options, quoting the value', () => {
    expect(() => deadline({ ms: -1, error: () => late })).toThrow(/ms .* got -1/);
    expect(() => deadline({ ms: NaN, error: () => late })).toThrow(RangeError);
    expect(() => deadline({ ms: Infinity, error: () => late })).toThrow(/got Infinity/);
    expect(() => deadline({ ms: 1, error: undefined as unknown as () => Error })).toThrow(TypeError);
  });

  it('the doc-comment example', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c-d-|').pipe(within(5))).toBe('-a-b-#', undefined, late);
      expectObservable(cold('-a-|').pipe(within(5))).toBe('-a-|');
    });
  });

  it('no values: an empty source completes normally, the timer is cancelled', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('---|').pipe(within(5))).toBe('---|');
    });
    expect(createdAt).toEqual([]);
  });

  it('one value and many values pass through when the source ends first', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a|').pipe(within(5))).toBe('-a|');
      expectObservable(cold('abcd|').pipe(within(5))).toBe('abcd|');
    });
    expect(createdAt).toEqual([]);
  });

  it('fires at exactly ms, not before; error() is called then, once; the source is unsubscribed', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('----a-b');
      expectObservable(src.pipe(within(5))).toBe('----a#', undefined, late);
      expectSubscriptions(src.subscriptions).toBe('^----!');
    });
    expect(createdAt).toEqual([5]);
  });

  it('a source completing one frame before the deadline wins; at the deadline frame it loses', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('----|').pipe(within(5))).toBe('----|');
      // the timer was scheduled at subscription, before the source's completion
      expectObservable(cold('-----|').pipe(within(5))).toBe('-----#', undefined, late);
    });
  });

  it('whole stream, not per value: steady values do not extend it', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('abcdefgh').pipe(within(5))).toBe('abcde#', undefined, late);
    });
  });

  it('never-completing source without values fails at ms', () => {
    ts.run(({ expectObservable }) => {
      expectObservable(NEVER.pipe(within(30))).toBe('30ms #', undefined, late);
    });
  });

  it('a source error before the deadline passes through and cancels the timer', () => {
    const err = new Error('ldap');
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-#', undefined, err).pipe(within(5))).toBe('-a-#', undefined, err);
    });
    expect(createdAt).toEqual([]);
  });

  it('unsubscribing before the deadline cancels it', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-a---');
      expectObservable(src.pipe(within(5)), '^--!').toBe('-a');
      expectSubscriptions(src.subscriptions).toBe('^--!');
    });
    expect(createdAt).toEqual([]);
  });

  it('ms 0: a synchronous source still completes, an asynchronous one fails at once', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(of('a', 'b').pipe(within(0))).toBe('(ab|)');
      expectObservable(cold('-a|').pipe(within(0))).toBe('#', undefined, late);
    });
  });

  it('the deadline runs per subscription, from its start', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('--a-----|').pipe(within(5));
      expectObservable(out).toBe('--a--#', undefined, late);
      expectObservable(out, '10ms ^').toBe('10ms --a--#', undefined, late);
    });
    expect(createdAt).toEqual([5, 15]);
  });
});
