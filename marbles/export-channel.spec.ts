/**
 * Every write accounted for, in virtual time: an export driven through `runRequest` by a hot
 * stream of the hub's frames, against a fake adapter of cold observables that records each
 * write it starts. For every way an export can fail — a record chunk beyond the agent's credit,
 * an `end` whose count disagrees, the hub's result window exhausted until the deadline, the
 * deadline mid-write, the shutdown, a failing adapter — the records written equal the results
 * reported: those sent in chunks plus those in the error frame's `details.results`, whose
 * `details.count` is their sum. No chunk goes out without credit, and the error frame fits
 * `maxFrameBytes`.
 */
import { pino } from 'pino';
import { NEVER, concatMap, defer, finalize, mergeMap, take, tap, throwError, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { DataSourceAdapter, ExportResult } from '../src/adapter-kit/adapter.js';
import type { Drain } from '../src/pipeline/drain.js';
import { DEADLINE_WRITE_GRACE_MS, exportFrames } from '../src/pipeline/export-channel.js';
import type { PipelineLimits } from '../src/pipeline/limits.js';
import { runRequest, type RequestDeps } from '../src/pipeline/run-request.js';
import { ProtocolError, encodeFrame, isEncoded, type ErrorFrame, type Frame, type Request } from '../src/protocol/index.js';

const log = pino({ level: 'silent' });
const LIMITS: PipelineLimits = {
  maxConcurrentRequests: 4,
  maxQueuedRequests: 4,
  maxRequestTimeoutMs: 60_000,
  maxFrameBytes: 65_536,
  maxChunkItems: 2,
  maxConcurrentStreams: 8,
  streamWindow: 2,
};

type Write = (index: number) => Observable<ExportResult>;

/** A fake adapter: one record at a time (as every shipped adapter), each write from `write`. */
interface Writes {
  readonly adapter: DataSourceAdapter;
  /** Index of every record whose write started (it may be on the wire). */
  readonly started: number[];
  /** Virtual times at which a write was abandoned before it finished. */
  readonly abandoned: number[];
  /** Most writes running at once. */
  maxRunning: number;
}

function writes(ts: TestScheduler, write: Write, concurrent = false): Writes {
  const w: Writes = {
    started: [],
    abandoned: [],
    maxRunning: 0,
    adapter: {
      type: 'fake',
      supports: ['export'],
      test: () => NEVER,
      export: (records$) => {
        let running = 0;
        const one = (_r: unknown, index: number): Observable<ExportResult> =>
          defer(() => {
            w.started.push(index);
            running += 1;
            w.maxRunning = Math.max(w.maxRunning, running);
            // A write is over once it answered (or failed); unsubscribed before that, it was abandoned.
            let done = false;
            const settle = (): void => {
              if (done) return;
              done = true;
              running -= 1;
            };
            return write(index).pipe(
              tap({ next: settle, error: settle }),
              finalize(() => {
                if (!done) w.abandoned.push(ts.now());
                settle();
              }),
            );
          });
        // A misbehaving adapter that writes concurrently still gets one record at a time.
        return records$.pipe(concurrent ? mergeMap(one) : concatMap(one));
      },
      close: () => Promise.resolve(),
    },
  };
  return w;
}

function request(over: Partial<Request> = {}): Request {
  return { type: 'request', id: 'r1', op: 'export', dataSource: 'ds', params: {}, timeoutMs: 10_000, credit: 8, ...over } as Request;
}

const stoppingAt = (stopping$: Observable<void>): Drain => ({ stopping$ }) as unknown as Drain;

function deps(adapter: DataSourceAdapter, ts: TestScheduler, more: Partial<RequestDeps> = {}): RequestDeps {
  return { dataSources: new Map([['ds', { adapter, operations: ['export'] }]]), limits: LIMITS, log, scheduler: ts, ...more };
}

const chunk = (seq: number, n: number): Frame => ({ type: 'chunk', id: 'r1', seq, items: Array.from({ length: n }, (_, i) => ({ r: `${seq}.${i}` })) }) as Frame;
const end = (count: number): Frame => ({ type: 'end', id: 'r1', count }) as Frame;
const ok = (index: number): ExportResult => ({ index, ok: true });

interface Run {
  /** [virtual time, frame] of everything the agent sent. */
  readonly frames: Array<[number, Frame]>;
  readonly w: Writes;
  /** Result chunks the hub granted: the request's credit plus its credit frames. */
  readonly resultCredit: number;
}

/** Runs one export in virtual time: `hub` marbles (values from `values`), the adapter's writes from `write`. */
function exportRun(
  hub: string,
  values: Record<string, Frame>,
  write: (cold: TestScheduler['createColdObservable'], index: number) => Observable<ExportResult>,
  options: { req?: Partial<Request>; stop?: string; limits?: Partial<PipelineLimits>; concurrent?: boolean } = {},
): Run {
  const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
  const frames: Array<[number, Frame]> = [];
  let w!: Writes;
  ts.run(({ cold, hot }) => {
    w = writes(ts, (index) => write(cold, index), options.concurrent);
    const d = deps(w.adapter, ts, {
      limits: { ...LIMITS, ...options.limits },
      ...(options.stop ? { drain: stoppingAt(hot<void>(options.stop, { s: undefined })) } : {}),
    });
    runRequest(request(options.req), hot<Frame>(hub, values), d).subscribe((f) => frames.push([ts.now(), isEncoded(f) ? (JSON.parse(f.encoded) as Frame) : f]));
  });
  const granted = Object.values(values).reduce((n, f) => n + (f.type === 'credit' ? f.n : 0), 0);
  return { frames, w, resultCredit: (options.req?.credit ?? request().credit ?? 0) + granted };
}

/** Results sent in chunks, results in the error frame, and the error frame itself. */
function accounting(run: Run): { inChunks: ExportResult[]; inError: ExportResult[]; error: ErrorFrame | undefined } {
  const inChunks = run.frames.flatMap(([, f]) => (f.type === 'chunk' ? (f.items as ExportResult[]) : []));
  const error = run.frames.map(([, f]) => f).find((f): f is ErrorFrame => f.type === 'error');
  const details = error?.details as { count?: number; results?: ExportResult[] } | undefined;
  return { inChunks, inError: details?.results ?? [], error };
}

/** Written == reported: one result per record written, in order, and `details.count` says so. */
function expectAccounted(run: Run): { written: number; inChunks: number; inError: number } {
  const { inChunks, inError, error } = accounting(run);
  const reported = [...inChunks, ...inError];
  expect(reported.map((r) => r.index)).toEqual(run.w.started);
  if (error) expect(error.details).toMatchObject({ count: reported.length });
  // Never a chunk without credit.
  expect(run.frames.filter(([, f]) => f.type === 'chunk').length).toBeLessThanOrEqual(run.resultCredit);
  return { written: run.w.started.length, inChunks: inChunks.length, inError: inError.length };
}

const types = (run: Run): Array<[number, string]> => run.frames.map(([t, f]) => [t, f.type === 'error' ? `error ${f.code}` : f.type]);

describe('export accounting on every failure path (virtual time)', () => {
  it('a record chunk beyond the credit: the record being written finishes, its result and those before it travel in the error', () => {
    // Writes take 10 ms; the hub grants no result credit, so nothing can go out in a chunk.
    // Chunks 0 and 1 are within the window of 2; chunk 2 comes at 15, while record 1 is written (11 → 21).
    const run = exportRun('-ab 12ms c', { a: chunk(0, 2), b: chunk(1, 2), c: chunk(2, 1) }, (cold, i) => cold('10ms (r|)', { r: ok(i) }), { req: { credit: 0 as never } });
    expect(types(run)).toEqual([
      [0, 'credit'],
      [21, 'error BAD_REQUEST'],
    ]);
    const { error } = accounting(run);
    expect(error).toEqual({
      type: 'error',
      id: 'r1',
      code: 'BAD_REQUEST',
      message: 'export chunk 3 sent without credit (granted 2)',
      retryable: false,
      details: { count: 2, results: [ok(0), ok(1)] },
    });
    expect(expectAccounted(run)).toEqual({ written: 2, inChunks: 0, inError: 2 });
    expect(run.w.abandoned).toEqual([]);
  });

  it('an end whose count disagrees: results that had credit went out in a chunk, the rest travel in the error', () => {
    // One result chunk of credit. Records 0, 1 (1 → 21) fill it; record 2 is written 21 → 31; the bad end comes at 25.
    const run = exportRun('-ab 22ms e', { a: chunk(0, 2), b: chunk(1, 1), e: end(5) }, (cold, i) => cold('10ms (r|)', { r: ok(i) }), { req: { credit: 1 as never } });
    expect(run.frames).toEqual([
      [0, { type: 'credit', id: 'r1', n: 2 }],
      [21, { type: 'chunk', id: 'r1', seq: 0, items: [ok(0), ok(1)] }],
      [21, { type: 'credit', id: 'r1', n: 1 }],
      [31, { type: 'error', id: 'r1', code: 'BAD_REQUEST', message: 'export end says 5 records, 3 arrived', retryable: false, details: { count: 3, results: [ok(2)] } }],
    ]);
    expect(expectAccounted(run)).toEqual({ written: 3, inChunks: 2, inError: 1 });
  });

  it('the hub’s result window exhausted: the writes stop with the credit, and at the deadline the results not sent travel in the TIMEOUT', () => {
    // One result chunk of credit, then none. Writes take 1 ms.
    const run = exportRun('-ab 7ms c', { a: chunk(0, 2), b: chunk(1, 2), c: chunk(2, 2) }, (cold, i) => cold('1ms (r|)', { r: ok(i) }), {
      req: { credit: 1 as never, timeoutMs: 100 as never },
    });
    expect(types(run)).toEqual([
      [0, 'credit'],
      [3, 'chunk'],
      [3, 'credit'],
      [100, 'error TIMEOUT'],
    ]);
    const { error } = accounting(run);
    expect(error).toMatchObject({ code: 'TIMEOUT', message: 'export on ds did not finish within 100 ms', retryable: true });
    expect(error?.details).toEqual({ count: 6, results: [ok(2), ok(3), ok(4), ok(5)] });
    expect(expectAccounted(run)).toEqual({ written: 6, inChunks: 2, inError: 4 });
  });

  it('the deadline mid-write: the record being written finishes (within the grace), then TIMEOUT with its result', () => {
    // Writes take 40 ms: record 2 is written 81 → 121 when the deadline passes at 100. One
    // result chunk of credit, taken by records 0 and 1.
    const run = exportRun('-(ab)', { a: chunk(0, 2), b: chunk(1, 1) }, (cold, i) => cold('40ms (r|)', { r: ok(i) }), { req: { credit: 1 as never, timeoutMs: 100 as never } });
    expect(types(run)).toEqual([
      [0, 'credit'],
      [81, 'chunk'],
      [81, 'credit'],
      [121, 'error TIMEOUT'],
    ]);
    expect(accounting(run).error?.details).toEqual({ count: 3, results: [ok(2)] });
    expect(expectAccounted(run)).toEqual({ written: 3, inChunks: 2, inError: 1 });
    expect(run.w.abandoned).toEqual([]);
  });

  it('the deadline mid-write, and the write never finishes: abandoned after the grace, reported OUTCOME_UNKNOWN', () => {
    // Record 0 is written 1 → 11 (its chunk flushed at 61, taking the one credit); record 1 hangs from 11.
    const run = exportRun('-a', { a: chunk(0, 2) }, (cold, i) => (i === 0 ? cold('10ms (r|)', { r: ok(0) }) : cold('-')), { req: { credit: 1 as never, timeoutMs: 100 as never } });
    const cut = 100 + DEADLINE_WRITE_GRACE_MS;
    expect(types(run)).toEqual([
      [0, 'credit'],
      [61, 'chunk'],
      [cut, 'error TIMEOUT'],
    ]);
    expect(accounting(run).error?.details).toEqual({
      count: 2,
      results: [
        {
          index: 1,
          ok: false,
          code: 'OUTCOME_UNKNOWN',
          message: `record 1 was being written when the export stopped and its write did not finish within ${DEADLINE_WRITE_GRACE_MS} ms: check whether the data source applied it`,
          retryable: false,
        },
      ],
    });
    expect(expectAccounted(run)).toEqual({ written: 2, inChunks: 1, inError: 1 });
    expect(run.w.abandoned).toEqual([cut]);
  });

  it('the shutdown mid-write without result credit: the record finishes, CANCELLED carries every result', () => {
    const run = exportRun('-(ab)', { a: chunk(0, 2), b: chunk(1, 2) }, (cold, i) => cold('10ms (r|)', { r: ok(i) }), { req: { credit: 0 as never }, stop: '15ms s' });
    expect(run.frames).toEqual([
      [0, { type: 'credit', id: 'r1', n: 2 }],
      [
        21,
        {
          type: 'error',
          id: 'r1',
          code: 'CANCELLED',
          message: 'export stopped after 2 records, each with its result; the records after them were not written: the agent is shutting down (shutdownGracePeriod is over)',
          retryable: true,
          details: { count: 2, results: [ok(0), ok(1)] },
        },
      ],
    ]);
    expect(expectAccounted(run)).toEqual({ written: 2, inChunks: 0, inError: 2 });
  });

  it('the adapter fails mid-write: the results before travel in the error, the record it was writing is OUTCOME_UNKNOWN', () => {
    const boom = new ProtocolError('UPSTREAM_UNAVAILABLE', 'connection lost');
    const run = exportRun('-a', { a: chunk(0, 2) }, (cold, i) => (i === 0 ? cold('10ms (r|)', { r: ok(0) }) : cold('5ms #', undefined, boom)), { req: { credit: 0 as never } });
    expect(types(run)).toEqual([
      [0, 'credit'],
      [16, 'error UPSTREAM_UNAVAILABLE'],
    ]);
    const { error } = accounting(run);
    expect(error).toMatchObject({ message: 'connection lost', retryable: true });
    expect(error?.details).toEqual({
      count: 2,
      results: [
        ok(0),
        expect.objectContaining({ index: 1, ok: false, code: 'OUTCOME_UNKNOWN', message: expect.stringContaining('the data source adapter failed') as unknown }),
      ],
    });
    expect(expectAccounted(run)).toEqual({ written: 2, inChunks: 0, inError: 2 });
  });

  it('the adapter fails before any record (e.g. no connection): the error says 0 results', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.run(({ cold, hot, expectObservable }) => {
      const adapter: DataSourceAdapter = {
        type: 'fake',
        supports: ['export'],
        test: () => NEVER,
        export: () => throwError(() => new ProtocolError('BUSY', 'no connection free')),
        close: () => Promise.resolve(),
      };
      expectObservable(runRequest(request(), hot<Frame>('-a', { a: chunk(0, 1) }), deps(adapter, ts))).toBe('(ab|)', {
        a: { type: 'credit', id: 'r1', n: 2 },
        b: { type: 'error', id: 'r1', code: 'BUSY', message: 'no connection free', retryable: true, details: { count: 0, results: [] } },
      });
      void cold;
    });
  });

  it('an adapter that ends without answering every record: INTERNAL, the record it held OUTCOME_UNKNOWN', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const frames: Frame[] = [];
    ts.run(({ cold, hot }) => {
      const adapter: DataSourceAdapter = {
        type: 'fake',
        supports: ['export'],
        test: () => NEVER,
        // Answers record 0, then ends while holding record 1 (with no result for it).
        export: (records$) => records$.pipe(take(2), concatMap((_r, index) => (index === 0 ? cold('2ms (r|)', { r: ok(0) }) : cold<ExportResult>('2ms |')))),
        close: () => Promise.resolve(),
      };
      runRequest(request({ credit: 0 as never }), hot<Frame>('-a', { a: chunk(0, 2) }), deps(adapter, ts)).subscribe((f) => frames.push(f as Frame));
    });
    const error = frames.at(-1) as ErrorFrame;
    expect(error).toMatchObject({ code: 'INTERNAL', details: { count: 2, results: [ok(0), expect.objectContaining({ index: 1, code: 'OUTCOME_UNKNOWN' })] } });
  });

  it('no failure: every result goes out in chunks under credit, end.count = records written', () => {
    const run = exportRun('-ab-e', { a: chunk(0, 2), b: chunk(1, 1), e: end(3) }, (cold, i) => cold('1ms (r|)', { r: ok(i) }));
    expect(types(run)).toEqual([
      [0, 'credit'],
      [3, 'chunk'],
      [3, 'credit'],
      [4, 'chunk'],
      [4, 'credit'],
      [4, 'end'],
    ]);
    expect(run.frames.at(-1)?.[1]).toEqual({ type: 'end', id: 'r1', count: 3 });
    expect(expectAccounted(run)).toEqual({ written: 3, inChunks: 3, inError: 0 });
  });

  it('an adapter that would write concurrently is still handed one record at a time', () => {
    const run = exportRun('-ab-e', { a: chunk(0, 2), b: chunk(1, 2), e: end(4) }, (cold, i) => cold('5ms (r|)', { r: ok(i) }), { concurrent: true });
    expect(run.w.maxRunning).toBe(1);
    expect(run.frames.at(-1)?.[1]).toEqual({ type: 'end', id: 'r1', count: 4 });
    expect(expectAccounted(run)).toEqual({ written: 4, inChunks: 4, inError: 0 });
  });

  it('a cancel gets no reply: the request ends silently and the write in progress is abandoned', () => {
    const run = exportRun('-a 9ms c', { a: chunk(0, 2), c: { type: 'cancel', id: 'r1' } as Frame }, (cold, i) => cold('7ms (r|)', { r: ok(i) }), { req: { credit: 0 as never } });
    expect(types(run)).toEqual([[0, 'credit']]);
    // Record 0 written 1 → 8; record 1 started at 8 and was abandoned by the cancel at 11.
    expect(run.w.started).toEqual([0, 1]);
    expect(run.w.abandoned).toEqual([11]);
  });
});

