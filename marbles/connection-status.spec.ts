/**
 * Connection status transitions of one hub URL, in virtual time: dial events come from a fake
 * dialer made of cold observables, so backoff pacing, rejection and reset are exact.
 */
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { connectionWith, type Dialer } from '../src/connection/connection.js';
import type { DialEvent } from '../src/connection/dial.js';
import { ConnectionError, RegistrationRejectedError } from '../src/connection/errors.js';
import type { Session } from '../src/connection/session.js';
import type { ConnectionStatus } from '../src/connection/status.js';

const URL = 'wss://hub.test/agent';
const session = { sessionId: 's-1', url: URL } as unknown as Session;
const events: Record<string, DialEvent> = { c: { type: 'connecting' }, r: { type: 'registered', session } };
const dropped = new ConnectionError('CLOSED', 'connection closed (1006)', URL);
const refused = new ConnectionError('CONNECT_FAILED', 'ECONNREFUSED', URL);
const rejected = new RegistrationRejectedError('HTTP_401', 'HTTP 401 Unauthorized', URL);

/** A compact, comparable view of a status. */
function short(s: ConnectionStatus): string {
  switch (s.state) {
    case 'connecting':
      return `connecting#${s.attempt}`;
    case 'registered':
      return `registered:${s.sessionId}`;
    case 'disconnected':
    case 'rejected':
      return `${s.state}:${s.code}+${s.retryInMs}`;
  }
}

// reconnectDelay 10, cap 100, random 0.5 ⇒ delays 15, 25, 45, 55, 55 … (floor + half the window)
const opts = { reconnectDelay: 10, maxReconnectDelay: 100, reconnectResetAfter: 50, random: () => 0.5 };

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('connection status', () => {
  it('emits connecting then registered, and nothing else while the session lives', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const status$ = connectionWith(URL, () => cold('c--r----', events), { ...opts, scheduler: ts }).pipe(map(short));
      expectObservable(status$, '^ 20ms !').toBe('a--b', { a: 'connecting#1', b: 'registered:s-1' });
    });
  });

  it('retries a refused dial at growing, capped backoff pace — never a hot loop', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const status$ = connectionWith(URL, () => cold('c#', events, refused), { ...opts, scheduler: ts }).pipe(map(short));
      // attempt n at: 0, 16 (1+15), 42 (17+25), 88 (43+45), 144 (89+55)
      expectObservable(status$, '^ 150ms !').toBe('ab 14ms cd 24ms ef 44ms gh 54ms ij', {
        a: 'connecting#1',
        b: 'disconnected:CONNECT_FAILED+15',
        c: 'connecting#2',
        d: 'disconnected:CONNECT_FAILED+25',
        e: 'connecting#3',
        f: 'disconnected:CONNECT_FAILED+45',
        g: 'connecting#4',
        h: 'disconnected:CONNECT_FAILED+55',
        i: 'connecting#5',
        j: 'disconnected:CONNECT_FAILED+55',
      });
    });
  });

  it('reports a rejection as `rejected` and retries it at backoff pace too', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const status$ = connectionWith(URL, () => cold('c-#', events, rejected), { ...opts, scheduler: ts }).pipe(map(short));
      expectObservable(status$, '^ 30ms !').toBe('a-b 14ms c-d', {
        a: 'connecting#1',
        b: 'rejected:HTTP_401+15',
        c: 'connecting#2',
        d: 'rejected:HTTP_401+25',
      });
    });
  });

  it('resets the backoff after a registration that stayed up for reconnectResetAfter', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      let n = 0;
      const dialer: Dialer = () => {
        n += 1;
        // 1st: fails fast; 2nd: fails fast; 3rd: registered for 60 ms (> 50) then drops; 4th+: fail fast
        return n === 3 ? cold('cr 59ms #', events, dropped) : cold('c#', events, refused);
      };
      const status$ = connectionWith(URL, dialer, { ...opts, scheduler: ts }).pipe(map(short));
      // 0 c1, 1 d+15, 16 c2, 17 d+25, 42 c3, 43 r, 103 drop → reset: +15, 118 c4, 119 d+25
      expectObservable(status$, '^ 130ms !').toBe('ab 14ms cd 24ms ef 59ms g 14ms hi', {
        a: 'connecting#1',
        b: 'disconnected:CONNECT_FAILED+15',
        c: 'connecting#2',
        d: 'disconnected:CONNECT_FAILED+25',
        e: 'connecting#3',
        f: 'registered:s-1',
        g: 'disconnected:CLOSED+15',
        h: 'connecting#4',
        i: 'disconnected:CONNECT_FAILED+25',
      });
    });
  });

  it('does not reset the backoff when the registration dropped before the stable period', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      let n = 0;
      const dialer: Dialer = () => {
        n += 1;
        return n === 2 ? cold('cr 9ms #', events, dropped) : cold('c#', events, refused);
      };
      const status$ = connectionWith(URL, dialer, { ...opts, scheduler: ts }).pipe(map(short));
      // 0 c1, 1 d+15, 16 c2, 17 r, 27 drop (+25, no reset), 52 c3, 53 d+45
      expectObservable(status$, '^ 60ms !').toBe('ab 14ms cd 9ms e 24ms fg', {
        a: 'connecting#1',
        b: 'disconnected:CONNECT_FAILED+15',
        c: 'connecting#2',
        d: 'registered:s-1',
        e: 'disconnected:CLOSED+25',
        f: 'connecting#3',
        g: 'disconnected:CONNECT_FAILED+45',
      });
    });
  });

  it('unsubscribing during the wait cancels the pending redial', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable, flush }) => {
      let dials = 0;
      const status$ = connectionWith(
        URL,
        () => {
          dials += 1;
          return cold('c#', events, refused);
        },
        { ...opts, scheduler: ts },
      ).pipe(map(short));
      expectObservable(status$, '^ 10ms !').toBe('ab', { a: 'connecting#1', b: 'disconnected:CONNECT_FAILED+15' });
      flush();
      ts.flush();
      expect(dials).toBe(1);
    });
  });
});
