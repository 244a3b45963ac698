/**
 * The pipeline's metric hooks in virtual time: what `runRequest` reports to `PipelineMetrics`
 * (start, first result, chunks, credit stalls, outcome) and when, for each way a request ends.
 */
import { pino } from 'pino';
import { NEVER, map, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { DataSourceAdapter, ExportResult, Page } from '../src/adapter-kit/adapter.js';
import type { PipelineMetrics } from '../src/pipeline/meter.js';
import { runRequest, type RequestDeps } from '../src/pipeline/run-request.js';
import { ProtocolError, type Frame, type OutgoingFrame, type Request } from '../src/protocol/index.js';

const log = pino({ level: 'silent' });
const limits = { maxConcurrentRequests: 4, maxQueuedRequests: 4, maxRequestTimeoutMs: 60_000, maxFrameBytes: 65_536, maxChunkItems: 2, maxConcurrentStreams: 8, streamWindow: 2 };

type Event = readonly unknown[];

/** A PipelineMetrics that records every call with the virtual time it happened at. */
function recorder(ts: TestScheduler): { metrics: PipelineMetrics; events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    metrics: {
      requestStarted: (op, dataSource) => {
        events.push([ts.now(), 'start', op, dataSource]);
        return {
          firstResult: () => events.push([ts.now(), 'first']),
          chunkSent: (items, bytes) => events.push([ts.now(), 'chunk', items, bytes]),
          creditStalled: () => events.push([ts.now(), 'stall']),
          finished: (code) => events.push([ts.now(), 'finished', code]),
        };
      },
      requestRefused: (op, dataSource, code) => events.push([ts.now(), 'refused', op, dataSource, code]),
    },
  };
}

function request(over: Partial<Request> = {}): Request {
  return { type: 'request', id: 'r1', op: 'search', dataSource: 'ds', params: {}, timeoutMs: 1000, ...over } as Request;
}

function fakeAdapter(pages: Array<Observable<Page<number>>>, test$: Observable<unknown> = NEVER): DataSourceAdapter {
  let i = 0;
  return {
    type: 'fake',
    supports: ['test', 'search', 'export'],
    test: () => test$,
    search: () => ({ pull: () => pages[i++] ?? NEVER, close: () => undefined }),
    export: (records$) => records$.pipe(map((_r, index): ExportResult => ({ index, ok: true }))),
    close: () => Promise.resolve(),
  };
}

function deps(adapter: DataSourceAdapter, ts: TestScheduler, metrics: PipelineMetrics): RequestDeps {
  return { dataSources: new Map([['ds', { adapter, operations: ['test', 'search', 'export'] }]]), limits, log, scheduler: ts, metrics };
}

const credit = (n: number) => ({ type: 'credit', id: 'r1', n }) as Frame;
/** The code of an error frame, else the frame type. */
const codeOf = (f: OutgoingFrame): string => ('code' in f ? f.code : f.type);

