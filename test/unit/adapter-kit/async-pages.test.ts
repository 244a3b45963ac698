/** pageSourceFromAsyncIterator: pages of an async iterator, return() on close. */
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { pageSourceFromAsyncIterator } from '../../../src/adapter-kit/async-pages.js';

function counting(n: number): { readonly gen: () => AsyncGenerator<number>; readonly state: { pulled: number; finallyRan: number } } {
  const state = { pulled: 0, finallyRan: 0 };
  const gen = async function* (): AsyncGenerator<number> {
    try {
      for (let i = 0; i < n; i++) {
        state.pulled += 1;
        yield await Promise.resolve(i);
      }
    } finally {
      state.finallyRan += 1;
    }
  };
  return { gen, state };
}

describe('pageSourceFromAsyncIterator', () => {
  it('pages of pageSize, the last page marked last, total carried', async () => {
    const { gen, state } = counting(5);
    const source = pageSourceFromAsyncIterator(gen, { pageSize: 2, total: 5 });
    const pages = [];
    for (;;) {
      const page = await firstValueFrom(source.pull());
      pages.push(page);
      if (page.last) break;
    }
    expect(pages.map((p) => p.items)).toEqual([[0, 1], [2, 3], [4]]);
    expect(pages.map((p) => p.last)).toEqual([false, false, true]);
    expect(pages.every((p) => p.total === 5)).toBe(true);
    source.close();
    expect(state.pulled).toBe(5);
  });

  it('pulls only when asked: one page, then nothing until the next pull', async () => {
    const { gen, state } = counting(1000);
    const source = pageSourceFromAsyncIterator(gen, { pageSize: 10 });
    await firstValueFrom(source.pull());
    expect(state.pulled).toBe(10);
    await new Promise((r) => setImmediate(r));
    expect(state.pulled).toBe(10);
    source.close();
  });

  it("close() mid-stream runs the generator's finally once, and later pulls are empty and last", async () => {
    const { gen, state } = counting(1000);
    const source = pageSourceFromAsyncIterator(gen, { pageSize: 10 });
    await firstValueFrom(source.pull());
    source.close();
    source.close();
    await new Promise<void>((resolve) => {
      const poll = (): void => (state.finallyRan > 0 ? resolve() : void setImmediate(poll));
      poll();
    });
    expect(state.finallyRan).toBe(1);
    await expect(firstValueFrom(source.pull())).resolves.toEqual({ items: [], last: true });
  });

  it('an iterator error is the error of the pull', async () => {
    const source = pageSourceFromAsyncIterator(
      async function* () {
        yield await Promise.resolve(1);
        throw new Error('bad line 2');
      },
      { pageSize: 5 },
    );
    await expect(firstValueFrom(source.pull())).rejects.toThrow('bad line 2');
  });

  it('refuses a pageSize that is not a positive integer', () => {
    expect(() => pageSourceFromAsyncIterator([] as unknown as AsyncIterable<number>, { pageSize: 0 })).toThrow(RangeError);
  });
});
