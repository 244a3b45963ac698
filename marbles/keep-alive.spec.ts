import { NEVER } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { keepAlive, KeepAliveTimeoutError, type KeepAliveOptions } from '../src/operators/keep-alive.js';

describe('keepAlive (marbles)', () => {
  let ts: TestScheduler;
  let pings: number[];
  const dead = new KeepAliveTimeoutError({ interval: 30, timeout: 10, silentForMs: 40 });
  /** interval 30, timeout 10; sendPing records the virtual time. */
  const opts = (more: Partial<KeepAliveOptions> = {}): KeepAliveOptions => ({
    interval: 30,
    timeout: 10,
    sendPing: () => pings.push(ts.now()),
    scheduler: ts,
    ...more,
  });

  beforeEach(() => {
    ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    pings = [];
  });

  it('rejects bad options', () => {
    expect(() => keepAlive(opts({ interval: 0 }))).toThrow(/interval .* got 0/);
    expect(() => keepAlive(opts({ timeout: NaN }))).toThrow(RangeError);
    expect(() => keepAlive(opts({ timeout: -1 }))).toThrow(/got -1/);
  });

  it('the error carries name, code and info', () => {
    expect(dead).toBeInstanceOf(Error);
    expect(dead).toMatchObject({ name: 'KeepAliveTimeoutError', code: 'KEEPALIVE_TIMEOUT' });
    expect(dead.info).toEqual({ interval: 30, timeout: 10, silentForMs: 40 });
  });

  it('no signals at all: pings at interval, dies at interval + timeout after subscribing', () => {
    ts.run(({ expectObservable, flush }) => {
      expectObservable(NEVER.pipe(keepAlive(opts()))).toBe('40ms #', undefined, dead);
      flush();
      expect(pings).toEqual([30]);
    });
  });

  it('a source that completes without signals completes the output, no ping', () => {
    ts.run(({ cold, expectObservable, flush }) => {
      expectObservable(cold('5ms |').pipe(keepAlive(opts()))).toBe('5ms |');
      flush();
      expect(pings).toEqual([]);
    });
  });

  it('one signal restarts the cycle', () => {
    ts.run(({ hot, expectObservable, flush }) => {
      expectObservable(hot('20ms s').pipe(keepAlive(opts()))).toBe('60ms #', undefined, dead);
      flush();
      expect(pings).toEqual([50]);
    });
  });

  it('steady pongs answering each ping keep it alive for ever', () => {
    ts.run(({ hot, expectObservable, flush }) => {
      // every ping (at 30, 65, 100, …) is answered 5 ms later
      const pongs = hot('35ms p 34ms p 34ms p 34ms p');
      expectObservable(pongs.pipe(keepAlive(opts())), '^ 150ms !').toBe('');
      flush();
      expect(pings).toEqual([30, 65, 100, 135]);
    });
  });

  it('frequent inbound messages mean no ping at all', () => {
    ts.run(({ hot, expectObservable, flush }) => {
      const msgs = hot('-m 19ms m 19ms m 19ms m 19ms m 19ms m');
      expectObservable(msgs.pipe(keepAlive(opts())), '^ 110ms !').toBe('');
      flush();
      expect(pings).toEqual([]);
    });
  });

  it('death is detected exactly interval + timeout after the last signal', () => {
    ts.run(({ hot, expectObservable, expectSubscriptions, flush }) => {
      const src = hot('10ms s 4ms s');
      // last signal at 15 → ping at 45 → dead at 55
      expectObservable(src.pipe(keepAlive(opts()))).toBe('55ms #', undefined, dead);
      expectSubscriptions(src.subscriptions).toBe('^ 54ms !');
      flush();
      expect(pings).toEqual([45]);
    });
  });

  it('a pong one frame before the deadline saves the socket; a late pong is irrelevant', () => {
    ts.run(({ hot, expectObservable, expectSubscriptions, flush }) => {
      expectObservable(hot('39ms p').pipe(keepAlive(opts())), '^ 70ms !').toBe('');
      const late = hot('41ms p 5ms |');
      expectObservable(late.pipe(keepAlive(opts()))).toBe('40ms #', undefined, dead);
      expectSubscriptions(late.subscriptions).toBe('^ 39ms !');
      flush();
      expect(pings).toEqual([30, 30, 69]);
    });
  });

  it('source completion (socket closed) completes the output and cancels a pending ping', () => {
    ts.run(({ hot, expectObservable, flush }) => {
      expectObservable(hot('-s 10ms |').pipe(keepAlive(opts()))).toBe('-- 10ms |');
      // closed after the ping, before the deadline
      expectObservable(hot('35ms |').pipe(keepAlive(opts()))).toBe('35ms |');
      flush();
      expect(pings).toEqual([30]);
    });
  });

  it('source error propagates', () => {
    ts.run(({ hot, expectObservable }) => {
      const err = new Error('socket error');
      expectObservable(hot('-s-#', undefined, err).pipe(keepAlive(opts()))).toBe('---#', undefined, err);
    });
  });

  it('a throwing sendPing errors the output', () => {
    ts.run(({ expectObservable }) => {
      const err = new Error('not open');
      const sendPing = (): void => {
        throw err;
      };
      expectObservable(NEVER.pipe(keepAlive(opts({ sendPing })))).toBe('30ms #', undefined, err);
    });
  });

  it('unsubscribing stops pings and the deadline', () => {
    ts.run(({ hot, expectObservable, expectSubscriptions, flush }) => {
      const src = hot('-s');
      expectObservable(src.pipe(keepAlive(opts())), '^ 20ms !').toBe('');
      expectSubscriptions(src.subscriptions).toBe('^ 20ms !');
      flush();
      expect(pings).toEqual([]);
    });
  });

  it('subscribes to the source once', () => {
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-s-s-|');
      expectObservable(src.pipe(keepAlive(opts()))).toBe('-----|');
      expectSubscriptions(src.subscriptions).toBe('^----!');
    });
  });
});
