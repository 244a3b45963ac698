/**
 * The session writer: every frame of a session goes to the socket through it, and the socket's
 * own backpressure paces the producers — a frame is produced only when the socket can take it,
 * whatever credit the hub granted.
 *
 * Each request writes into its own lane (a FIFO queue). The writer hands frames to ws while
 * its `bufferedAmount` is below the high-water mark, taking one frame from each waiting lane in
 * turn (round robin), so one stream cannot starve another and a frame never overtakes an
 * earlier frame of the same request. Above the mark it stops and looks again on each send
 * callback. A lane's `ready$` is true while the lane is empty: search streams pull and send only
 * then (creditStream's gate) and exports grant the hub record credit only then, so what waits
 * here is one frame per stream plus the single frames (`end`, `error`, `result`, `credit`) that
 * are never held back.
 *
 * A `cancel` drops the search chunks still queued for that request (`cancel`): they would only
 * reach a hub that no longer wants them. Export results are never dropped (lanes opened with
 * `dropOnCancel: false`), nor any frame already handed to ws.
 */
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import type { Session } from '../connection/session.js';
import type { OutgoingFrame } from '../protocol/index.js';

export interface SessionWriterOptions {
  /** Bytes queued in ws (`bufferedAmount`) at or above which no frame is handed over. Default 1 MiB. */
  readonly highWaterMark?: number;
  /** Called when a frame could not be written (socket gone, frame too large). */
  readonly onError?: (err: unknown, frame: OutgoingFrame) => void;
  /** Called when the socket stops taking frames (`false`) and when it takes them again (`true`). */
  readonly onWritable?: (writable: boolean, bufferedAmount: number) => void;
}

/** Counters of one session writer (tests, debug logs). */
export interface SessionWriterStats {
  /** Search chunk frames dropped by cancels, never handed to ws. */
  readonly framesDropped: number;
  /** Times the socket stopped taking frames (bufferedAmount reached the high-water mark). */
  readonly stalls: number;
  /** Frames waiting in lanes now. */
  readonly queued: number;
}

/** One request's queue in the writer. */
export class WriterLane {
  readonly queue: OutgoingFrame[] = [];
  /** In the writer's round-robin list of lanes with frames. */
  waiting = false;
  /** The request has no more frames to write; the lane goes once empty. */
  ended = false;
  private readonly readySubject = new BehaviorSubject(true);
  /** True while the lane is empty: the request may produce its next frame. */
  readonly ready$: Observable<boolean> = this.readySubject.pipe(distinctUntilChanged());

  constructor(
    private readonly writer: SessionWriter,
    readonly id: string,
    readonly dropOnCancel: boolean,
  ) {}

  write(frame: OutgoingFrame): void {
    this.writer.write(this, frame);
  }

  /** The request's frames are all written to the lane (it ended, however). */
  end(): void {
    this.ended = true;
    this.writer.release(this);
  }

  /** @internal the writer's view of the queue changed */
  setReady(ready: boolean): void {
    if (this.readySubject.value !== ready) this.readySubject.next(ready);
  }

  /** @internal */
  complete(): void {
    this.readySubject.complete();
  }
}

export class SessionWriter {
  private readonly hwm: number;
  /** Open lanes by request id (the latest, if an id is reused while its old lane drains). */
  private readonly lanes = new Map<string, WriterLane>();
  /** Lanes with frames, in turn order. Few (one per request running), so `shift` is cheap. */
  private readonly turns: WriterLane[] = [];
  /** Frames of the session itself (refusals), not of a running request. */
  readonly control: WriterLane;
  private pumping = false;
  private writable = true;
  private closed = false;
  private dropped = 0;
  private stallCount = 0;

  constructor(
    private readonly session: Pick<Session, 'send' | 'bufferedAmount'>,
    private readonly options: SessionWriterOptions = {},
  ) {
    this.hwm = options.highWaterMark ?? 1024 * 1024;
    this.control = new WriterLane(this, '', false);
  }

