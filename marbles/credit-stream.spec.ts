import { BehaviorSubject, NEVER, Observable, of, Subject, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { chunkBySize } from '../src/operators/chunk.js';
import {
  creditStream,
  type CreditStreamEvent,
  type CreditStreamOptions,
  type PulledPage,
} from '../src/operators/credit-stream.js';

type Ev = CreditStreamEvent<string>;
type Page = PulledPage<string>;

const pg = (items: string, last = false, truncated?: boolean): Page =>
  truncated === undefined ? { items: [...items], last } : { items: [...items], last, truncated };
const ch = (seq: number, items: string): Ev => ({ type: 'chunk', seq, items: [...items] });
const end = (count: number, truncated = false): Ev => ({ type: 'end', count, truncated });
/** One item per chunk: one credit = one item, easy to read in marbles. */
const perItem = (items: readonly string[]): string[][] => items.map((i) => [i]);
const byTwo = (items: readonly string[]): string[][] => chunkBySize(items, { maxItems: 2, maxBytes: 1000 });
/** Credit grants in marbles: `1`..`9` grant that many. */
const N: Record<string, number> = { 1: 1, 2: 2, 3: 3, 5: 5, 9: 9 };
const boom = new Error('boom');

describe('creditStream (marbles)', () => {
  let ts: TestScheduler;
  let pulledAt: number[];
  let closedAt: number[];
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    pulledAt = [];
    closedAt = [];
  });

  /** Serves `pages` in order (an error after the last), recording the frame of each pull() call. */
  const puller =
    (...pages: Observable<Page>[]) =>
    (): Observable<Page> => {
      pulledAt.push(ts.now());
      return pages[pulledAt.length - 1] ?? throwError(() => new Error('pulled too often'));
    };
  const opts = (
    pull: () => Observable<Page>,
    credit$: Observable<number>,
    more: Partial<CreditStreamOptions<string>> = {},
  ): CreditStreamOptions<string> => ({
    pull,
    credit$,
    chunk: perItem,
    close: () => closedAt.push(ts.now()),
    ...more,
  });

  it('rejects bad options at call time', () => {
    const o = opts(() => NEVER, NEVER);
    expect(() => creditStream({ ...o, initialCredit: -1 })).toThrow(/initialCredit .* got -1/);
    expect(() => creditStream({ ...o, initialCredit: 1.5 })).toThrow(RangeError);
    expect(() => creditStream({ ...o, pull: undefined as unknown as () => Observable<Page> })).toThrow(TypeError);
  });

  it('the doc-comment example: sends only under credit, pulls only with credit left', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('-p|', { p: pg('ab') });
      const p2 = cold('-p|', { p: pg('cd', true) });
      const credit$ = hot('-1------2------1', N);
      expectObservable(creditStream(opts(puller(p1, p2), credit$))).toBe('--a-----bc-----(de|)', {
        a: ch(0, 'a'),
        b: ch(1, 'b'),
        c: ch(2, 'c'),
        d: ch(3, 'd'),
        e: end(4),
      });
      expectSubscriptions(p1.subscriptions).toBe('-^!');
      expectSubscriptions(p2.subscriptions).toBe('--------^!');
      expectSubscriptions(credit$.subscriptions).toBe('^ 14ms !');
    });
    expect(pulledAt).toEqual([1, 8]);
    expect(closedAt).toEqual([15]);
  });

  it('no credit: nothing is pulled and nothing is sent, for ever', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('p|', { p: pg('ab', true) });
      expectObservable(creditStream(opts(puller(p1), hot('-'))), '^ 1000ms !').toBe('');
      expectSubscriptions(p1.subscriptions).toBe([]);
    });
    expect(pulledAt).toEqual([]);
    expect(closedAt).toEqual([1001]);
  });

  it('no values: an empty last page ends with count 0 — pulled only once credit arrives', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('-p|', { p: pg('', true) });
      expectObservable(creditStream(opts(puller(p1), hot('---1', N)))).toBe('----(e|)', { e: end(0) });
      expectSubscriptions(p1.subscriptions).toBe('---^!');
    });
  });

  it('one item: one chunk then end; end needs no credit', () => {
    ts.run(({ cold, expectObservable }) => {
      const p1 = cold('--p|', { p: pg('a', true) });
      expectObservable(creditStream(opts(puller(p1), NEVER, { initialCredit: 1 }))).toBe('--(ae|)', {
        a: ch(0, 'a'),
        e: end(1),
      });
    });
  });

  it('many: initial credit covers a whole page, chunked by count', () => {
    ts.run(({ cold, expectObservable }) => {
      const p1 = cold('--p|', { p: pg('abcde', true) });
      const out = creditStream(opts(puller(p1), NEVER, { initialCredit: 3, chunk: byTwo }));
      expectObservable(out).toBe('--(xyze|)', { x: ch(0, 'ab'), y: ch(1, 'cd'), z: ch(2, 'e'), e: end(5) });
    });
  });

  it('chunks a page by bytes with chunkBySize', () => {
    ts.run(({ cold, expectObservable }) => {
      const page: Page = { items: ['aaaa', 'b', 'c', 'dddddd'], last: true };
      // ["aaaa","b"] = 12 bytes (+ "c" = 16 > 13), ["c","dddddd"] would be 14 > 13, ["dddddd"] = 10
      const chunk = (items: readonly string[]): string[][] => chunkBySize(items, { maxItems: 10, maxBytes: 13 });
      const out = creditStream(opts(puller(cold('p|', { p: page })), NEVER, { initialCredit: 9, chunk }));
      expectObservable(out).toBe('(xyze|)', {
        x: { type: 'chunk', seq: 0, items: ['aaaa', 'b'] },
        y: { type: 'chunk', seq: 1, items: ['c'] },
        z: { type: 'chunk', seq: 2, items: ['dddddd'] },
        e: end(4),
      });
    });
  });

  it('one credit = one chunk: sending stops at zero and resumes on each grant', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('p|', { p: pg('abc') });
      const p2 = cold('p|', { p: pg('d', true) });
      const credit$ = hot('-1--1--1--1', N);
      expectObservable(creditStream(opts(puller(p1, p2), credit$))).toBe('-a--b--c--(de|)', {
        a: ch(0, 'a'),
        b: ch(1, 'b'),
        c: ch(2, 'c'),
        d: ch(3, 'd'),
        e: end(4),
      });
      // not at 7: the credit was used up by c, so the next page waits for the next grant
      expectSubscriptions(p2.subscriptions).toBe('10ms (^!)');
    });
  });

  it('no page is pulled while chunks of the previous page wait, even with a pull-sized credit', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('p|', { p: pg('abc') });
      const p2 = cold('p|', { p: pg('', true) });
      const credit$ = hot('-1-----5', N);
      expectObservable(creditStream(opts(puller(p1, p2), credit$))).toBe('-a-----(bce|)', {
        a: ch(0, 'a'),
        b: ch(1, 'b'),
        c: ch(2, 'c'),
        e: end(3),
      });
      expectSubscriptions(p1.subscriptions).toBe('-(^!)');
      expectSubscriptions(p2.subscriptions).toBe('7ms (^!)');
    });
  });

  it('credit granted before data arrives is used later, also by the next page', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('-----p|', { p: pg('abcd') });
      const p2 = cold('-----p|', { p: pg('ef', true) });
      const out = creditStream(opts(puller(p1, p2), hot('-3', N), { chunk: byTwo }));
      expectObservable(out).toBe('------(xy)-(ze|)', { x: ch(0, 'ab'), y: ch(1, 'cd'), z: ch(2, 'ef'), e: end(6) });
      expectSubscriptions(p1.subscriptions).toBe('-^----!');
      expectSubscriptions(p2.subscriptions).toBe('------^----!');
    });
  });

  it('credit granted while a page is in flight does not start a second pull', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('----p|', { p: pg('a') });
      const p2 = cold('p|', { p: pg('b', true) });
      const out = creditStream(opts(puller(p1, p2), hot('-1-1-1', N)));
      expectObservable(out).toBe('-----(abe|)', { a: ch(0, 'a'), b: ch(1, 'b'), e: end(2) });
      expectSubscriptions(p1.subscriptions).toBe('-^---!');
      expectSubscriptions(p2.subscriptions).toBe('-----(^!)');
    });
    expect(pulledAt).toEqual([1, 5]);
  });

  it('empty non-last pages are pulled past (credit is not spent on them)', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const p1 = cold('-p|', { p: pg('') });
      const p2 = cold('-p|', { p: pg('') });
      const p3 = cold('-p|', { p: pg('a', true) });
      const out = creditStream(opts(puller(p1, p2, p3), NEVER, { initialCredit: 1 }));
      expectObservable(out).toBe('---(ae|)', { a: ch(0, 'a'), e: end(1) });
      expectSubscriptions(p1.subscriptions).toBe('^!');
      expectSubscriptions(p2.subscriptions).toBe('-^!');
      expectSubscriptions(p3.subscriptions).toBe('--^!');
    });
  });

  it('truncated is propagated from any page; count is the sum of the chunk items', () => {
    ts.run(({ cold, expectObservable }) => {
      const pages = (): Observable<Page>[] => [
        cold('p|', { p: pg('abc', false, true) }),
        cold('p|', { p: pg('', false, false) }),
        cold('p|', { p: pg('de', true) }),
      ];
      const out = creditStream(opts(puller(...pages()), NEVER, { initialCredit: 9, chunk: byTwo }));
      expectObservable(out).toBe('(xyze|)', { x: ch(0, 'ab'), y: ch(1, 'c'), z: ch(2, 'de'), e: end(5, true) });
    });
    ts.run(({ cold, expectObservable }) => {
      pulledAt = [];
      const out = creditStream(
        opts(puller(cold('p|', { p: pg('ab', false, false) }), cold('p|', { p: pg('c', true) })), NEVER, {
          initialCredit: 9,
        }),
      );
      expectObservable(out).toBe('(abce|)', { a: ch(0, 'a'), b: ch(1, 'b'), c: ch(2, 'c'), e: end(3, false) });
    });
  });

  it('end.count equals the items of the emitted chunks (many pages, random credit)', () => {
    const events: Ev[] = [];
    ts.run(({ cold, hot }) => {
      const pages = Array.from({ length: 20 }, (_, i) => cold('--p|', { p: pg('xyz'.slice(0, i % 4), i === 19) }));
      const credit$ = hot('-1-2-3-1-5-9-2-9-9-9-9-9', N);
      creditStream(opts(puller(...pages), credit$, { chunk: byTwo })).subscribe((e) => events.push(e));
    });
    const chunks = events.filter((e) => e.type === 'chunk');
    expect(events.at(-1)).toEqual(end(chunks.reduce((n, c) => n + c.items.length, 0)));
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    expect(chunks.flatMap((c) => c.items).join('')).toBe(
      Array.from({ length: 20 }, (_, i) => 'xyz'.slice(0, i % 4)).join(''),
    );
  });

  it('a stalled consumer holds one page: nothing more is pulled, whatever the total size', () => {
    ts.run(({ hot, expectObservable }) => {
      const page = pg('x'.repeat(1000)); // an endless export: never a last page
      const out = creditStream(opts(() => (pulledAt.push(ts.now()), of(page)), hot('-2', N)));
      expectObservable(out, '^ 5000ms !').toBe('-(ab)', { a: ch(0, 'x'), b: ch(1, 'x') });
    });
    expect(pulledAt).toEqual([1]);
  });

  it('synchronous pulls and credit granted from inside next: no re-entrancy, no deep recursion', () => {
    const credit$ = new Subject<number>();
    let n = 0;
    const events: Ev[] = [];
    let completed = false;
    creditStream({
      pull: () => of(pg(String(n++ % 10), n === 10_000)),
      credit$,
      initialCredit: 1,
      chunk: perItem,
    }).subscribe({
      next: (e) => {
        events.push(e);
        credit$.next(1); // the consumer drained it: one more
      },
      complete: () => (completed = true),
    });
    expect(completed).toBe(true);
    expect(n).toBe(10_000);
    expect(events).toHaveLength(10_001);
    expect(events.at(-1)).toEqual(end(10_000));
  });

  it('a pull emitting several pages: only the first is used, then it is unsubscribed', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const p1 = cold('-(pq)-|', { p: pg('a', true), q: pg('b') });
      expectObservable(creditStream(opts(puller(p1), NEVER, { initialCredit: 5 }))).toBe('-(ae|)', {
        a: ch(0, 'a'),
        e: end(1),
      });
      expectSubscriptions(p1.subscriptions).toBe('^!');
    });
  });

  it('pull error mid-stream: error after the chunks sent so far, never an end', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('-p|', { p: pg('ab') });
      const p2 = cold<Page>('----#', undefined, boom);
      const credit$ = hot('-5', N);
      expectObservable(creditStream(opts(puller(p1, p2), credit$))).toBe(
        '--(ab)#',
        { a: ch(0, 'a'), b: ch(1, 'b') },
        boom,
      );
      expectSubscriptions(p2.subscriptions).toBe('--^---!');
      expectSubscriptions(credit$.subscriptions).toBe('^-----!');
    });
    expect(closedAt).toEqual([6]);
  });

  it('pull completing without a page, or throwing, errors the output', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(creditStream(opts(puller(cold('--|')), NEVER, { initialCredit: 1 }))).toBe(
        '--#',
        undefined,
        new Error('creditStream: pull completed without a page'),
      );
      const throwing = (): Observable<Page> => {
        throw boom;
      };
      expectObservable(creditStream(opts(throwing, cold('---1', N)))).toBe('---#', undefined, boom);
    });
    expect(closedAt).toEqual([2, 3]);
  });

  it('chunk() throwing errors the output at the page', () => {
    ts.run(({ cold, expectObservable }) => {
      const chunk = (): string[][] => {
        throw boom;
      };
      const out = creditStream(opts(puller(cold('--p|', { p: pg('ab', true) })), NEVER, { initialCredit: 1, chunk }));
      expectObservable(out).toBe('--#', undefined, boom);
    });
    expect(closedAt).toEqual([2]);
  });

  it('credit$ error errors the output and unsubscribes the pull in progress', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('-----p|', { p: pg('ab', true) });
      expectObservable(creditStream(opts(puller(p1), hot('-1--#', N, boom)))).toBe('----#', undefined, boom);
      expectSubscriptions(p1.subscriptions).toBe('-^--!');
    });
    expect(closedAt).toEqual([4]);
  });

  it('a credit that is not an integer >= 1 errors with a TypeError quoting it', () => {
    for (const bad of [0, -1, 1.5, NaN, Infinity]) {
      ts = new TestScheduler((a, e) => expect(a).toEqual(e));
      ts.run(({ cold, expectObservable }) => {
        const out = creditStream(opts(() => NEVER, cold('-1-b', { ...N, b: bad })));
        expectObservable(out).toBe(
          '---#',
          undefined,
          new TypeError(`creditStream: credit must be an integer >= 1, got ${String(bad)}`),
        );
      });
    }
  });

  it('credit$ completing is fine: the stream waits for ever', () => {
    ts.run(({ cold, expectObservable }) => {
      const p1 = cold('-p|', { p: pg('ab', true) });
      expectObservable(creditStream(opts(puller(p1), cold('-1|', N))), '^ 100ms !').toBe('--a', { a: ch(0, 'a') });
    });
    expect(closedAt).toEqual([101]);
  });

  it('a pull that never answers: nothing is sent, nothing more is pulled', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(creditStream(opts(puller(cold('-')), cold('1-1-1', N))), '^ 100ms !').toBe('');
    });
    expect(pulledAt).toEqual([0]);
  });

  it('unsubscribe while a page is in flight: the pull and credit$ are unsubscribed, close() once', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('----------p|', { p: pg('ab') });
      const credit$ = hot('-1', N);
      expectObservable(creditStream(opts(puller(p1), credit$, { initialCredit: 0 })), '^ 5ms !').toBe('');
      expectSubscriptions(p1.subscriptions).toBe('-^----!');
      expectSubscriptions(credit$.subscriptions).toBe('^ 5ms !');
    });
    expect(closedAt).toEqual([6]);
  });

  it('cancel while chunks wait for credit: no further pull, close() once', () => {
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p1 = cold('p|', { p: pg('abc') });
      const p2 = cold('p|', { p: pg('d', true) });
      const credit$ = hot('-1--------9', N);
      expectObservable(creditStream(opts(puller(p1, p2), credit$)), '^ 5ms !').toBe('-a', { a: ch(0, 'a') });
      expectSubscriptions(p2.subscriptions).toBe([]);
    });
    expect(pulledAt).toEqual([1]);
    expect(closedAt).toEqual([6]);
  });

  it('close() is optional and called exactly once per subscription', () => {
    ts.run(({ cold, expectObservable }) => {
      const pages = (): Observable<Page> => cold('p|', { p: pg('a', true) });
      const out = creditStream(opts(pages, NEVER, { initialCredit: 1 }));
      expectObservable(out).toBe('(ae|)', { a: ch(0, 'a'), e: end(1) });
      expectObservable(out, '3ms ^').toBe('3ms (ae|)', { a: ch(0, 'a'), e: end(1) });
      const { close: _close, ...noClose } = opts(pages, NEVER, { initialCredit: 1 });
      expectObservable(creditStream(noClose)).toBe('(ae|)', { a: ch(0, 'a'), e: end(1) });
    });
    expect(closedAt).toEqual([0, 3]);
  });
});

