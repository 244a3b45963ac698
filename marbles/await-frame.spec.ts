import { NEVER } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { firstWithin } from '../src/operators/await-frame.js';

type Frame = { type: 'hello' } | { type: 'welcome'; id: string } | { type: 'ping' };
type Welcome = Extract<Frame, { type: 'welcome' }>;

const late = new Error('no welcome within 50 ms');
const closed = new Error('closed before welcome');
const frames: Record<string, Frame> = {
  h: { type: 'hello' },
  p: { type: 'ping' },
  w: { type: 'welcome', id: 'w1' },
  v: { type: 'welcome', id: 'w2' },
};

describe('firstWithin (marbles)', () => {
  let ts: TestScheduler;
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
  });
  const welcome = (onComplete?: () => Error) =>
    firstWithin<Frame, Welcome>({
      predicate: (f): f is Welcome => f.type === 'welcome',
      timeoutMs: 50,
      onTimeout: () => late,
      ...(onComplete ? { onComplete } : {}),
      scheduler: ts,
    });

  it('rejects a bad timeout', () => {
    expect(() => firstWithin({ predicate: (v): v is 1 => v === 1, timeoutMs: -1, onTimeout: () => late })).toThrow(
      /timeoutMs .* got -1/,
    );
  });

  it('arrives in time: emits it and completes, unsubscribing the source', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-p 10ms w-v-|', frames);
      expectObservable(src.pipe(welcome())).toBe('-- 10ms (w|)', frames);
      expectSubscriptions(src.subscriptions).toBe('^- 10ms !');
    });
  });

  it('only the first of many matches', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('(vw)', frames).pipe(welcome())).toBe('(v|)', frames);
    });
  });

  it('arrives on the last frame before the deadline', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('49ms w', frames).pipe(welcome())).toBe('49ms (w|)', frames);
    });
  });

  it('arrives late: errors exactly at timeoutMs and unsubscribes', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-p 60ms w', frames);
      expectObservable(src.pipe(welcome())).toBe('50ms #', undefined, late);
      expectSubscriptions(src.subscriptions).toBe('^ 49ms !');
    });
  });

  it('non-matching values do not extend the deadline', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('pppp 40ms p 10ms w', frames).pipe(welcome())).toBe('50ms #', undefined, late);
    });
  });

  it('never-completing source with no values times out', () => {
    ts.run(({ expectObservable }) => {
      expectObservable(NEVER.pipe(welcome())).toBe('50ms #', undefined, late);
    });
  });

  it('source completes before a match: onComplete error', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-p-|', frames).pipe(welcome(() => closed))).toBe('---#', undefined, closed);
    });
  });

  it('empty source: default "closed before" error', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold<Frame>('|').pipe(welcome())).toBe(
        '#',
        undefined,
        new Error('closed before a matching value arrived'),
      );
    });
  });

  it('source errors pass through', () => {
    ts.run(({ cold, expectObservable }) => {
      const err = new Error('socket');
      expectObservable(cold('-p-#', frames, err).pipe(welcome())).toBe('---#', undefined, err);
    });
  });

  it('unsubscribing early cancels the deadline', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-p----', frames);
      expectObservable(src.pipe(welcome()), '^ 20ms !').toBe('');
      expectSubscriptions(src.subscriptions).toBe('^ 20ms !');
    });
  });
});
