/**
 * The start-up tests (src/agent/startup-test.ts) in virtual time: every source is `running` at
 * once; each outcome arrives as its test answers — ok at info with what the answer shows, a coded
 * failure at warn with its code, a test that never answers fails with TIMEOUT at the bound, a
 * throw or an empty answer is INTERNAL — and unsubscribing (the agent stopping) cancels the
 * tests still running.
 */
import { NEVER, Observable, map, throwError, type Observable as Obs } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { logRecords } from './helpers/log-records.js';
import type { DataSourceAdapter } from '../src/adapter-kit/adapter.js';
import { testSourcesOnStart } from '../src/agent/startup-test.js';
import type { ServedDataSource } from '../src/pipeline/run-request.js';
import { ProtocolError } from '../src/protocol/index.js';

const source = (test: () => Obs<unknown>): ServedDataSource => ({
  adapter: { type: 'fake', supports: ['test'], test, close: () => Promise.resolve() } as unknown as DataSourceAdapter,
  operations: ['search'],
});

const EPOCH = new Date(0);

describe('start-up tests of the data sources (marbles)', () => {
  it('running at once, then each outcome as it comes: ok at info, coded failure at warn, TIMEOUT at the bound', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const { log, records } = logRecords();
    ts.run(({ cold, expectObservable }) => {
      const sources = new Map([
        ['good', source(() => cold('20ms (a|)', { a: { ok: true, url: 'ldap://dir:389', vendorName: 'OpenLDAP', latencyMs: 20, secretish: 'not shown' } }))],
        ['refused', source(() => cold('30ms #', undefined, new ProtocolError('UPSTREAM_AUTH_FAILED', 'bind refused for cn=admin')))],
        ['silent', source(() => NEVER)],
      ]);
      const outcomes = testSourcesOnStart(sources, { log, timeoutMs: 100, scheduler: ts, now: () => EPOCH });
      const running = (dataSource: string) => ({ dataSource, record: { status: 'running', since: EPOCH.toISOString() } });
      expectObservable(outcomes).toBe('(xyz) 15ms a 9ms b 69ms (c|)', {
        x: running('good'),
        y: running('refused'),
        z: running('silent'),
        a: { dataSource: 'good', record: { status: 'ok', at: EPOCH.toISOString(), answer: { url: 'ldap://dir:389', vendorName: 'OpenLDAP', latencyMs: 20 } } },
        b: { dataSource: 'refused', record: { status: 'failed', at: EPOCH.toISOString(), code: 'UPSTREAM_AUTH_FAILED', message: 'bind refused for cn=admin', retryable: false } },
        c: { dataSource: 'silent', record: { status: 'failed', at: EPOCH.toISOString(), code: 'TIMEOUT', message: 'test did not finish within 100 ms', retryable: true } },
      });
    });
    expect(records.map((r) => [r['level'], r['dataSource'], r['code'], r['msg']])).toEqual([
      [30, 'good', undefined, 'data source good tested at start-up: ok'],
      [40, 'refused', 'UPSTREAM_AUTH_FAILED', 'data source refused failed its start-up test: UPSTREAM_AUTH_FAILED: bind refused for cn=admin (the agent keeps running; requests will try it again)'],
      [40, 'silent', 'TIMEOUT', 'data source silent failed its start-up test: TIMEOUT: test did not finish within 100 ms (the agent keeps running; requests will try it again)'],
    ]);
    expect(records.every((r) => r['requestId'] === 'startup-test')).toBe(true);
  });

  it('a throw, a bug error or an empty answer is INTERNAL, with no message of the adapter', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const { log, records } = logRecords();
    ts.run(({ cold, expectObservable }) => {
      const sources = new Map([
        ['throws', source(() => { throw new Error('password=hunter2 in a stack'); })],
        ['errors', source(() => throwError(() => new TypeError('x is undefined')))],
        ['empty', source(() => cold('10ms |'))],
      ]);
      const outcomes = testSourcesOnStart(sources, { log, timeoutMs: 100, scheduler: ts, now: () => EPOCH }).pipe(
        map(({ dataSource, record }) => `${dataSource} ${record.status}${record.status === 'failed' ? ` ${record.code}` : ''}`),
      );
      expectObservable(outcomes).toBe('(abcde) 3ms (f|)', {
        a: 'throws running',
        b: 'throws failed INTERNAL',
        c: 'errors running',
        d: 'errors failed INTERNAL',
        e: 'empty running',
        f: 'empty failed INTERNAL',
      });
    });
    expect(JSON.stringify(records)).not.toContain('hunter2');
    expect(records.map((r) => [r['level'], r['dataSource'], r['code']])).toEqual([
      [40, 'throws', 'INTERNAL'],
      [40, 'errors', 'INTERNAL'],
      [40, 'empty', 'INTERNAL'],
    ]);
  });

  it('unsubscribing (the agent stops) cancels the tests still running', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    const { log, records } = logRecords();
    let unsubscribed = 0;
    ts.run(({ expectObservable }) => {
      const hanging = (): Obs<unknown> => new Observable(() => () => (unsubscribed += 1));
      const sources = new Map([['a', source(hanging)], ['b', source(hanging)]]);
      expectObservable(testSourcesOnStart(sources, { log, timeoutMs: 100, scheduler: ts, now: () => EPOCH }), '^ 50ms !').toBe('(xy)', {
        x: { dataSource: 'a', record: { status: 'running', since: EPOCH.toISOString() } },
        y: { dataSource: 'b', record: { status: 'running', since: EPOCH.toISOString() } },
      });
    });
    expect(unsubscribed).toBe(2);
    expect(records).toEqual([]);
  });
});