describe('the error frame fits maxFrameBytes', () => {
  const MAX = 8192;
  const refused = (index: number, chars: number): ExportResult => ({ index, ok: false, code: 'CONSTRAINT_VIOLATION', message: 'm'.repeat(chars), retryable: false });

  it('records are handed over only while their results still fit one error frame; the rest wait', () => {
    // Results of ~1,075 bytes, no result credit: room for the error frame's results is
    // 8,192 - 2,048 bytes, and a record is handed over only while one more result of up to
    // 3,072 bytes (the cap at this frame size) fits: after 3 results the 4th record waits.
    const run = exportRun('-ab', { a: chunk(0, 2), b: chunk(1, 2) }, (cold, i) => cold('1ms (r|)', { r: refused(i, 1000) }), {
      req: { credit: 0 as never, timeoutMs: 100 as never },
      limits: { maxFrameBytes: MAX },
    });
    const { error } = accounting(run);
    expect(error?.code).toBe('TIMEOUT');
    expect(expectAccounted(run)).toEqual({ written: 3, inChunks: 0, inError: 3 });
    expect(run.w.started).toEqual([0, 1, 2]);
    expect(Buffer.byteLength(encodeFrame(error as ErrorFrame, MAX))).toBeLessThanOrEqual(MAX);
  });

  it('a result too large for a frame is shortened (message cut, ending in …), never dropped', () => {
    const run = exportRun('-a-e', { a: chunk(0, 1), e: end(1) }, (cold, i) => cold('1ms (r|)', { r: refused(i, 50_000) }), { limits: { maxFrameBytes: MAX } });
    const { inChunks } = accounting(run);
    expect(inChunks).toHaveLength(1);
    const r = inChunks[0] as Extract<ExportResult, { ok: false }>;
    expect(r).toMatchObject({ index: 0, ok: false, code: 'CONSTRAINT_VIOLATION', retryable: false });
    expect(r.message).toMatch(/^m+…$/);
    expect(Buffer.byteLength(JSON.stringify(r))).toBeLessThanOrEqual(4096);
    expect(run.frames.at(-1)?.[1]).toEqual({ type: 'end', id: 'r1', count: 1 });
  });

  it('an adapter error too large to go with the results: its details are left out, then its message is cut', () => {
    const huge = new ProtocolError('UPSTREAM_ERROR', 'x'.repeat(20_000), { details: { problems: ['p'.repeat(20_000)] } });
    const run = exportRun('-a', { a: chunk(0, 2) }, (cold, i) => (i === 0 ? cold('1ms (r|)', { r: refused(0, 1000) }) : cold('1ms #', undefined, huge)), {
      req: { credit: 0 as never },
      limits: { maxFrameBytes: MAX },
    });
    const { error } = accounting(run);
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', details: { count: 2 } });
    expect(error?.details).not.toHaveProperty('problems');
    expect(error?.message).toMatch(/^x+…$/);
    expect(Buffer.byteLength(encodeFrame(error as ErrorFrame, MAX))).toBeLessThanOrEqual(MAX);
    expect(expectAccounted(run)).toEqual({ written: 2, inChunks: 0, inError: 2 });
  });
});

