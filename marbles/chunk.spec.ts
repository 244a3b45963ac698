import { NEVER } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { chunk, chunkBySize, ItemTooLargeError, type ChunkLimits } from '../src/operators/chunk.js';

/** Bytes of `items` as the JSON array a frame carries. */
const arrayBytes = (items: readonly unknown[]): number => Buffer.byteLength(JSON.stringify(items));

describe('chunkBySize', () => {
  it('no items → no chunks', () => {
    expect(chunkBySize([], { maxItems: 2, maxBytes: 100 })).toEqual([]);
  });

  it('one item → one chunk', () => {
    expect(chunkBySize(['a'], { maxItems: 2, maxBytes: 100 })).toEqual([['a']]);
  });

  it('splits by count, order kept', () => {
    expect(chunkBySize([1, 2, 3, 4, 5], { maxItems: 2, maxBytes: 100 })).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunkBySize([1, 2, 3, 4], { maxItems: 2, maxBytes: 100 })).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(chunkBySize([1, 2, 3], { maxItems: Infinity, maxBytes: 100 })).toEqual([[1, 2, 3]]);
  });

  it('splits by bytes: items + commas + brackets, exactly at the limit', () => {
    // "a" is 3 bytes: ["a","b"] = 2 + 3 + 1 + 3 = 9 bytes
    expect(arrayBytes(['a', 'b'])).toBe(9);
    expect(chunkBySize(['a', 'b', 'c'], { maxItems: 10, maxBytes: 9 })).toEqual([['a', 'b'], ['c']]);
    expect(chunkBySize(['a', 'b', 'c'], { maxItems: 10, maxBytes: 8 })).toEqual([['a'], ['b'], ['c']]);
    expect(chunkBySize(['a', 'b', 'c'], { maxItems: 10, maxBytes: 13 })).toEqual([['a', 'b', 'c']]);
    expect(chunkBySize(['a', 'b', 'c'], { maxItems: 10, maxBytes: 12 })).toEqual([['a', 'b'], ['c']]);
  });

  it('the doc-comment example: whichever limit comes first', () => {
    const measure = (item: unknown): number => (item === 'c' ? 5 : 1);
    expect(chunkBySize([...'abcdefg'], { maxItems: 3, maxBytes: 9, measure })).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e', 'f', 'g'],
    ]);
  });

  it('counts UTF-8 bytes, not UTF-16 code units', () => {
    // "é" is 4 bytes in JSON ("\u00e9" is not escaped by JSON.stringify), "😀" is 6
    expect(chunkBySize(['é', '😀'], { maxItems: 10, maxBytes: 2 + 4 + 1 + 6 })).toEqual([['é', '😀']]);
    expect(chunkBySize(['é', '😀'], { maxItems: 10, maxBytes: 2 + 4 + 1 + 5 })).toEqual([['é'], ['😀']]);
  });

  it('measures undefined as the null it becomes in an array', () => {
    expect(chunkBySize([undefined, undefined], { maxItems: 10, maxBytes: 11 })).toEqual([[undefined, undefined]]);
    expect(chunkBySize([undefined, undefined], { maxItems: 10, maxBytes: 10 })).toEqual([[undefined], [undefined]]);
  });

  it('an item alone over the limit throws ItemTooLargeError with its index and size', () => {
    const limits = { maxItems: 10, maxBytes: 8 };
    expect(chunkBySize(['abcd'], limits)).toEqual([['abcd']]); // "abcd" = 6 bytes, [..] = 8: fits
    let caught: unknown;
    try {
      chunkBySize(['a', 'abcde'], limits);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ItemTooLargeError);
    expect(caught).toMatchObject({
      name: 'ItemTooLargeError',
      code: 'SIZE_LIMIT_EXCEEDED',
      index: 1,
      bytes: 7,
      maxBytes: 8,
    });
    expect((caught as Error).message).toMatch(/item 1 is 7 bytes.*9 > maxBytes 8/);
  });

  it('uses a custom measure; a broken measure throws a TypeError quoting the value', () => {
    const measure = (item: unknown): number => Number(item);
    expect(chunkBySize([3, 3, 3], { maxItems: 10, maxBytes: 9, measure })).toEqual([[3, 3], [3]]);
    expect(() => chunkBySize([NaN], { maxItems: 10, maxBytes: 9, measure })).toThrow(/measure\(item 0\).*got NaN/);
    expect(() => chunkBySize([-1], { maxItems: 10, maxBytes: 9, measure })).toThrow(TypeError);
  });

  it('rejects bad limits with a RangeError quoting the value', () => {
    expect(() => chunkBySize([], { maxItems: 0, maxBytes: 10 })).toThrow(/maxItems .* got 0/);
    expect(() => chunkBySize([], { maxItems: 1.5, maxBytes: 10 })).toThrow(/maxItems .* got 1.5/);
    expect(() => chunkBySize([], { maxItems: 1, maxBytes: 0 })).toThrow(/maxBytes .* got 0/);
    expect(() => chunkBySize([], { maxItems: 1, maxBytes: NaN })).toThrow(RangeError);
  });

  it('every chunk fits the frame when maxBytes = maxFrameBytes - envelope overhead (generated items)', () => {
    // Deterministic generator: strings with multi-byte and escaped characters, numbers, objects.
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['a', 'é', '😀', '"', '\\', '\n', '\u0001', ' '];
    const item = (): unknown => {
      const s = Array.from({ length: rand(40) }, () => alphabet[rand(alphabet.length)]).join('');
      return rand(3) === 0 ? { dn: `cn=${s}`, n: rand(1000) } : rand(2) === 0 ? s : rand(100_000);
    };
    const items = Array.from({ length: 2000 }, item);
    const id = 'req-7f3a';
    const frame = (seq: number, chunkItems: unknown[]): string =>
      JSON.stringify({ type: 'chunk', id, seq, items: chunkItems });
    for (const maxFrameBytes of [200, 1024, 4096]) {
      const envelopeOverhead = Buffer.byteLength(frame(999_999, [])) - 2;
      const limits: ChunkLimits = { maxItems: 50, maxBytes: maxFrameBytes - envelopeOverhead };
      const chunks = chunkBySize(items, limits);
      expect(chunks.flat()).toEqual(items);
      chunks.forEach((c, seq) => {
        expect(Buffer.byteLength(frame(seq, c))).toBeLessThanOrEqual(maxFrameBytes);
        expect(arrayBytes(c)).toBeLessThanOrEqual(limits.maxBytes);
      });
      // Greedy: a chunk ends only because the next item would not fit.
      chunks.slice(0, -1).forEach((c, i) => {
        const next = chunks[i + 1]![0];
        expect(c.length === limits.maxItems || arrayBytes([...c, next]) > limits.maxBytes).toBe(true);
      });
    }
  });
});

