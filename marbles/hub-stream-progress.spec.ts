/**
 * The hub's progress and counts of an API stream (src/hub/http/request-progress.ts) in virtual
 * time (scheduled actions up to `maxFrames`, so a ticker left running shows as extra lines): one line per interval with the lines written so far and the rate of the last interval,
 * none after the response closed and none with the interval at 0; the summary outcome
 * (`ok`, `partial`, `failed`, `cancelled`) and counts of the completion line; the metrics fed.
 */
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { logRecords } from './helpers/log-records.js';
import { StreamProgress, summaryOf, trackStream, type StreamCounters, type StreamOp } from '../src/hub/http/request-progress.js';

const counters = (): StreamCounters & { calls: string[] } => {
  const calls: string[] = [];
  return {
    calls,
    streamItems: (op, outcome, n) => calls.push(`items ${op} ${outcome} ${n}`),
    streamBytes: (op, n) => calls.push(`bytes ${op} ${n}`),
    streamEnded: (op, outcome) => calls.push(`ended ${op} ${outcome}`),
  };
};

const options = (op: StreamOp, log: Logger, c: StreamCounters, ts: TestScheduler, everyMs = 1000) => ({
  op,
  everyMs,
  log,
  tenantId: '1',
  dataSource: 'ldap',
  counters: c,
  scheduler: ts,
});

describe("the hub's progress of an API stream (marbles)", () => {
  it('a search: one line per interval with entries, bytes and the rate of the last interval; none after the close', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.maxFrames = 10_000;
    const { log, records } = logRecords();
    const c = counters();
    const progress = new StreamProgress(options('search', log, c, ts));
    progress.servedBy('site-a-1');
    // 500 entries every 250 ms from 100 ms on, the summary line at 2450 ms, the close at 2500.
    for (let k = 0; k < 10; k++) ts.schedule(() => progress.written(500, 0, 50_000), 100 + 250 * k);
    ts.schedule(() => progress.ended({ outcome: 'ok', truncated: true }), 2450);
    ts.schedule(() => progress.close(), 2500);
    ts.flush();
    expect(records.map((r) => [r['msg'], r['entries'], r['perSecond'], r['elapsedMs']])).toEqual([
      ['search in progress: 2000 entries written', 2000, 2000, 1000],
      ['search in progress: 4000 entries written', 4000, 2000, 2000],
    ]);
    expect(records[0]).toEqual({
      level: 30,
      msg: 'search in progress: 2000 entries written',
      op: 'search',
      tenantId: '1',
      dataSource: 'ldap',
      agentId: 'site-a-1',
      entries: 2000,
      bytes: 200_000,
      perSecond: 2000,
      elapsedMs: 1000,
    });
    expect(progress.summary()).toEqual({ outcome: 'ok', agentId: 'site-a-1', entries: 5000, bytes: 500_000, truncated: true });
    expect(c.calls.filter((x) => x.startsWith('items'))).toEqual(Array(10).fill('items search ok 500'));
    expect(c.calls.at(-1)).toBe('ended search ok');
  });

  it('an export: ok and failed counted apart; failed records make it partial; the rate counts both', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.maxFrames = 10_000;
    const { log, records } = logRecords();
    const c = counters();
    const progress = new StreamProgress(options('export', log, c, ts));
    ts.schedule(() => progress.written(8, 2, 300), 500);
    ts.schedule(() => progress.ended({ outcome: 'ok' }), 1500);
    ts.schedule(() => progress.close(), 1500);
    ts.flush();
    expect(records.map((r) => [r['msg'], r['ok'], r['failed'], r['perSecond'], r['agentId']])).toEqual([
      ['export in progress: 10 results written (8 ok, 2 failed)', 8, 2, 10, undefined],
    ]);
    expect(progress.summary()).toEqual({ outcome: 'partial', ok: 8, failed: 2, bytes: 300 });
    expect(c.calls).toEqual(['items export ok 8', 'items export failed 2', 'bytes export 300', 'ended export partial']);
  });

  it('failed keeps its first ending and code; a close before any ending is cancelled; 0 turns the lines off; summaryOf follows the request', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.maxFrames = 10_000;
    const { log, records } = logRecords();
    const c = counters();
    const failedReq = {};
    const cancelledReq = {};
    const failed = trackStream(failedReq, new StreamProgress(options('export', log, c, ts, 0)));
    const cancelled = trackStream(cancelledReq, new StreamProgress(options('search', log, c, ts, 0)));
    ts.schedule(() => {
      failed.written(3, 0, 30);
      cancelled.written(7, 0, 70);
    }, 100);
    ts.schedule(() => {
      failed.ended({ outcome: 'failed', errorCode: 'TIMEOUT' });
      failed.ended({ outcome: 'ok' });
    }, 5100);
    ts.schedule(() => {
      failed.close();
      cancelled.close();
      cancelled.close();
    }, 5100);
    ts.flush();
    expect(records).toEqual([]);
    expect(summaryOf(failedReq)).toEqual({ outcome: 'failed', ok: 3, failed: 0, bytes: 30, errorCode: 'TIMEOUT' });
    expect(summaryOf(cancelledReq)).toEqual({ outcome: 'cancelled', entries: 7, bytes: 70 });
    expect(summaryOf({})).toEqual({});
    expect(c.calls.filter((x) => x.startsWith('ended'))).toEqual(['ended export failed', 'ended search cancelled']);
  });
});