describe('creditStream with prefetch (marbles)', () => {
  let ts: TestScheduler;
  let pulledAt: number[];
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    pulledAt = [];
  });
  const puller =
    (...pages: Observable<Page>[]) =>
    (): Observable<Page> => {
      pulledAt.push(ts.now());
      return pages[pulledAt.length - 1] ?? throwError(() => new Error('pulled too often'));
    };

  it('asks for the next page as soon as the current one arrives when credit covers both', () => {
    ts.run(({ cold, expectObservable }) => {
      const pull = puller(cold('---(a|)', { a: pg('ab') }), cold('-----(b|)', { b: pg('c', true) }));
      // 9 credits: page 1 (2 chunks) arrives at 3; the next pull starts at 3, before its chunks go out.
      expectObservable(creditStream({ pull, credit$: NEVER, initialCredit: 9, chunk: perItem, prefetch: true })).toBe('---(xy)-(ze|)', {
        x: ch(0, 'a'),
        y: ch(1, 'b'),
        z: ch(2, 'c'),
        e: end(3),
      });
    });
    expect(pulledAt).toEqual([0, 3]);
  });

  it('does not prefetch when credit only covers the waiting chunks: no page without credit', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const pull = puller(cold('-(a|)', { a: pg('ab') }), cold('-(b|)', { b: pg('c', true) }));
      const credit$ = hot('----------1', N);
      // credit 2 = exactly the 2 chunks of page 1: the second pull waits for the credit at 10.
      expectObservable(creditStream({ pull, credit$, initialCredit: 2, chunk: perItem, prefetch: true })).toBe('-(xy)------(ze|)', {
        x: ch(0, 'a'),
        y: ch(1, 'b'),
        z: ch(2, 'c'),
        e: end(3),
      });
    });
    expect(pulledAt).toEqual([0, 10]);
  });

  it('onStall: once each time a chunk waits for credit, not on every wake-up while waiting', () => {
    const stalls: number[] = [];
    ts.run(({ cold, hot, expectObservable }) => {
      // Page 1 (3 chunks) arrives at 1 with credit for one; grants of 1 at 5 and 3 at 9; the
      // prefetched last page arrives at 10 while credit is left.
      const pull = puller(cold('-p|', { p: pg('abc') }), cold('-p|', { p: pg('d', true) }));
      const credit$ = hot('-----1---3', N);
      const out = creditStream({ pull, credit$, chunk: perItem, initialCredit: 1, prefetch: true, onStall: () => stalls.push(ts.now()) });
      expectObservable(out).toBe('-a---b---c(de|)', { a: ch(0, 'a'), b: ch(1, 'b'), c: ch(2, 'c'), d: ch(3, 'd'), e: end(4) });
    });
    // Stalled at 1 (b, c waiting); b sent at 5 and stalled again (c waiting); none after 9.
    expect(stalls).toEqual([1, 5]);
  });

  it('onStall: never called while credit keeps up, nor for an end (which needs no credit)', () => {
    const stalls: number[] = [];
    ts.run(({ cold, expectObservable }) => {
      const pull = puller(cold('-p|', { p: pg('ab', true) }));
      const out = creditStream({ pull, credit$: NEVER, chunk: perItem, initialCredit: 2, prefetch: true, onStall: () => stalls.push(ts.now()) });
      expectObservable(out).toBe('-(abe|)', { a: ch(0, 'a'), b: ch(1, 'b'), e: end(2) });
    });
    expect(stalls).toEqual([]);
  });
});

