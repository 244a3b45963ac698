/**
 * The pipeline's timing behaviour in virtual time: a fake adapter made of cold observables,
 * the hub's frames as a hot observable, and the frames the agent would send. Proves credit
 * gating, cancel, deadline and mid-stream failure at the level of whole requests.
 */
import { pino } from 'pino';
import { NEVER, concatMap, map, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { DataSourceAdapter, ExportResult, Page } from '../src/adapter-kit/adapter.js';
import type { Drain } from '../src/pipeline/drain.js';
import { runRequest, type RequestDeps } from '../src/pipeline/run-request.js';
import { ProtocolError, isEncoded, type Frame, type OutgoingFrame, type Request } from '../src/protocol/index.js';

const log = pino({ level: 'silent' });
const limits = { maxConcurrentRequests: 4, maxQueuedRequests: 4, maxRequestTimeoutMs: 60_000, maxFrameBytes: 65_536, maxChunkItems: 2, maxConcurrentStreams: 8, streamWindow: 2 };

function scheduler(): TestScheduler {
  return new TestScheduler((a, e) => expect(a).toEqual(e));
}

function request(over: Partial<Request> = {}): Request {
  return { type: 'request', id: 'r1', op: 'search', dataSource: 'ds', params: {}, timeoutMs: 1000, ...over } as Request;
}

/** Frames as the hub would decode them (stream chunks are pre-encoded text). */
function run(req: Request, own$: Observable<Frame>, d: RequestDeps): Observable<Frame> {
  return runRequest(req, own$, d).pipe(map((f: OutgoingFrame) => (isEncoded(f) ? (JSON.parse(f.encoded) as Frame) : f)));
}

function deps(adapter: DataSourceAdapter, ts: TestScheduler): RequestDeps {
  return { dataSources: new Map([['ds', { adapter, operations: ['test', 'search'] }]]), limits, log, scheduler: ts };
}

interface PageAdapter {
  adapter: DataSourceAdapter;
  pulls: number[];
  closes: number[];
}

function pagedAdapter(ts: TestScheduler, pages: Array<Observable<Page<number>>>, test$: Observable<unknown> = NEVER): PageAdapter {
  const pulls: number[] = [];
  const closes: number[] = [];
  let i = 0;
  return {
    pulls,
    closes,
    adapter: {
      type: 'fake',
      supports: ['test', 'search'],
      test: () => test$,
      search: () => ({
        pull: () => {
          pulls.push(ts.now());
          return pages[i++] ?? NEVER;
        },
        close: () => void closes.push(ts.now()),
      }),
      close: () => Promise.resolve(),
    },
  };
}

describe('runRequest (virtual time)', () => {
  it('sends chunks only as credit arrives and pulls a page only when its chunks can go out', () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const p = pagedAdapter(ts, [
        cold('--a|', { a: { items: [1, 2, 3, 4], last: false } }),
        cold('--b|', { b: { items: [5], last: true } }),
      ]);
      //                credit:  1 at 10, 1 at 20, 1 at 30
      const own$ = hot<Frame>('10ms a 9ms b 9ms c', {
        a: { type: 'credit', id: 'r1', n: 1 } as Frame,
        b: { type: 'credit', id: 'r1', n: 1 } as Frame,
        c: { type: 'credit', id: 'r1', n: 1 } as Frame,
      });
      const out$ = run(request({ credit: 0 as never }), own$, deps(p.adapter, ts));
      // page 1 pulled at 10 (first credit), arrives at 12: chunk0 [1,2]; chunk1 [3,4] waits for
      // the credit at 20; page 2 pulled at 30 (third credit), arrives at 32 → chunk2, end.
      expectObservable(out$, '^ 100ms !').toBe('12ms a 7ms b 11ms (cd|)', {
        a: expect.objectContaining({ type: 'chunk', seq: 0, items: [1, 2] }) as unknown as Frame,
        b: expect.objectContaining({ type: 'chunk', seq: 1, items: [3, 4] }) as unknown as Frame,
        c: expect.objectContaining({ type: 'chunk', seq: 2, items: [5] }) as unknown as Frame,
        d: expect.objectContaining({ type: 'end', count: 5 }) as unknown as Frame,
      });
    });
  });

  it('records pulls exactly when credit allows, and closes the source at the end', () => {
    const ts = scheduler();
    let p!: PageAdapter;
    ts.run(({ cold, hot, expectObservable }) => {
      p = pagedAdapter(ts, [cold('-a|', { a: { items: [1, 2], last: false } }), cold('-b|', { b: { items: [3], last: true } })]);
      const own$ = hot<Frame>('5ms a 14ms b', { a: { type: 'credit', id: 'r1', n: 1 } as Frame, b: { type: 'credit', id: 'r1', n: 1 } as Frame });
      expectObservable(run(request(), own$, deps(p.adapter, ts))).toBe('6ms a 14ms (bc|)', {
        a: expect.objectContaining({ type: 'chunk', items: [1, 2] }) as unknown as Frame,
        b: expect.objectContaining({ type: 'chunk', items: [3] }) as unknown as Frame,
        c: expect.objectContaining({ type: 'end', count: 3 }) as unknown as Frame,
      });
    });
    expect(p.pulls).toEqual([5, 20]);
    expect(p.closes).toEqual([21]);
  });

  it('cancel stops the stream at once: no more frames, the page source is closed, no further pull', () => {
    const ts = scheduler();
    let p!: PageAdapter;
    ts.run(({ cold, hot, expectObservable }) => {
      p = pagedAdapter(ts, [cold('-a|', { a: { items: [1, 2], last: false } }), cold('-----------b|', { b: { items: [3], last: true } })]);
      const own$ = hot<Frame>('a 9ms c 9ms b', {
        a: { type: 'credit', id: 'r1', n: 2 } as Frame,
        c: { type: 'cancel', id: 'r1' } as Frame,
        b: { type: 'credit', id: 'r1', n: 5 } as Frame,
      });
      expectObservable(run(request(), own$, deps(p.adapter, ts))).toBe('-a 8ms |', {
        a: expect.objectContaining({ type: 'chunk', items: [1, 2] }) as unknown as Frame,
      });
    });
    // second pull started at 1 (credit left), cancelled at 10 before its page arrived at 12
    expect(p.pulls).toEqual([0, 1]);
    expect(p.closes).toEqual([10]);
  });

  it('a failure mid-stream ends with one error frame, never an end', () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const p = pagedAdapter(ts, [
        cold('-a|', { a: { items: [1], last: false } }),
        cold('--#', {}, new ProtocolError('UPSTREAM_UNAVAILABLE', 'gone')),
      ]);
      const own$ = hot<Frame>('a', { a: { type: 'credit', id: 'r1', n: 10 } as Frame });
      expectObservable(run(request(), own$, deps(p.adapter, ts))).toBe('-a-(b|)', {
        a: expect.objectContaining({ type: 'chunk', items: [1] }) as unknown as Frame,
        b: { type: 'error', id: 'r1', code: 'UPSTREAM_UNAVAILABLE', message: 'gone', retryable: true },
      });
    });
  });

  it('the deadline (min of timeoutMs and the local cap) turns a slow request into TIMEOUT', () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const p = pagedAdapter(ts, [], cold('500ms a|', { a: { ok: true } }));
      const out$ = run(request({ op: 'test', timeoutMs: 300 as never }), hot<Frame>(''), deps(p.adapter, ts));
      expectObservable(out$, '^ 1000ms !').toBe('300ms (a|)', {
        a: expect.objectContaining({ type: 'error', code: 'TIMEOUT' }) as unknown as Frame,
      });
    });
  });

  it('a request-response op answers one result frame', () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const p = pagedAdapter(ts, [], cold('5ms a|', { a: { ok: true } }));
      expectObservable(run(request({ op: 'test' }), hot<Frame>(''), deps(p.adapter, ts))).toBe('5ms (a|)', {
        a: { type: 'result', id: 'r1', data: { ok: true } },
      });
    });
  });

  it("pre-serialised items (itemFormat 'json') are measured and sent as they are, not encoded again", () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const texts = ['{"dn":"a","n":1}', '"Zoë"', '[1,2]'];
      const pages = [cold('-a|', { a: { items: texts, last: false } }), cold('----b|', { b: { items: [], last: true } })];
      let i = 0;
      const adapter: DataSourceAdapter = {
        type: 'fake',
        supports: ['test', 'search'],
        test: () => NEVER,
        search: () => ({ pull: () => pages[i++] ?? NEVER, close: () => undefined, itemFormat: 'json' }),
        close: () => Promise.resolve(),
      };
      const own$ = hot<Frame>('a', { a: { type: 'credit', id: 'r1', n: 10 } as Frame });
      // maxChunkItems 2: the texts go out in two chunks, byte for byte; page 2 (pulled at 1) ends it.
      expectObservable(runRequest(request(), own$, deps(adapter, ts))).toBe('-(ab)(c|)', {
        a: { type: 'chunk', encoded: '{"type":"chunk","id":"r1","seq":0,"items":[{"dn":"a","n":1},"Zoë"]}' },
        b: { type: 'chunk', encoded: '{"type":"chunk","id":"r1","seq":1,"items":[[1,2]]}' },
        c: { type: 'end', id: 'r1', count: 3 },
      });
    });
  });

  it('a pre-serialised page holding something else than text fails the stream with INTERNAL', () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const adapter: DataSourceAdapter = {
        type: 'fake',
        supports: ['test', 'search'],
        test: () => NEVER,
        search: () => ({ pull: () => cold('-a|', { a: { items: [{ not: 'text' }], last: true } }), close: () => undefined, itemFormat: 'json' }),
        close: () => Promise.resolve(),
      };
      const own$ = hot<Frame>('a', { a: { type: 'credit', id: 'r1', n: 10 } as Frame });
      expectObservable(run(request(), own$, deps(adapter, ts))).toBe('-(a|)', {
        a: expect.objectContaining({ type: 'error', code: 'INTERNAL' }) as unknown as Frame,
      });
    });
  });

  it('an operation outside the allow-list is refused without touching the adapter', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const p = pagedAdapter(ts, []);
      expectObservable(run(request({ op: 'export' }), hot<Frame>(''), deps(p.adapter, ts))).toBe('(a|)', {
        a: expect.objectContaining({ type: 'error', code: 'OPERATION_NOT_ALLOWED' }) as unknown as Frame,
      });
      expect(p.pulls).toEqual([]);
    });
  });
});

