/**
 * Progress lines of long streams (src/pipeline/progress.ts) in virtual time: a search that runs
 * longer than the interval logs one line per interval with the items sent so far and the rate,
 * then its end at info with the totals; a short one logs nothing but its end at debug; 0 turns
 * the lines off; a cancel ends the ticker.
 */
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { logRecords } from './helpers/log-records.js';
import type { RequestMeter } from '../src/pipeline/meter.js';
import { withProgress } from '../src/pipeline/progress.js';

const inner = (): RequestMeter & { calls: string[] } => {
  const calls: string[] = [];
  return { calls, firstResult: () => calls.push('first'), chunkSent: (n) => calls.push(`chunk ${n}`), creditStalled: () => calls.push('stall'), finished: (c) => calls.push(`finished ${c}`) };
};

describe('progress of long streams (marbles)', () => {
  it('one line per interval with items, bytes and the rate of the last interval; the end at info with the totals', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const { log, records } = logRecords();
    const base = inner();
    ts.run(({ cold, flush }) => {
      const meter = withProgress(base, { everyMs: 1000, log, op: 'search', scheduler: ts });
      // 500 items every 250 ms from 100 ms on (never at a tick), then the end at 2450 ms.
      cold('100ms a 249ms a 249ms a 249ms a 249ms a 249ms a 249ms a 249ms a 249ms a 249ms a 99ms e').subscribe((v) => (v === 'a' ? meter.chunkSent(500, 50_000) : meter.finished('OK')));
      flush();
    });
    expect(records.map((r) => [r['level'], r['msg'], r['items'], r['perSecond'], r['elapsedMs']])).toEqual([
      [30, 'search in progress: 2000 items sent', 2000, 2000, 1000],
      [30, 'search in progress: 4000 items sent', 4000, 2000, 2000],
      [30, 'search finished: 5000 items, OK', 5000, undefined, 2450],
    ]);
    expect(records.at(-1)).toMatchObject({ outcome: 'OK', bytes: 500_000 });
    expect(base.calls.filter((c) => c.startsWith('chunk'))).toHaveLength(10);
    expect(base.calls.at(-1)).toBe('finished OK');
  });

  it('a short stream: no progress line, its end at debug; 0 turns the lines off; after the end no more lines', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const { log, records } = logRecords();
    ts.run(({ cold, flush }) => {
      const short = withProgress(inner(), { everyMs: 1000, log, op: 'export', scheduler: ts });
      cold('100ms a 100ms c').subscribe((v) => (v === 'a' ? short.chunkSent(3, 10) : short.finished('CANCELLED')));
      const off = withProgress(inner(), { everyMs: 0, log, op: 'search', scheduler: ts });
      cold('5000ms a 5000ms e').subscribe((v) => (v === 'a' ? off.chunkSent(1, 1) : off.finished('OK')));
      flush();
    });
    expect(records.map((r) => [r['level'], r['msg'], r['outcome'], r['items']])).toEqual([
      [20, 'request finished', 'CANCELLED', 3],
      [20, 'request finished', 'OK', 1],
    ]);
  });
});
