/**
 * A small in-memory data source for pipeline tests over real sockets: it records every page
 * pull and every write, so a test can see exactly when the agent pulled and what it wrote, and
 * counts what tests await instead of sleeping (a `test` started, a pull after close).
 * (The LDAP adapter has its own tests against a real slapd.)
 */
import { concatMap, defer, delay, from, of, throwError, type Observable } from 'rxjs';
import type { DataSourceAdapter, ExportResult, PageSource } from '../../src/adapter-kit/adapter.js';
import { ProtocolError, type Operation } from '../../src/protocol/index.js';

export interface MemoryAdapter extends DataSourceAdapter {
  /** One entry per page pulled: the time and the page index. */
  readonly pulls: Array<{ at: number; page: number }>;
  /** Page sources closed (abandoned or finished). */
  readonly closed: number[];
  readonly written: unknown[];
  /** `test` operations started, and pulls subscribed on a page source after its close(). */
  readonly counts: { tests: number; pullsAfterClose: number };
}

export interface MemoryAdapterOptions {
  readonly items?: number;
  readonly pageSize?: number;
  /** ms each page pull takes. */
  readonly pullDelayMs?: number;
  /** Page index at which pull fails with UPSTREAM_UNAVAILABLE. */
  readonly failAtPage?: number;
  /** ms each record write takes. */
  readonly writeDelayMs?: number;
  readonly supports?: readonly Operation[];
  /** `test` answers after this many ms (for deadline tests). */
  readonly testDelayMs?: number;
  /** `test` answers only once this settles (then after `testDelayMs`): the test says when. */
  readonly testGate?: Promise<unknown>;
  /** Characters of padding in each item (to fill buffers with fewer items). */
  readonly padChars?: number;
}

export function memoryAdapter(options: MemoryAdapterOptions = {}): MemoryAdapter {
  const total = options.items ?? 1000;
  const pageSize = options.pageSize ?? 100;
  const pulls: Array<{ at: number; page: number }> = [];
  const closed: number[] = [];
  const written: unknown[] = [];
  let streams = 0;
  const counts = { tests: 0, pullsAfterClose: 0 };
  return {
    type: 'memory',
    supports: options.supports ?? ['test', 'get', 'search', 'export'],
    pulls,
    closed,
    written,
    counts,
    test: () =>
      defer(() => {
        counts.tests += 1;
        const answer = of({ ok: true, items: total }).pipe(delay(options.testDelayMs ?? 0));
        return options.testGate ? from(options.testGate).pipe(concatMap(() => answer)) : answer;
      }),
    get: (params) => {
      const i = Number(params['index']);
      return Number.isInteger(i) && i >= 0 && i < total
        ? of({ index: i, name: `item-${i}` })
        : throwError(() => new ProtocolError('NOT_FOUND', `no item ${String(params['index'])}`));
    },
    search: (params): PageSource<unknown> => {
      const stream = ++streams;
      const limit = typeof params['limit'] === 'number' ? params['limit'] : total;
      let page = 0;
      let isClosed = false;
      return {
        pull: () =>
          defer(() => {
            const index = page++;
            if (isClosed) counts.pullsAfterClose += 1;
            pulls.push({ at: performance.now(), page: index });
            if (options.failAtPage === index) {
              return throwError(() => new ProtocolError('UPSTREAM_UNAVAILABLE', `upstream went away at page ${index}`));
            }
            const start = index * pageSize;
            const end = Math.min(start + pageSize, limit);
            const pad = options.padChars ? { pad: 'x'.repeat(options.padChars) } : {};
            const items = Array.from({ length: Math.max(0, end - start) }, (_, k) => ({ index: start + k, name: `item-${start + k}`, ...pad }));
            const result = of({ items, last: end >= limit });
            return options.pullDelayMs ? result.pipe(delay(options.pullDelayMs)) : result;
          }),
        close: () => {
          isClosed = true;
          closed.push(stream);
        },
      };
    },
    export: (records$): Observable<ExportResult> => {
      let index = 0;
      return records$.pipe(
        concatMap((record) => {
          const i = index++;
          const r = record as { fail?: boolean };
          const result: ExportResult = r.fail
            ? { index: i, ok: false, code: 'CONSTRAINT_VIOLATION', message: `record ${i} refused`, retryable: false }
            : (written.push(record), { index: i, ok: true });
          return options.writeDelayMs ? of(result).pipe(delay(options.writeDelayMs)) : of(result);
        }),
      );
    },
    close: () => Promise.resolve(),
  };
}