describe('runRequest at the end of the shutdown grace period (virtual time)', () => {
  /** A drain whose grace period ends when `stopping$` emits (the real one runs on wall-clock promises). */
  const stoppingAt = (stopping$: Observable<void>): Drain => ({ stopping$ }) as unknown as Drain;

  it('a running request ends at once with a retryable CANCELLED; its page source is closed', () => {
    const ts = scheduler();
    let p!: PageAdapter;
    ts.run(({ cold, hot, expectObservable }) => {
      p = pagedAdapter(ts, [cold('-a|', { a: { items: [1], last: false } }), NEVER]);
      const own$ = hot<Frame>('a', { a: { type: 'credit', id: 'r1', n: 10 } as Frame });
      const d = { ...deps(p.adapter, ts), drain: stoppingAt(hot('20ms s', { s: undefined })) };
      expectObservable(run(request(), own$, d)).toBe('-a 18ms (b|)', {
        a: expect.objectContaining({ type: 'chunk', items: [1] }) as unknown as Frame,
        b: { type: 'error', id: 'r1', code: 'CANCELLED', message: 'search stopped: the agent is shutting down (shutdownGracePeriod is over)', retryable: true },
      });
    });
    expect(p.closes).toEqual([20]);
  });

  it('an export stops after the record being written: its result and those before it go out, then CANCELLED; the next record is never started', () => {
    const ts = scheduler();
    const started: number[] = [];
    ts.run(({ cold, hot, expectObservable }) => {
      const adapter: DataSourceAdapter = {
        type: 'fake',
        supports: ['export'],
        test: () => NEVER,
        // One record at a time, 10 ms each (as every shipped adapter: concatMap).
        export: (records$) =>
          records$.pipe(
            concatMap((_, index) => {
              started.push(index);
              return cold<ExportResult>('10ms (r|)', { r: { index, ok: true } });
            }),
          ),
        close: () => Promise.resolve(),
      };
      const own$ = hot<Frame>('-c', { c: { type: 'chunk', id: 'r1', seq: 0, items: [{}, {}, {}] } as Frame });
      const d: RequestDeps = {
        dataSources: new Map([['ds', { adapter, operations: ['export'] }]]),
        limits: { ...limits, maxChunkItems: 10 },
        log,
        scheduler: ts,
        // Mid-way through record 1 (written 11 → 21).
        drain: stoppingAt(hot('15ms s', { s: undefined })),
      };
      expectObservable(run(request({ op: 'export', credit: 8 as never }), own$, d)).toBe('a 20ms (bc|)', {
        a: { type: 'credit', id: 'r1', n: 2 },
        b: { type: 'chunk', id: 'r1', seq: 0, items: [{ index: 0, ok: true }, { index: 1, ok: true }] },
        c: {
          type: 'error',
          id: 'r1',
          code: 'CANCELLED',
          message: 'export stopped after 2 records, each with its result; the records after them were not written: the agent is shutting down (shutdownGracePeriod is over)',
          retryable: true,
          // Both results went out in the chunk (credit allowed it): none left for the error.
          details: { count: 2, results: [] },
        },
      });
    });
    expect(started).toEqual([0, 1]);
  });

  it('an export writing nothing when the stop comes ends at once', () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const adapter: DataSourceAdapter = {
        type: 'fake',
        supports: ['export'],
        test: () => NEVER,
        export: (records$) => records$.pipe(concatMap((_, index) => cold<ExportResult>('2ms (r|)', { r: { index, ok: true } }))),
        close: () => Promise.resolve(),
      };
      const own$ = hot<Frame>('-c', { c: { type: 'chunk', id: 'r1', seq: 0, items: [{}] } as Frame });
      const d: RequestDeps = { dataSources: new Map([['ds', { adapter, operations: ['export'] }]]), limits, log, scheduler: ts, drain: stoppingAt(hot('10ms s', { s: undefined })) };
      // Record 0 answered at 3; its result waits in the chunk being filled until the stop flushes
      // it. A stopping export grants no more records.
      expectObservable(run(request({ op: 'export', credit: 8 as never }), own$, d)).toBe('a 9ms (bc|)', {
        a: { type: 'credit', id: 'r1', n: 2 },
        b: { type: 'chunk', id: 'r1', seq: 0, items: [{ index: 0, ok: true }] },
        c: expect.objectContaining({ type: 'error', code: 'CANCELLED', retryable: true, details: { count: 1, results: [] } }) as unknown as Frame,
      });
    });
  });
});
