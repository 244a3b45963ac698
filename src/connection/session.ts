import type { Observable } from 'rxjs';
import type WebSocket from 'ws';
import { CLOSE_CODES, frameData, type Frame, type OutgoingFrame, type Welcome } from '../protocol/index.js';

/**
 * A registered connection to one hub: typed inbound frames, a send that resolves when the
 * frame is written to the socket (the basis of write backpressure), and a close.
 */
export interface Session {
  readonly url: string;
  readonly sessionId: string;
  /** min(our maxFrameBytes, the hub's) — frames larger than this are refused, both ways. */
  readonly maxFrameBytes: number;
  readonly limits: Welcome['limits'];
  /** Decoded frames from the hub after `welcome`; completes when the socket closes. */
  readonly frames$: Observable<Frame>;
  /** Bytes queued but not yet written to the socket (ws `bufferedAmount`). */
  bufferedAmount(): number;
  /** Sends one frame; resolves once written, rejects if the socket is gone or the frame too big. */
  send(frame: OutgoingFrame): Promise<void>;
  /** Closes with a normal code (or the one given). */
  close(code?: number, reason?: string): void;
}

export class WsSession implements Session {
  constructor(
    readonly url: string,
    readonly sessionId: string,
    readonly limits: Welcome['limits'],
    readonly maxFrameBytes: number,
    readonly frames$: Observable<Frame>,
    private readonly ws: WebSocket,
  ) {}

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(frame: OutgoingFrame): Promise<void> {
    return sendFrame(this.ws, frame, this.maxFrameBytes);
  }

  close(code: number = CLOSE_CODES.NORMAL, reason = ''): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }
}

/** Sockets corked for the current tick (see `corkForTick`). */
const corked = new WeakSet<object>();

/**
 * Frames sent in one tick go to the kernel in one write: the socket is corked at the first
 * send of a tick and uncorked once the tick's callbacks and microtasks have run. Concurrent
 * small answers then cost one system call, not one each; a lone frame waits for nothing.
 */
function corkForTick(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  if (socket === undefined || corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(() => {
    corked.delete(socket);
    socket.uncork();
  });
}

/**
 * Encodes and writes one frame as one text message; the promise settles from ws's send
 * callback. A frame built from bytes goes out as those bytes, in one fragment per part (no
 * copy of the items; nothing else can be sent between the fragments, all written at once).
 */
export function sendFrame(ws: WebSocket, frame: OutgoingFrame, maxFrameBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let data: string | readonly Buffer[];
    try {
      data = frameData(frame, maxFrameBytes);
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (ws.readyState !== ws.OPEN) {
      reject(new Error(`socket is not open (readyState ${ws.readyState})`));
      return;
    }
    const done = (err?: Error): void => (err ? reject(err) : resolve());
    corkForTick(ws);
    if (typeof data === 'string') {
      ws.send(data, done);
      return;
    }
    const last = data.length - 1;
    data.forEach((part, i) => {
      if (i < last) ws.send(part, { binary: false, fin: false });
      else ws.send(part, { binary: false, fin: true }, done);
    });
  });
}