describe('creditStream with a gate (marbles)', () => {
  let ts: TestScheduler;
  let pulledAt: number[];
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    pulledAt = [];
  });
  const puller =
    (...pages: Observable<Page>[]) =>
    (): Observable<Page> => {
      pulledAt.push(ts.now());
      return pages[pulledAt.length - 1] ?? throwError(() => new Error('pulled too often'));
    };
  /** Gate values in marbles: `o` open, `c` closed. */
  const G = { o: true, c: false };

  it('a closed gate: nothing pulled and nothing sent, whatever the credit; opening resumes', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const pull = puller(cold('-p|', { p: pg('ab', true) }));
      const gate = hot('c-----o', G);
      expectObservable(creditStream({ pull, credit$: NEVER, initialCredit: 1_000_000, chunk: perItem, gate })).toBe('-------(abe|)', {
        a: ch(0, 'a'),
        b: ch(1, 'b'),
        e: end(2),
      });
    });
    expect(pulledAt).toEqual([6]);
  });

  it('before its first value the gate is closed', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const pull = puller(cold('(p|)', { p: pg('a', true) }));
      expectObservable(creditStream({ pull, credit$: NEVER, initialCredit: 5, chunk: perItem, gate: hot('---o', G) })).toBe('---(ae|)', { a: ch(0, 'a'), e: end(1) });
    });
    expect(pulledAt).toEqual([3]);
  });

  it('closing holds a page that arrives meanwhile (prefetched with credit while open) until it opens', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const pull = puller(cold('-p|', { p: pg('abc') }), cold('---p|', { p: pg('d', true) }));
      // Open at 0: page 1 arrives at 1 and goes out, page 2 is prefetched; closed at 3, page 2
      // arrives at 4 and waits; open again at 7.
      const gate = hot('o--c---o', G);
      expectObservable(creditStream({ pull, credit$: NEVER, initialCredit: 9, chunk: perItem, prefetch: true, gate })).toBe('-(abc)-(de|)', {
        a: ch(0, 'a'),
        b: ch(1, 'b'),
        c: ch(2, 'c'),
        d: ch(3, 'd'),
        e: end(4),
      });
    });
    expect(pulledAt).toEqual([0, 1]);
  });

  it('closed with chunks waiting: no prefetch while closed, even with credit for more', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const pull = puller(cold('-p|', { p: pg('ab') }), cold('----p|', { p: pg('c', true) }));
      // Closed at 0; open at 2 for the first pull; closed at 3 as page 1 arrives; open at 5,
      // when the prefetch starts (its page arrives at 9).
      const gate = hot('c-oc-o', G);
      expectObservable(creditStream({ pull, credit$: NEVER, initialCredit: 9, chunk: perItem, prefetch: true, gate })).toBe('-----(ab)(ce|)', {
        a: ch(0, 'a'),
        b: ch(1, 'b'),
        c: ch(2, 'c'),
        e: end(3),
      });
    });
    // Pulled at 2 (open); page 1 arrives at 3, closed: no prefetch until 5.
    expect(pulledAt).toEqual([2, 5]);
  });

  it('a gate that closes synchronously inside next (a write that fills the socket) stops after that chunk', () => {
    const gate = new BehaviorSubject(true);
    const out: Ev[] = [];
    const sub = creditStream({ pull: () => of(pg('abcd', true)), credit$: NEVER, initialCredit: 9, chunk: perItem, gate }).subscribe((ev) => {
      out.push(ev);
      if (ev.type === 'chunk') gate.next(false); // every chunk fills the socket
    });
    expect(out).toEqual([ch(0, 'a')]);
    gate.next(true);
    expect(out).toEqual([ch(0, 'a'), ch(1, 'b')]);
    gate.next(true);
    gate.next(true);
    expect(out.map((e) => e.type)).toEqual(['chunk', 'chunk', 'chunk', 'chunk', 'end']);
    expect(out.at(-1)).toEqual(end(4));
    sub.unsubscribe();
  });

  it('the gate needs credit too: an open gate without credit sends nothing', () => {
    ts.run(({ cold, hot, expectObservable }) => {
      const pull = puller(cold('-p|', { p: pg('a', true) }));
      expectObservable(creditStream({ pull, credit$: hot('-----1', N), chunk: perItem, gate: hot('o', G) })).toBe('------(ae|)', { a: ch(0, 'a'), e: end(1) });
    });
    expect(pulledAt).toEqual([5]);
  });

  it('a gate error errors the stream and closes the pull', () => {
    let closed = 0;
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const p = cold('---p|', { p: pg('a', true) });
      const gate = hot('o-#', G, boom);
      expectObservable(creditStream({ pull: () => p, credit$: NEVER, initialCredit: 1, chunk: perItem, gate, close: () => closed++ })).toBe('--#', undefined, boom);
      expectSubscriptions(p.subscriptions).toBe('^-!');
    });
    expect(closed).toBe(1);
  });

  it('prefetch stays one page ahead with a synchronous pull, whatever the credit', () => {
    let pulls = 0;
    const pullsAtChunk: number[] = [];
    creditStream<string>({
      pull: () => of(pg('ab', ++pulls === 5)),
      credit$: NEVER,
      initialCredit: 1_000_000,
      chunk: perItem,
      prefetch: true,
    }).subscribe((ev) => {
      if (ev.type === 'chunk') pullsAtChunk.push(pulls);
    });
    // Page n+1 is pulled as page n starts going out, never more.
    expect(pullsAtChunk).toEqual([2, 2, 3, 3, 4, 4, 5, 5, 5, 5]);
  });

  it('weight: end.count counts what each chunk element stands for', () => {
    ts.run(({ cold, expectObservable }) => {
      const pull = puller(cold('(p|)', { p: pg('ab', true) }));
      const weight = (item: string): number => (item === 'a' ? 3 : 4);
      expectObservable(creditStream({ pull, credit$: NEVER, initialCredit: 9, chunk: perItem, weight })).toBe('(abe|)', { a: ch(0, 'a'), b: ch(1, 'b'), e: end(7) });
    });
  });
});
