/** Pure paging decisions: which method (RFC 9865 capabilities) and what a cursor page means. */
import { describe, expect, it } from 'vitest';
import { choosePaging, cursorAsk, cursorStep, type CursorState } from '../../../src/adapters/scim/pagination.js';

describe('choosePaging', () => {
  it.each([
    [undefined, 'index'],
    [{}, 'index'],
    [{ cursor: false, index: true, defaultPaginationMethod: 'index' }, 'index'],
    [{ cursor: false, index: false }, 'index'],
    [{ cursor: true, index: true }, 'index'],
    [{ cursor: true, index: true, defaultPaginationMethod: 'index' }, 'index'],
    [{ cursor: true, defaultPaginationMethod: 'cursor' }, 'cursor'],
    [{ cursor: true, index: true, defaultPaginationMethod: 'Cursor' }, 'cursor'],
    [{ cursor: true, index: false }, 'cursor'],
    [{ cursor: true, index: false, defaultPaginationMethod: 'index' }, 'cursor'],
    [{ cursor: false, defaultPaginationMethod: 'cursor' }, 'index'],
  ] as const)('%j → %s', (pagination, method) => {
    expect(choosePaging(pagination)).toBe(method);
  });
});

const start = (limit?: number): CursorState => ({ cursor: '', delivered: 0, received: 0, limit });
const items = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('cursorAsk', () => {
  it('the page size, or only what is left under the cap', () => {
    expect(cursorAsk(start(), 100)).toBe(100);
    expect(cursorAsk(start(250), 100)).toBe(100);
    expect(cursorAsk({ ...start(130), delivered: 100 }, 100)).toBe(30);
    expect(cursorAsk(start(0), 100)).toBe(0);
  });
});

describe('cursorStep', () => {
  it('a page with nextCursor continues with that cursor', () => {
    const s = cursorStep(start(), items(10), 25, 'abc');
    expect(s).toMatchObject({ last: false, truncated: false, next: { cursor: 'abc', delivered: 10, received: 10 } });
    expect(s.items).toHaveLength(10);
    expect(s.stalled).toBeUndefined();
  });

  it('no nextCursor is the last page, not truncated (even if totalResults says more)', () => {
    expect(cursorStep({ ...start(), cursor: 'abc', delivered: 10, received: 10 }, items(5), 25, undefined)).toMatchObject({ last: true, truncated: false });
  });

  it('the cap cuts a page: last and truncated', () => {
    const s = cursorStep({ ...start(12), cursor: 'x', delivered: 10, received: 10 }, items(10), 25, 'y');
    expect(s.items).toEqual([0, 1]);
    expect(s).toMatchObject({ last: true, truncated: true, next: { delivered: 12, received: 20 } });
  });

  it('the cap reached exactly: truncated only when the provider had more', () => {
    expect(cursorStep(start(10), items(10), 25, 'y')).toMatchObject({ last: true, truncated: true });
    expect(cursorStep(start(10), items(10), 10, undefined)).toMatchObject({ last: true, truncated: false });
    expect(cursorStep(start(10), items(10), 25, undefined)).toMatchObject({ last: true, truncated: true });
  });

  it('count 0: totalResults only, truncated when there are any', () => {
    expect(cursorStep(start(0), [], 25, undefined)).toMatchObject({ items: [], last: true, truncated: true });
    expect(cursorStep(start(0), [], 0, undefined)).toMatchObject({ items: [], last: true, truncated: false });
  });

  it('a provider that does not advance ends the stream truncated', () => {
    expect(cursorStep({ ...start(), cursor: 'a' }, [], 25, 'b')).toMatchObject({ last: true, truncated: true, stalled: 'empty page with nextCursor' });
    expect(cursorStep({ ...start(), cursor: 'a' }, items(3), 25, 'a')).toMatchObject({ last: true, truncated: true, stalled: 'nextCursor unchanged' });
  });
});