describe('runRequest metric hooks (virtual time)', () => {
  it('search: latency to the first page, items and bytes per chunk, one stall while a chunk waits, OK', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const r = recorder(ts);
    ts.run(({ cold, hot, expectObservable }) => {
      const adapter = fakeAdapter([cold('--a|', { a: { items: [1, 2, 3, 4], last: false } }), cold('--b|', { b: { items: [5], last: true } })]);
      const own$ = hot<Frame>('10ms a 9ms b 9ms c', { a: credit(1), b: credit(1), c: credit(1) });
      expectObservable(runRequest(request(), own$, deps(adapter, ts, r.metrics)).pipe(map((f) => f.type))).toBe('12ms a 7ms b 11ms (cd|)', {
        a: 'chunk',
        b: 'chunk',
        c: 'chunk',
        d: 'end',
      });
    });
    expect(r.events).toEqual([
      [0, 'start', 'search', 'ds'],
      [12, 'first'], // pulled at 10 (first credit), page at 12
      [12, 'chunk', 2, 5], // [1,2]
      [12, 'stall'], // [3,4] ready, credit spent
      [20, 'chunk', 2, 5],
      [32, 'chunk', 1, 3], // [5]
      [32, 'finished', 'OK'],
    ]);
  });

  it('a request-response op: first result and OK when it answers', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const r = recorder(ts);
    ts.run(({ cold, hot, expectObservable }) => {
      const adapter = fakeAdapter([], cold('5ms a|', { a: { ok: true } }));
      expectObservable(runRequest(request({ op: 'test' }), hot<Frame>(''), deps(adapter, ts, r.metrics))).toBe('5ms (a|)', {
        a: { type: 'result', id: 'r1', data: { ok: true } },
      });
    });
    expect(r.events).toEqual([
      [0, 'start', 'test', 'ds'],
      [5, 'first'],
      [5, 'finished', 'OK'],
    ]);
  });

  it('the code of the error frame: TIMEOUT (no first result), or the upstream failure mid-stream', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const slow = recorder(ts);
    const failing = recorder(ts);
    ts.run(({ cold, hot, expectObservable }) => {
      const adapter = fakeAdapter([], cold('500ms a|', { a: { ok: true } }));
      expectObservable(runRequest(request({ op: 'test', timeoutMs: 300 as never }), hot<Frame>(''), deps(adapter, ts, slow.metrics)), '^ 1000ms !').toBe(
        '300ms (a|)',
        { a: expect.objectContaining({ type: 'error', code: 'TIMEOUT' }) as unknown as Frame },
      );
      const broken = fakeAdapter([cold('-a|', { a: { items: [1], last: false } }), cold('--#', {}, new ProtocolError('UPSTREAM_UNAVAILABLE', 'gone'))]);
      expectObservable(runRequest(request(), hot<Frame>('a', { a: credit(10) }), deps(broken, ts, failing.metrics)).pipe(map((f) => f.type))).toBe(
        '-a-(b|)',
        { a: 'chunk', b: 'error' },
      );
    });
    expect(slow.events).toEqual([
      [0, 'start', 'test', 'ds'],
      [300, 'finished', 'TIMEOUT'],
    ]);
    expect(failing.events.at(-1)).toEqual([3, 'finished', 'UPSTREAM_UNAVAILABLE']);
  });

  it("CANCELLED when the hub cancels, and when the request is unsubscribed (its socket closed)", () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const cancelled = recorder(ts);
    const dropped = recorder(ts);
    ts.run(({ cold, hot, expectObservable }) => {
      const adapter = fakeAdapter([], cold('500ms a|', { a: { ok: true } }));
      expectObservable(runRequest(request({ op: 'test' }), hot<Frame>('10ms c', { c: { type: 'cancel', id: 'r1' } as Frame }), deps(adapter, ts, cancelled.metrics))).toBe(
        '10ms |',
      );
      expectObservable(runRequest(request({ op: 'test' }), hot<Frame>(''), deps(adapter, ts, dropped.metrics)), '^ 6ms !').toBe(''); // unsubscribed at 7
    });
    expect(cancelled.events).toEqual([
      [0, 'start', 'test', 'ds'],
      [10, 'finished', 'CANCELLED'],
    ]);
    expect(dropped.events).toEqual([
      [0, 'start', 'test', 'ds'],
      [7, 'finished', 'CANCELLED'],
    ]);
  });

  it('refusals before running are counted as refused, never as started', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const r = recorder(ts);
    ts.run(({ hot, expectObservable }) => {
      const adapter = fakeAdapter([]);
      const d: RequestDeps = { ...deps(adapter, ts, r.metrics), dataSources: new Map([['ds', { adapter, operations: ['test'] }]]) };
      expectObservable(runRequest(request({ op: 'search' }), hot<Frame>(''), d).pipe(map(codeOf))).toBe('(a|)', {
        a: 'OPERATION_NOT_ALLOWED',
      });
      expectObservable(runRequest(request({ dataSource: 'nope' }), hot<Frame>(''), d).pipe(map(codeOf))).toBe('(a|)', {
        a: 'UNKNOWN_DATA_SOURCE',
      });
    });
    expect(r.events).toEqual([
      [0, 'refused', 'search', 'ds', 'OPERATION_NOT_ALLOWED'],
      [0, 'refused', 'search', 'nope', 'UNKNOWN_DATA_SOURCE'],
    ]);
  });

  it('export: first result, result chunks with their JSON bytes, OK after the end', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const r = recorder(ts);
    ts.run(({ hot, expectObservable }) => {
      // Records: 2 at 1, 1 at 3, end at 5 (2 items per chunk at most).
      const own$ = hot<Frame>('-a-b-e', {
        a: { type: 'chunk', id: 'r1', seq: 0, items: [{ x: 1 }, { x: 2 }] } as Frame,
        b: { type: 'chunk', id: 'r1', seq: 1, items: [{ x: 3 }] } as Frame,
        e: { type: 'end', id: 'r1', count: 3 } as Frame,
      });
      const out$ = runRequest(request({ op: 'export', credit: 5 as never }), own$, deps(fakeAdapter([]), ts, r.metrics)).pipe(map((f) => f.type));
      // The single result of the second record chunk is flushed when the records end.
      expectObservable(out$).toBe('c(xy)(xyz|)', { c: 'credit', x: 'chunk', y: 'credit', z: 'end' });
    });
    const two = JSON.stringify([
      { index: 0, ok: true },
      { index: 1, ok: true },
    ]).length;
    const one = JSON.stringify([{ index: 2, ok: true }]).length;
    expect(r.events).toEqual([
      [0, 'start', 'export', 'ds'],
      [1, 'first'],
      [1, 'chunk', 2, two],
      [5, 'chunk', 1, one],
      [5, 'finished', 'OK'],
    ]);
  });
});