describe('export channel under the session writer (writeReady$)', () => {
  it('record credit waits while the writer holds a frame of the export; results still go out, none dropped', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const frames: Array<[number, Frame]> = [];
    ts.run(({ cold, hot }) => {
      const w = writes(ts, (index) => cold('-(r|)', { r: ok(index) }));
      // streamWindow 2: the hub sends two chunks of 2 records at 1 and 2, then one more at 10
      // (on the credit granted back), then the end.
      const inbound$ = hot<Frame>('-ab-------c-e', { a: chunk(0, 2), b: chunk(1, 2), c: chunk(2, 2), e: end(6) });
      // The writer is full from 3 to 9.
      const writeReady$ = hot('o--c-----o', { o: true, c: false });
      exportFrames({
        request: request(),
        adapter: w.adapter,
        ctx: { requestId: 'r1', dataSource: 'ds', log },
        inbound$,
        credit$: NEVER,
        limits: LIMITS,
        scheduler: ts,
        writeReady$,
      }).subscribe((f) => frames.push([ts.now(), f]));
    });
    const credits = frames.filter(([, f]) => f.type === 'credit').map(([t, f]) => [t, f.type === 'credit' ? f.n : 0]);
    // The window at 0; chunk 0's results are all sent at 3 but the writer is full until 9.
    expect(credits[0]).toEqual([0, 2]);
    expect(credits.slice(1).every(([t]) => (t as number) < 3 || (t as number) >= 9)).toBe(true);
    expect(credits.slice(1).some(([t]) => t === 9)).toBe(true);
    const results = frames.flatMap(([, f]) => (f.type === 'chunk' ? (f.items as ExportResult[]) : []));
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(frames.at(-1)?.[1]).toEqual({ type: 'end', id: 'r1', count: 6 });
  });
});
