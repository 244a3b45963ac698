/**
 * Graceful shutdown state shared by every session of an agent (DESIGN §4.5): once draining,
 * new requests are refused with a retryable BUSY (the hub can send them to another agent), and
 * `idle$` tells when the requests in flight have all finished.
 */
import { BehaviorSubject, filter, firstValueFrom, map, race, timer, type Observable } from 'rxjs';

export class Drain {
  private readonly inFlightSubject = new BehaviorSubject(0);
  private drainingFlag = false;

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
   * Stops admitting requests and resolves when those in flight have finished (`true`) or the
   * grace period has passed (`false`).
   */
  async begin(graceMs: number): Promise<boolean> {
    this.drainingFlag = true;
    return firstValueFrom(race(this.idle$.pipe(map(() => true)), timer(graceMs).pipe(map(() => false))));
  }
}
