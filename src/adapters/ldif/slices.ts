/**
 * Synchronous work over the in-memory directory run in slices: a search page that must look at
 * many entries, or a schema tally of the whole directory, would otherwise hold the event loop
 * for as long as it takes — other requests, keep-alive pongs and the request's own deadline
 * timer would all wait. Each slice works for about `sliceMs`, then the next one is scheduled
 * with `setImmediate`, after the loop's timers and I/O had their turn. Unsubscribing (deadline,
 * cancel, a closed stream) clears the scheduled slice: no slice starts after it.
 */
import { Observable } from 'rxjs';

/** Work that can stop after any step and go on later. */
export interface SlicedWork<T> {
  /** Works until done or until `performance.now()` reaches `until`; returns true when done. */
  step(until: number): boolean;
  /** What the work produced (called once, after `step` returned true). */
  result(): T;
}

/** Milliseconds of work per slice. */
export const SLICE_MS = 5;

/** Runs `work` in slices (the first when subscribed); emits its result and completes. */
export function inSlices<T>(work: SlicedWork<T>, sliceMs = SLICE_MS): Observable<T> {
  return new Observable<T>((subscriber) => {
    let next: NodeJS.Immediate | undefined;
    const slice = (): void => {
      next = undefined;
      let done: boolean;
      try {
        done = work.step(performance.now() + sliceMs);
      } catch (err) {
        subscriber.error(err);
        return;
      }
      if (!done) {
        next = setImmediate(slice);
        return;
      }
      subscriber.next(work.result());
      subscriber.complete();
    };
    slice();
    return () => {
      if (next !== undefined) clearImmediate(next);
    };
  });
}