describe('chunk (marbles)', () => {
  let ts: TestScheduler;
  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
  });
  const v = { a: 'a', b: 'b', c: 'c', d: 'd', e: 'e', f: 'f', w: 'wwwwwww' };

  it('rejects bad options at pipe time', () => {
    expect(() => chunk({ maxItems: 0, maxBytes: 10 })).toThrow(/chunk: maxItems .* got 0/);
    expect(() => chunk({ maxItems: 1, maxBytes: 10, flushAfter: -1 })).toThrow(/flushAfter .* got -1/);
    expect(() => chunk({ maxItems: 1, maxBytes: 10, flushAfter: Infinity })).toThrow(RangeError);
  });

  it('no values: completes without emitting', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('---|').pipe(chunk({ maxItems: 2, maxBytes: 100 }))).toBe('---|');
    });
  });

  it('one value: flushed on completion', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-|', v).pipe(chunk({ maxItems: 2, maxBytes: 100 }))).toBe('---(x|)', { x: ['a'] });
    });
  });

  it('many values: flushed as soon as maxItems is reached', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('-a-b-c-d-e|', v).pipe(chunk({ maxItems: 2, maxBytes: 100 }));
      expectObservable(out).toBe('---x---y--(z|)', { x: ['a', 'b'], y: ['c', 'd'], z: ['e'] });
    });
  });

  it('flushes when the next value would overflow the bytes, and when no comma fits any more', () => {
    ts.run(({ cold, expectObservable }) => {
      // ["a","b","c"] = 13 bytes; "wwwwwww" (9) would make 23 > 14: [a,b,c] goes out when w arrives
      const out = cold('-a-b-c-w-|', v).pipe(chunk({ maxItems: 10, maxBytes: 14 }));
      expectObservable(out).toBe('-------x-(y|)', { x: ['a', 'b', 'c'], y: ['wwwwwww'] });
      // ["a","b"] = 9 bytes: full at b, since not even a comma fits (10 > 9)
      const tight = cold('-a-b-c-|', v).pipe(chunk({ maxItems: 10, maxBytes: 9 }));
      expectObservable(tight).toBe('---x---(y|)', { x: ['a', 'b'], y: ['c'] });
    });
  });

  it('synchronous values group in the same frame', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('(abcde|)', v).pipe(chunk({ maxItems: 2, maxBytes: 100 }));
      expectObservable(out).toBe('(xyz|)', { x: ['a', 'b'], y: ['c', 'd'], z: ['e'] });
    });
  });

  it('an oversize item errors with ItemTooLargeError at its frame and unsubscribes the source', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-a-w-b-|', v);
      const out = src.pipe(chunk({ maxItems: 10, maxBytes: 10 }));
      // the partial chunk [a] is dropped: the stream failed
      expectObservable(out).toBe('---#', undefined, new ItemTooLargeError(1, 9, 10));
      expectSubscriptions(src.subscriptions).toBe('^--!');
    });
  });

  it('a source error passes through and drops the partial chunk', () => {
    ts.run(({ cold, expectObservable }) => {
      const err = new Error('ldap down');
      const out = cold('-a-b-c-#', v, err).pipe(chunk({ maxItems: 2, maxBytes: 100 }));
      expectObservable(out).toBe('---x---#', { x: ['a', 'b'] }, err);
    });
  });

  it('never-completing source: a partial chunk waits without flushAfter', () => {
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-c-', v).pipe(chunk({ maxItems: 2, maxBytes: 100 })), '^ 100ms !').toBe('---x', {
        x: ['a', 'b'],
      });
      expectObservable(NEVER.pipe(chunk({ maxItems: 2, maxBytes: 100, flushAfter: 5, scheduler: ts })), '^ 100ms !').toBe(
        '',
      );
    });
  });

  it('flushAfter: a partial chunk is emitted exactly flushAfter ms after its first value', () => {
    ts.run(({ cold, expectObservable }) => {
      const opts = { maxItems: 2, maxBytes: 100, flushAfter: 5, scheduler: ts };
      // the doc-comment example
      expectObservable(cold('-a-b-c------d-|', v).pipe(chunk(opts))).toBe('---x------y---(z|)', {
        x: ['a', 'b'],
        y: ['c'],
        z: ['d'],
      });
      // a value one frame before the timer joins the chunk; the next one starts a new timer
      expectObservable(cold('-a---b-c', v).pipe(chunk({ ...opts, maxItems: 3 })), '^ 20ms !').toBe('------x-----y', {
        x: ['a', 'b'],
        y: ['c'],
      });
    });
  });

  it('flushAfter: a chunk flushed by size cancels its timer; the next chunk has its own', () => {
    ts.run(({ cold, expectObservable }) => {
      const opts = { maxItems: 2, maxBytes: 100, flushAfter: 5, scheduler: ts };
      // [a,b] full at 2 (a's timer would fire at 6); c at 4 → flushed alone at 9
      expectObservable(cold('-ab-c', v).pipe(chunk(opts)), '^ 20ms !').toBe('--x------y', { x: ['a', 'b'], y: ['c'] });
      // overflow by bytes: [a] flushed when w arrives; w waits its own 5 ms
      const bytes = { ...opts, maxItems: 10, maxBytes: 12 };
      expectObservable(cold('-a-w', v).pipe(chunk(bytes)), '^ 20ms !').toBe('---x----y', { x: ['a'], y: ['wwwwwww'] });
    });
  });

  it('flushAfter 0: groups only what arrives in the same frame', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('(ab)-c', v).pipe(chunk({ maxItems: 10, maxBytes: 100, flushAfter: 0, scheduler: ts }));
      expectObservable(out, '^ 20ms !').toBe('x----y', { x: ['a', 'b'], y: ['c'] });
    });
  });

  it('completion flushes at once and cancels the timer', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('-a-|', v).pipe(chunk({ maxItems: 10, maxBytes: 100, flushAfter: 5, scheduler: ts }));
      expectObservable(out).toBe('---(x|)', { x: ['a'] });
    });
  });

  it('unsubscribing cancels the timer and the source', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-a----', v);
      const out = src.pipe(chunk({ maxItems: 10, maxBytes: 100, flushAfter: 5, scheduler: ts }));
      expectObservable(out, '^ 3ms !').toBe('');
      expectSubscriptions(src.subscriptions).toBe('^ 3ms !');
    });
  });

  it('chunks are fresh arrays per subscription', () => {
    ts.run(({ cold, expectObservable }) => {
      const out = cold('-a-b|', v).pipe(chunk({ maxItems: 10, maxBytes: 100 }));
      expectObservable(out).toBe('----(x|)', { x: ['a', 'b'] });
      expectObservable(out, '2ms ^').toBe('------(x|)', { x: ['a', 'b'] });
    });
  });
});