  get stats(): SessionWriterStats {
    let queued = 0;
    for (const lane of this.turns) queued += lane.queue.length;
    return { framesDropped: this.dropped, stalls: this.stallCount, queued };
  }

  /** Opens request `id`'s lane. `dropOnCancel`: its queued chunks go on a cancel (searches). */
  open(id: string, options: { readonly dropOnCancel: boolean }): WriterLane {
    const lane = new WriterLane(this, id, options.dropOnCancel);
    this.lanes.set(id, lane);
    return lane;
  }

  /** Whether request `id`'s lane can take its next frame now (always true for no open lane). */
  ready$(id: string): Observable<boolean> {
    return (this.lanes.get(id) ?? this.control).ready$;
  }

  /**
   * Drops the chunk frames still queued for request `id` (a search the hub cancelled); its
   * other frames stay. Returns how many were dropped.
   */
  cancel(id: string): number {
    const lane = this.lanes.get(id);
    if (lane === undefined || !lane.dropOnCancel || lane.queue.length === 0) return 0;
    const kept = lane.queue.filter((f) => f.type !== 'chunk');
    const n = lane.queue.length - kept.length;
    lane.queue.splice(0, lane.queue.length, ...kept);
    this.dropped += n;
    if (lane.queue.length === 0) {
      const at = this.turns.indexOf(lane);
      if (at >= 0) this.turns.splice(at, 1);
      lane.waiting = false;
      lane.setReady(true);
      this.release(lane);
    }
    return n;
  }

  /** Drops everything (the socket is gone) and completes the lanes' signals. */
  close(): void {
    this.closed = true;
    for (const lane of this.turns) lane.queue.length = 0;
    this.turns.length = 0;
    for (const lane of this.lanes.values()) lane.complete();
    this.lanes.clear();
    this.control.complete();
  }

  /** @internal via `WriterLane.write` */
  write(lane: WriterLane, frame: OutgoingFrame): void {
    if (this.closed) return;
    // Straight through when nothing waits and the socket takes it: the common case.
    if (!this.pumping && this.turns.length === 0 && this.canSend()) {
      this.send(frame);
      return;
    }
    lane.queue.push(frame);
    lane.setReady(false);
    if (!lane.waiting) {
      lane.waiting = true;
      this.turns.push(lane);
    }
    this.pump();
  }

  /** @internal an ended lane leaves the id map once empty */
  release(lane: WriterLane): void {
    if (lane.ended && lane.queue.length === 0 && this.lanes.get(lane.id) === lane) {
      this.lanes.delete(lane.id);
      lane.complete();
    }
  }

  private canSend(): boolean {
    if (this.session.bufferedAmount() < this.hwm) return true;
    if (this.writable) {
      this.writable = false;
      this.stallCount += 1;
      this.options.onWritable?.(false, this.session.bufferedAmount());
    }
    return false;
  }

  /** Hands frames to ws, one per waiting lane in turn, while it takes them. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed && this.turns.length > 0 && this.canSend()) {
        const lane = this.turns.shift() as WriterLane;
        const frame = lane.queue.shift() as OutgoingFrame;
        if (lane.queue.length > 0) this.turns.push(lane);
        else lane.waiting = false;
        this.send(frame);
        if (lane.queue.length === 0) {
          // The request may produce its next frame now (synchronously: it lands in its lane).
          lane.setReady(true);
          this.release(lane);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private send(frame: OutgoingFrame): void {
    this.session.send(frame).then(
      () => this.sent(),
      (err: unknown) => {
        this.options.onError?.(err, frame);
        this.sent();
      },
    );
  }

  /** A send callback: ws wrote a frame out, so there may be room again. */
  private sent(): void {
    if (this.closed) return;
    if (!this.writable && this.session.bufferedAmount() < this.hwm) {
      this.writable = true;
      this.options.onWritable?.(true, this.session.bufferedAmount());
    }
    if (this.turns.length > 0) this.pump();
  }
}
