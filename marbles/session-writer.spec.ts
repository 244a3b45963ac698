/**
 * The session writer against a socket played by the test: `send` queues bytes in
 * `bufferedAmount` and resolves only when the test lets the socket write a frame out
 * (`socket.drain(n)`), the way ws's send callback does. Event-driven, no clocks: each step
 * says what was handed to the socket and what waits in which lane.
 */
import { Observable, of, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { creditStream } from '../src/operators/credit-stream.js';
import { SessionWriter } from '../src/pipeline/socket-writer.js';
import type { Frame, OutgoingFrame } from '../src/protocol/index.js';

const FRAME_BYTES = 100;
/** Three frames in ws make it unwritable. */
const HWM = 250;

class FakeSocket {
  buffered = 0;
  /** Labels of the frames handed over, in order. */
  readonly handed: string[] = [];
  private readonly pending: Array<() => void> = [];

  send = (frame: OutgoingFrame): Promise<void> => {
    this.buffered += FRAME_BYTES;
    this.handed.push(label(frame));
    return new Promise((resolve) => this.pending.push(resolve));
  };

  bufferedAmount = (): number => this.buffered;

  /** The socket writes `n` frames out: their send callbacks run. */
  async drain(n = Infinity): Promise<void> {
    for (let i = 0; i < n && this.pending.length > 0; i++) {
      this.buffered -= FRAME_BYTES;
      (this.pending.shift() as () => void)();
      await Promise.resolve();
      await Promise.resolve();
    }
  }

  /** Drains until nothing is pending (frames produced meanwhile included). */
  async drainAll(): Promise<void> {
    while (this.pending.length > 0) await this.drain(1);
  }
}

const label = (f: OutgoingFrame): string => {
  const frame = f as Frame;
  return `${'id' in frame ? frame.id : '?'}:${frame.type}${frame.type === 'chunk' ? frame.seq : ''}`;
};
const chunk = (id: string, seq: number): Frame => ({ type: 'chunk', id, seq, items: [] }) as unknown as Frame;
const end = (id: string, count: number): Frame => ({ type: 'end', id, count }) as unknown as Frame;

function setup(): { socket: FakeSocket; writer: SessionWriter; writable: boolean[] } {
  const socket = new FakeSocket();
  const writable: boolean[] = [];
  const writer = new SessionWriter(socket, { highWaterMark: HWM, onWritable: (w) => writable.push(w) });
  return { socket, writer, writable };
}

describe('SessionWriter: lanes under the socket', () => {
  it('hands frames straight to the socket while it is writable; the lane stays ready', () => {
    const { socket, writer } = setup();
    const lane = writer.open('a', { dropOnCancel: true });
    const ready: boolean[] = [];
    lane.ready$.subscribe((r) => ready.push(r));
    lane.write(chunk('a', 0));
    lane.write(chunk('a', 1));
    expect(socket.handed).toEqual(['a:chunk0', 'a:chunk1']);
    expect(ready).toEqual([true]);
    expect(writer.stats).toEqual({ framesDropped: 0, stalls: 0, queued: 0 });
  });

  it('at the high-water mark frames wait in their lanes; callbacks release them one lane at a time, in order per lane', async () => {
    const { socket, writer, writable } = setup();
    const a = writer.open('a', { dropOnCancel: true });
    const b = writer.open('b', { dropOnCancel: true });
    for (let i = 0; i < 3; i++) a.write(chunk('a', i)); // fills the socket
    a.write(chunk('a', 3));
    a.write(chunk('a', 4));
    a.write(end('a', 5));
    b.write(chunk('b', 0));
    b.write(end('b', 1));
    expect(socket.handed).toEqual(['a:chunk0', 'a:chunk1', 'a:chunk2']);
    expect(writer.stats.queued).toBe(5);
    expect(writable).toEqual([false]);
    await socket.drainAll();
    // a and b take turns: b's frames do not wait behind all of a's.
    expect(socket.handed.slice(3)).toEqual(['a:chunk3', 'b:chunk0', 'a:chunk4', 'b:end', 'a:end']);
    expect(writable[0]).toBe(false);
    expect(writable.at(-1)).toBe(true);
    expect(writer.stats.queued).toBe(0);
  });

  it('ready$ is false while the lane holds a frame, true once it was handed over', async () => {
    const { socket, writer } = setup();
    const a = writer.open('a', { dropOnCancel: true });
    const ready: boolean[] = [];
    a.ready$.subscribe((r) => ready.push(r));
    for (let i = 0; i < 4; i++) a.write(chunk('a', i));
    expect(ready).toEqual([true, false]);
    await socket.drain(1);
    expect(ready).toEqual([true, false, true]);
    expect(socket.handed.at(-1)).toBe('a:chunk3');
  });

  it('a cancel drops the queued chunks of that search only: its end stays, other lanes and export lanes are untouched', async () => {
    const { socket, writer } = setup();
    const s = writer.open('s', { dropOnCancel: true });
    const other = writer.open('o', { dropOnCancel: true });
    const exp = writer.open('x', { dropOnCancel: false });
    for (let i = 0; i < 3; i++) s.write(chunk('s', i)); // handed: the socket is full now
    s.write(chunk('s', 3));
    s.write(chunk('s', 4));
    s.write(end('s', 5));
    other.write(chunk('o', 0));
    exp.write(chunk('x', 0));
    expect(writer.cancel('x')).toBe(0);
    expect(writer.cancel('nobody')).toBe(0);
    expect(writer.cancel('s')).toBe(2);
    expect(writer.stats).toMatchObject({ framesDropped: 2, queued: 3 });
    await socket.drainAll();
    expect(socket.handed).toEqual(['s:chunk0', 's:chunk1', 's:chunk2', 's:end', 'o:chunk0', 'x:chunk0']);
  });

  it('a gated creditStream: with a huge credit and a stalled socket, one frame waits and nothing more is pulled; it resumes on drain', async () => {
    const { socket, writer } = setup();
    const lane = writer.open('r', { dropOnCancel: true });
    let pulls = 0;
    const sub = creditStream<number>({
      pull: () => {
        pulls += 1;
        return of({ items: [pulls * 10, pulls * 10 + 1], last: pulls === 5 });
      },
      credit$: new Subject<number>(),
      initialCredit: 1_000_000,
      chunk: (items) => items.map((i) => [i]),
      prefetch: true,
      gate: lane.ready$,
    }).subscribe((ev) => lane.write(ev.type === 'chunk' ? chunk('r', ev.seq) : end('r', ev.count)));
    // 3 chunks fill the socket, the 4th waits in the lane; one page ahead was pulled at most.
    expect(socket.handed).toEqual(['r:chunk0', 'r:chunk1', 'r:chunk2']);
    expect(writer.stats.queued).toBe(1);
    const pulledWhileStalled = pulls;
    expect(pulledWhileStalled).toBe(3);
    await Promise.resolve();
    expect(pulls).toBe(pulledWhileStalled);
    await socket.drainAll();
    expect(socket.handed).toEqual([...Array.from({ length: 10 }, (_, i) => `r:chunk${i}`), 'r:end']);
    expect(pulls).toBe(5);
    sub.unsubscribe();
  });

  it('two gated streams on a stalled socket share it in turns as it drains', async () => {
    const { socket, writer } = setup();
    const stream = (id: string): Observable<void> =>
      new Observable<void>(() => {
        const lane = writer.open(id, { dropOnCancel: true });
        let pulled = 0;
        const sub = creditStream<number>({
          pull: () => of({ items: [1, 2, 3], last: ++pulled === 2 }),
          credit$: new Subject<number>(),
          initialCredit: 100,
          chunk: (items) => items.map((i) => [i]),
          gate: lane.ready$,
        }).subscribe((ev) => lane.write(ev.type === 'chunk' ? chunk(id, ev.seq) : end(id, ev.count)));
        return () => sub.unsubscribe();
      });
    const subs = [stream('a').subscribe(), stream('b').subscribe()];
    expect(socket.handed).toEqual(['a:chunk0', 'a:chunk1', 'a:chunk2']);
    await socket.drainAll();
    const b = socket.handed.filter((l) => l.startsWith('b:'));
    const a = socket.handed.filter((l) => l.startsWith('a:'));
    expect(a).toEqual([...Array.from({ length: 6 }, (_, i) => `a:chunk${i}`), 'a:end']);
    expect(b).toEqual([...Array.from({ length: 6 }, (_, i) => `b:chunk${i}`), 'b:end']);
    // Once the socket stalled, neither stream ran ahead: b's first frame went out before a's last chunk.
    expect(socket.handed.indexOf('b:chunk0')).toBeLessThan(socket.handed.indexOf('a:chunk5'));
    for (const s of subs) s.unsubscribe();
  });
});
