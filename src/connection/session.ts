import type { Observable } from 'rxjs';
import type WebSocket from 'ws';
import { CLOSE_CODES, frameData, type Frame, type OutgoingFrame, type StreamViolation, type Welcome } from '../protocol/index.js';
import { sendWsMessage } from '../support/ws-send.js';

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
  /**
   * Frames from the hub after `welcome` that were refused and name a request id: the session's
   * requests answer them (docs/protocol.md, "Protocol errors"), the socket layer does not.
   * Completes when the socket closes. Absent: the socket layer answers every refused frame.
   */
  readonly violations$?: Observable<StreamViolation>;
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
    readonly violations$: Observable<StreamViolation>,
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

/**
 * Encodes one frame (`frameData`) and writes it as one text message (`sendWsMessage`); the
 * promise settles from ws's send callback.
 */
export function sendFrame(ws: WebSocket, frame: OutgoingFrame, maxFrameBytes: number): Promise<void> {
  return sendWsMessage(ws, () => frameData(frame, maxFrameBytes));
}
