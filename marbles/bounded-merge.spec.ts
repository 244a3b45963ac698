import { catchError, NEVER, of, takeUntil, throwError, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { boundedMerge, type BoundedMergeOptions } from '../src/operators/bounded-merge.js';

const boom = new Error('boom');

describe('boundedMerge (marbles)', () => {
  let ts: TestScheduler;
  let projectedAt: Record<string, number>;
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    projectedAt = {};
  });

  /** Projects item `x` to `inners[x]`, recording when project was called; rejects as `R`. */
  const opts = (
    inners: Record<string, Observable<string>>,
    more: Partial<BoundedMergeOptions<string, string>> = {},
  ): BoundedMergeOptions<string, string> => ({
    concurrent: 1,
    queue: 1,
    project: (x) => {
      projectedAt[x] = ts.now();
      return inners[x] ?? throwError(() => new Error(`no inner for ${x}`));
    },
    reject: () => of('R'),
    ...more,
  });

  it('rejects bad options, quoting the value', () => {
    const o = opts({});
    expect(() => boundedMerge({ ...o, concurrent: 0 })).toThrow(/concurrent .* >= 1, got 0/);
    expect(() => boundedMerge({ ...o, concurrent: Infinity })).toThrow(RangeError);
    expect(() => boundedMerge({ ...o, queue: -1 })).toThrow(/queue .* >= 0, got -1/);
    expect(() => boundedMerge({ ...o, queue: 0.5 })).toThrow(/got 0.5/);
    expect(() => boundedMerge({ ...o, reject: undefined as unknown as () => Observable<string> })).toThrow(TypeError);
  });

  it('the doc-comment example: one runs, one waits, the next is rejected', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('a--a|');
      const b = cold('b--b|');
      const c = cold('c--c|');
      expectObservable(cold('-abc------|').pipe(boundedMerge(opts({ a, b, c })))).toBe('-a-Rab--b-|', {
        a: 'a',
        b: 'b',
        R: 'R',
      });
      expectSubscriptions(a.subscriptions).toBe('-^---!');
      expectSubscriptions(b.subscriptions).toBe('-----^---!');
      expectSubscriptions(c.subscriptions).toBe([]);
    });
    // project runs when the item gets its slot, not when it arrives
    expect(projectedAt).toEqual({ a: 1, b: 5 });
  });

  it('no values: completes with the source', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('---|').pipe(boundedMerge(opts({})))).toBe('---|');
    });
  });

  it('one value: its projection, completing after both are done', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a|').pipe(boundedMerge(opts({ a: cold('x--y|') })))).toBe('-x--y|');
    });
  });

  it('many values under the cap run at once', () => {
    ts.run(({ cold, expectObservable }) => {
      const inners = { a: cold('a--|'), b: cold('b--|'), c: cold('c--|') };
      expectObservable(cold('abc|').pipe(boundedMerge(opts(inners, { concurrent: 3, queue: 0 })))).toBe('abc--|');
    });
  });

  it('the cap: never more than `concurrent` running; queued ones start in order as slots free', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('---a|');
      const b = cold('-b|');
      const c = cold('---c|');
      const d = cold('d|');
      const out = cold('(abcd|)').pipe(boundedMerge(opts({ a, b, c, d }, { concurrent: 2, queue: 2 })));
      // a, b start at 0; b ends at 2 → c starts; a ends at 4 → d starts
      expectObservable(out).toBe('-b-adc|');
      expectSubscriptions(a.subscriptions).toBe('^---!');
      expectSubscriptions(b.subscriptions).toBe('^-!');
      expectSubscriptions(c.subscriptions).toBe('--^---!');
      expectSubscriptions(d.subscriptions).toBe('----^!');
    });
  });

  it('queue 0: rejected as soon as every slot is busy, admitted again once one frees', () => {
    ts.run(({ cold, expectObservable }) => {
      const inners = { a: cold('--a|'), b: cold('b|'), c: cold('c|') };
      const out = cold('-ab--c|').pipe(boundedMerge(opts(inners, { queue: 0, reject: (x) => of(`R${x}`) })));
      // a runs 1..4; b at 2 is rejected; c at 5 finds the slot free
      expectObservable(out).toBe('--xa-c|', { x: 'Rb', a: 'a', c: 'c' });
    });
  });

  it('a rejection takes no slot and does not delay the running ones', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('---a|');
      const b = cold('b|');
      const slowReject = cold('---R|');
      const out = cold('abcd|').pipe(boundedMerge(opts({ a, b }, { reject: () => slowReject })));
      // a runs, b waits; c and d rejected (their answers run side by side, outside the cap)
      expectObservable(out).toBe('---abRR|');
      expectSubscriptions(slowReject.subscriptions).toBe(['--^---!', '---^---!']);
    });
  });

  it('a slot is freed when its projection completes', () => {
    ts.run(({ cold, expectObservable }) => {
      const inners = { a: cold('--a|'), b: cold('-b|'), c: cold('-c|') };
      const out = cold('ab--c|').pipe(boundedMerge(opts(inners, { queue: 0 })));
      // b (at 1) is rejected while a runs; a is done at 3 → c (at 4) is admitted
      expectObservable(out).toBe('-Ra--c|', { a: 'a', c: 'c', R: 'R' });
    });
  });

  it('a slot is freed when its projection fails and the failure is turned into a value', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-#', undefined, boom);
      const b = cold('(b|)');
      const project = (x: string): Observable<string> =>
        ({ a, b })[x]!.pipe(catchError((e: Error) => of(`E:${e.message}`)));
      // queue 0: b (at 2) is admitted only because a's slot was freed at 1
      const out = cold('a-b|').pipe(boundedMerge(opts({}, { queue: 0, project })));
      expectObservable(out).toBe('-eb|', { e: 'E:boom', b: 'b' });
      expectSubscriptions(b.subscriptions).toBe('--(^!)');
    });
  });

  it('an uncaught projection error fails the whole output and unsubscribes everything', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const src = hot('ab-c');
      const a = cold('--#', undefined, boom);
      const b = cold('-b------');
      const c = cold('c-------');
      expectObservable(src.pipe(boundedMerge(opts({ a, b, c }, { concurrent: 2 })))).toBe('--#', undefined, boom);
      expectSubscriptions(src.subscriptions).toBe('^-!');
      expectSubscriptions(a.subscriptions).toBe('^-!');
      expectSubscriptions(b.subscriptions).toBe('-^!');
      expectSubscriptions(c.subscriptions).toBe([]);
    });
  });

  it('a slot is freed when its projection is unsubscribed (e.g. a cancelled request)', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const work = cold('-a------a|');
      const cancel = hot('--x');
      const b = cold('(b|)');
      const project = (x: string): Observable<string> => (x === 'a' ? work.pipe(takeUntil(cancel)) : b);
      // queue 0: b (at 3) is admitted only because the cancelled a freed its slot at 2
      const out = cold('a--b|').pipe(boundedMerge(opts({}, { queue: 0, project })));
      expectObservable(out).toBe('-a-b|');
      expectSubscriptions(work.subscriptions).toBe('^-!');
      expectSubscriptions(b.subscriptions).toBe('---(^!)');
    });
  });

  it('a source error errors the output and unsubscribes the running projections', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-a------');
      expectObservable(cold('a--#', undefined, boom).pipe(boundedMerge(opts({ a })))).toBe('-a-#', undefined, boom);
      expectSubscriptions(a.subscriptions).toBe('^--!');
    });
  });

  it('never-completing source: running projections go on, the output stays open', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('a-------').pipe(boundedMerge(opts({ a: cold('-a-a|') })));
      expectObservable(out, '^ 50ms !').toBe('-a-a');
    });
  });

  it('the source completing waits for the running and queued projections', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('(ab|)').pipe(boundedMerge(opts({ a: cold('--a|'), b: cold('--b|') })));
      expectObservable(out).toBe('--a--b|');
    });
  });

  it('unsubscribing the output unsubscribes the running projections; queued ones never start', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('-a------');
      const b = cold('b');
      const src = cold('ab-----');
      expectObservable(src.pipe(boundedMerge(opts({ a, b }))), '^--!').toBe('-a');
      expectSubscriptions(src.subscriptions).toBe('^--!');
      expectSubscriptions(a.subscriptions).toBe('^--!');
      expectSubscriptions(b.subscriptions).toBe([]);
    });
    expect(projectedAt).toEqual({ a: 0 });
  });

  it('counts are per subscription', () => {
    ts.run(({ cold, expectObservable }) => {
      const op = boundedMerge(opts({ a: cold('--a|'), b: cold('--b|'), c: cold('--c|') }, { queue: 0 }));
      expectObservable(cold('ab|').pipe(op)).toBe('-Ra|', { a: 'a', R: 'R' });
      expectObservable(cold('c|').pipe(op)).toBe('--c|');
    });
  });

  it('synchronous projections free their slot at once', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('(abc)|').pipe(boundedMerge(opts({}, { queue: 0, project: (x) => of(x) })));
      expectObservable(out).toBe('(abc)|');
    });
  });

  it('a never-ending projection holds its slot for ever', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('a-b-c').pipe(boundedMerge(opts({}, { project: () => NEVER })));
      expectObservable(out, '^ 50ms !').toBe('----R');
    });
  });
});
