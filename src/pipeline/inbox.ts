/**
 * Routes the frames the hub sends about a request (`credit`, `cancel`, export `chunk`/`end`)
 * to that request, by id, in O(1). A request waiting in the admission queue has not
 * subscribed yet: its frames are held until it starts (a few credit/cancel frames at most —
 * the hub sends export records only after the agent's first `credit`), so a cancel of a queued
 * request is not lost.
 */
import { Subject, concat, defer, from, type Observable } from 'rxjs';
import type { Frame } from '../protocol/index.js';

/** Frames held for a request that has not started; more means a misbehaving hub. */
const MAX_EARLY_FRAMES = 256;

interface Box {
  readonly subject: Subject<Frame>;
  early: Frame[] | undefined;
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
    this.boxes.set(id, { subject: new Subject<Frame>(), early: [] });
  }

  /** Delivers a frame to its request; false when no request with that id is open (or it overflowed). */
  route(id: string, frame: Frame): boolean {
    const box = this.boxes.get(id);
    if (!box) return false;
    if (box.early) {
      if (box.early.length >= MAX_EARLY_FRAMES) return false;
      box.early.push(frame);
    } else box.subject.next(frame);
    return true;
  }

  /** The request's frames: those held while it was queued, then live ones. Subscribe once. */
  frames$(id: string): Observable<Frame> {
    return defer(() => {
      const box = this.boxes.get(id);
      if (!box) return from([]);
      const early = box.early ?? [];
      box.early = undefined;
      return concat(from(early), box.subject);
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
