import { from, NEVER, Subject, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { creditGate, CreditBufferOverflowError, type CreditGateOptions } from '../src/operators/credit-gate.js';

const N: Record<string, number> = { 1: 1, 2: 2, 3: 3, 9: 9 };
const boom = new Error('boom');

describe('creditGate (marbles)', () => {
  let ts: TestScheduler;
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
  });
  const gate = (credit$: Observable<number>, more: Partial<CreditGateOptions> = {}) =>
    creditGate<string>({ credit$, maxBuffered: 10, ...more });

  it('rejects bad options at pipe time, quoting the value', () => {
    expect(() => creditGate({ credit$: NEVER, maxBuffered: -1 })).toThrow(/maxBuffered .* got -1/);
    expect(() => creditGate({ credit$: NEVER, maxBuffered: Infinity })).toThrow(RangeError);
    expect(() => creditGate({ credit$: NEVER, maxBuffered: 1, initialCredit: 0.5 })).toThrow(/initialCredit .* got 0.5/);
  });

  it('the error carries name and code', () => {
    const e = new CreditBufferOverflowError(3);
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'CreditBufferOverflowError', code: 'INTERNAL', maxBuffered: 3 });
  });

  it('the doc-comment example', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const out = cold('-a-b-c-|').pipe(gate(hot('---------1---2', N), { initialCredit: 1, maxBuffered: 2 }));
      expectObservable(out).toBe('-a-------b---(c|)');
    });
  });

  it('no values: completes at once, with or without credit', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('---|').pipe(gate(NEVER))).toBe('---|');
      expectObservable(cold('---|').pipe(gate(NEVER, { initialCredit: 5 }))).toBe('---|');
    });
  });

  it('nothing is sent without credit', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c').pipe(gate(NEVER)), '^ 1000ms !').toBe('');
      expectObservable(cold('-a-b-c|').pipe(gate(cold('|'))), '^ 1000ms !').toBe(''); // credit$ completed
    });
  });

  it('one value: waits for the credit, then completes', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      expectObservable(cold('-a|').pipe(gate(hot('-----1', N)))).toBe('-----(a|)');
      expectObservable(cold('-a|').pipe(gate(NEVER, { initialCredit: 1 }))).toBe('-a|');
    });
  });

  it('many values: one credit each, FIFO; completion waits until the buffer drained', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const out = cold('-abcd|').pipe(gate(hot('---1--2---9', N)));
      expectObservable(out).toBe('---a--(bc)(d|)');
    });
  });

  it('credit granted before data arrives is used later', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const out = cold('-----a-b-c-d|').pipe(gate(hot('-3', N)));
      expectObservable(out, '^ 100ms !').toBe('-----a-b-c'); // d waits, so does completion
    });
  });

  it('a source error errors at once and drops the waiting values', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const credit$ = hot('-------9', N);
      const out = cold('-a-b-#', undefined, boom).pipe(gate(credit$, { initialCredit: 1 }));
      expectObservable(out).toBe('-a---#', undefined, boom);
      expectSubscriptions(credit$.subscriptions).toBe('^----!');
    });
  });

  it('more than maxBuffered values waiting: CreditBufferOverflowError, source unsubscribed', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const src = cold('-a-b-c-d-e');
      const out = src.pipe(gate(hot('--1', N), { maxBuffered: 2 }));
      // a sent at 2; b, c wait; d is one too many
      expectObservable(out).toBe('--a----#', undefined, new CreditBufferOverflowError(2));
      expectSubscriptions(src.subscriptions).toBe('^------!');
    });
  });

  it('maxBuffered 0: values pass only straight through on credit', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-ab-c').pipe(gate(NEVER, { initialCredit: 2, maxBuffered: 0 }))).toBe(
        '-ab-#',
        undefined,
        new CreditBufferOverflowError(0),
      );
    });
  });

  it('credit$ error errors the output; credit$ completing just stops the grants', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c').pipe(gate(cold('--1-#', N, boom)))).toBe('--a-#', undefined, boom);
      expectObservable(cold('-a-b-c|').pipe(gate(cold('--2|', N))), '^ 100ms !').toBe('--ab');
    });
  });

  it('a credit that is not an integer >= 1 errors with a TypeError quoting it', () => {
    for (const bad of [0, -2, 1.5, NaN]) {
      ts = new TestScheduler((a, e) => expect(a).toEqual(e));
      ts.run(({ cold, expectObservable }) => {
        expectObservable(cold('-a').pipe(gate(cold('--b', { b: bad })))).toBe(
          '--#',
          undefined,
          new TypeError(`creditGate: credit must be an integer >= 1, got ${String(bad)}`),
        );
      });
    }
  });

  it('never-completing source: values flow under credit, the output stays open', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      expectObservable(cold('-a-b-c-d').pipe(gate(hot('9', N))), '^ 100ms !').toBe('-a-b-c-d');
    });
  });

  it('unsubscribe: source and credit$ are unsubscribed', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const src = cold('-a-b-c-d');
      const credit$ = hot('--1----1', N);
      expectObservable(src.pipe(gate(credit$)), '^ 4ms !').toBe('--a');
      expectSubscriptions(src.subscriptions).toBe('^ 4ms !');
      expectSubscriptions(credit$.subscriptions).toBe('^ 4ms !');
    });
  });

  it('credit granted from inside next (the consumer drains synchronously): no overflow, no recursion', () => {
    const credit$ = new Subject<number>();
    const got: number[] = [];
    let completed = false;
    from(Array.from({ length: 50_000 }, (_, i) => i))
      .pipe(creditGate({ credit$, initialCredit: 1, maxBuffered: 0 }))
      .subscribe({
        next: (v) => {
          got.push(v);
          credit$.next(1);
        },
        complete: () => (completed = true),
      });
    expect(got).toHaveLength(50_000);
    expect(completed).toBe(true);
  });

  it('a value pushed from inside next while credit remains is not counted as waiting', () => {
    const src = new Subject<string>();
    const got: string[] = [];
    let failed: unknown;
    src.pipe(creditGate({ credit$: NEVER, initialCredit: 3, maxBuffered: 0 })).subscribe({
      next: (v) => {
        got.push(v);
        if (v === 'a') src.next('b');
      },
      error: (e: unknown) => (failed = e),
    });
    src.next('a');
    src.next('c');
    expect(failed).toBeUndefined();
    expect(got).toEqual(['a', 'b', 'c']);
    src.next('d');
    expect(failed).toEqual(new CreditBufferOverflowError(0));
  });

  it('onStall: once each time values start waiting for credit, however many pile up', () => {
    const stalls: number[] = [];
    ts.run(({ cold, hot, expectObservable }) => {
      const out = cold('-abc-d|').pipe(gate(hot('--------3', N), { initialCredit: 1, onStall: () => stalls.push(ts.now()) }));
      expectObservable(out).toBe('-a------(bcd|)');
    });
    // b starts waiting at 2; c and d join the same stall.
    expect(stalls).toEqual([2]);
  });

  it('onStall: again when a grant does not cover the backlog; never while credit keeps up', () => {
    const stalls: number[] = [];
    ts.run(({ cold, hot, expectObservable }) => {
      const out = cold('-a-b---c|').pipe(gate(hot('-----1---2', N), { onStall: () => stalls.push(ts.now()) }));
      expectObservable(out).toBe('-----a---(bc|)');
      expectObservable(cold('-a-b|').pipe(gate(NEVER, { initialCredit: 5, onStall: () => stalls.push(-1) }))).toBe('-a-b|');
    });
    // a waits at 1; the grant at 5 sends a and leaves b waiting: a new stall.
    expect(stalls).toEqual([1, 5]);
  });
});
