/**
 * Routes the frames the hub sends about a request (`credit`, `cancel`, export `chunk`/`end`)
 * to that request, by id, in O(1). A request waiting in the admission queue has not
 * subscribed yet: its frames are held until it starts (a few credit/cancel frames at most —
 * the hub sends export records only after the agent's first `credit`), so a cancel of a queued
 * request is not lost. A frame about a request that broke the protocol reaches it too, as a
 * `violation` notice: the request ends with BAD_FRAME (docs/protocol.md, "Protocol errors").
 */
import { Subject, concat, defer, from, type Observable } from 'rxjs';
import type { Frame, StreamViolation } from '../protocol/index.js';

/** A refused frame about a request (see `StreamViolation`), delivered to that request. */
export interface ViolationNotice {
  readonly type: 'violation';
  readonly violation: StreamViolation;
}

/** What a request receives: the hub's frames about it, and violation notices. */
export type RequestInbound = Frame | ViolationNotice;

/** Frames held for a request that has not started; more means a misbehaving hub. */
const MAX_EARLY_FRAMES = 256;

interface Box {
  readonly subject: Subject<RequestInbound>;
  /** Frames that arrived before the request started; replayed to each of its subscribers. */
  readonly early: RequestInbound[];
  started: boolean;
}

export class RequestInboxes {
  private readonly boxes = new Map<string, Box>();

  has(id: string): boolean {
    return this.boxes.has(id);
  }

  get size(): number {
    return this.boxes.size;
  }

  open(id: string): void {
    this.boxes.set(id, { subject: new Subject<RequestInbound>(), early: [], started: false });
  }

  /** Delivers a frame to its request; false when no request with that id is open (or it overflowed). */
  route(id: string, frame: RequestInbound): boolean {
    const box = this.boxes.get(id);
    if (!box) return false;
    if (!box.started) {
      if (box.early.length >= MAX_EARLY_FRAMES) return false;
      box.early.push(frame);
    } else box.subject.next(frame);
    return true;
  }

  /**
   * The request's frames: those held while it was queued, then live ones. Each subscriber gets
   * the held frames (the request subscribes for credit and cancel at the same moment); a
   * subscriber that comes later misses live frames in between — buffer on your side if needed.
   */
  frames$(id: string): Observable<RequestInbound> {
    return defer(() => {
      const box = this.boxes.get(id);
      if (!box) return from([]);
      box.started = true;
      return box.early.length === 0 ? box.subject : concat(from(box.early), box.subject);
    });
  }

  close(id: string): void {
    const box = this.boxes.get(id);
    if (!box) return;
    this.boxes.delete(id);
    box.subject.complete();
  }

  closeAll(): void {
    for (const id of [...this.boxes.keys()]) this.close(id);
  }
}
