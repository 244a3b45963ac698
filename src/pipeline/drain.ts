/**
 * Graceful shutdown state shared by every session of an agent: once draining,
 * new requests are refused with a retryable BUSY (the hub can send them to another agent), and
 * `idle$` tells when the requests in flight have all finished. When the grace period runs out,
 * `stopping$` tells the requests still running to stop: each ends with a coded error instead of
 * vanishing with the socket, and an export first reports the results of what it wrote.
 */
import { BehaviorSubject, filter, firstValueFrom, map, race, take, timer, type Observable } from 'rxjs';
import { ProtocolError } from '../protocol/index.js';

/** After `stopping$`, how long requests get to send their last frames before the sockets close. */
export const STOP_FLUSH_MS = 5000;

/** The error a request still running when the grace period ends is answered with (retryable: another agent can serve it). */
export function shuttingDown(what: string): ProtocolError {
  return new ProtocolError('CANCELLED', `${what}: the agent is shutting down (shutdownGracePeriod is over)`, {}, { retryable: true });
}

export class Drain {
  private readonly inFlightSubject = new BehaviorSubject(0);
  private drainingFlag = false;
  private readonly stoppingSubject = new BehaviorSubject(false);

  get draining(): boolean {
    return this.drainingFlag;
  }

  get inFlight(): number {
    return this.inFlightSubject.value;
  }

  started(): void {
    this.inFlightSubject.next(this.inFlightSubject.value + 1);
  }

  finished(): void {
    this.inFlightSubject.next(Math.max(0, this.inFlightSubject.value - 1));
  }

  /** Emits once no request is in flight. */
  get idle$(): Observable<void> {
    return this.inFlightSubject.pipe(
      filter((n) => n === 0),
      map(() => undefined),
    );
  }

  /**
   * Emits once the grace period is over (at once for a request that starts later): requests
   * still running must stop now, with their results so far and a coded error.
   */
  get stopping$(): Observable<void> {
    return this.stoppingSubject.pipe(
      filter((stopping) => stopping),
      take(1),
      map(() => undefined),
    );
  }

  /**
   * Stops admitting requests and resolves when those in flight have finished (`true`), or, once
   * the grace period has passed, tells them to stop and resolves (`false`) when they have — or
   * after `flushMs` more, whatever is still running then is abandoned with its socket.
   */
  async begin(graceMs: number, flushMs = STOP_FLUSH_MS): Promise<boolean> {
    this.drainingFlag = true;
    const clean = await firstValueFrom(race(this.idle$.pipe(map(() => true)), timer(graceMs).pipe(map(() => false))));
    if (clean) return true;
    this.stoppingSubject.next(true);
    await firstValueFrom(race(this.idle$, timer(flushMs)));
    return false;
  }
}
