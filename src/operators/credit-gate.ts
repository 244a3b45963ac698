import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { subscribeGrants } from './credit-grants.js';

/** Options of {@link creditGate}. */
export interface CreditGateOptions {
  /**
   * Credit grants from the receiver: each `n` an integer >= 1, anything else errors the output
   * with a TypeError. Completing means "no more credit"; values wait.
   */
  credit$: Observable<number>;
  /** Credit available before any grant. Integer >= 0. Default `0`. */
  initialCredit?: number;
  /**
   * Most values waiting for credit. Integer >= 0. One more errors the output with
   * {@link CreditBufferOverflowError}: the caller's own flow control (e.g. pulling under credit)
   * must make that impossible; this turns such a bug into a loud error instead of unbounded memory.
   */
  maxBuffered: number;
  /**
   * Called each time a value starts waiting for credit (once per stall, however many values
   * pile up meanwhile): a slow or stalled receiver, for metrics.
   */
  onStall?: () => void;
}

/** More than `maxBuffered` values waited for credit: a flow-control bug upstream of the gate. */
export class CreditBufferOverflowError extends Error {
  override readonly name = 'CreditBufferOverflowError';
  readonly code = 'INTERNAL';
  constructor(readonly maxBuffered: number) {
    super(`more than ${maxBuffered} values waiting for credit: the sender ignored backpressure`);
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`creditGate: ${name} must be an integer >= 0, got ${String(value)}`);
  }
}

/**
 * Credit gating for a push source: each value emitted consumes one credit; without
 * credit values wait, first in first out, up to `maxBuffered`. Source completion completes the
 * output only once the waiting values are emitted (so `end` follows the last chunk). A source
 * error errors the output at once and drops the waiting values: the stream failed, and the
 * `error` frame that follows tells the receiver; holding it back for credit could wait for ever.
 *
 * ```
 * initialCredit 1, maxBuffered 2
 * source:   -a-b-c-|
 * credit$:  ---------1---2
 * output:   -a-------b---(c|)
 * ```
 */
export function creditGate<T>(options: CreditGateOptions): MonoTypeOperatorFunction<T> {
  const { credit$, maxBuffered, onStall } = options;
  const initialCredit = options.initialCredit ?? 0;
  checkCount('initialCredit', initialCredit);
  checkCount('maxBuffered', maxBuffered);

  // A raw Observable: values and grants meet in one counter and one bounded queue.
  return (source) =>
    new Observable<T>((subscriber) => {
      let credit = initialCredit;
      const waiting: T[] = []; // bounded by maxBuffered, so shift() stays cheap
      let sourceDone = false;
      let draining = false;
      let stalled = false;

      // Re-entrant calls (credit granted from inside `next`) return at once: the running loop
      // re-reads the counter and the queue after every value.
      const drain = (): void => {
        if (draining) return;
        draining = true;
        try {
          while (!subscriber.closed && credit > 0 && waiting.length > 0) {
            credit -= 1;
            stalled = false;
            subscriber.next(waiting.shift() as T);
          }
          if (!stalled && !subscriber.closed && credit === 0 && waiting.length > 0) {
            stalled = true;
            onStall?.();
          }
          if (sourceDone && waiting.length === 0) subscriber.complete();
        } finally {
          draining = false;
        }
      };

      subscriber.add(
        subscribeGrants(credit$, subscriber, 'creditGate', (n) => {
          credit += n;
          drain();
        }),
      );
      if (subscriber.closed) return;

      subscriber.add(
        source.subscribe({
          next: (value) => {
            if (subscriber.closed) return; // a synchronous source still emitting after our error
            waiting.push(value);
            drain();
            // Values already covered by credit are not waiting (a re-entrant push mid-drain).
            if (waiting.length - credit > maxBuffered) subscriber.error(new CreditBufferOverflowError(maxBuffered));
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            sourceDone = true;
            drain();
          },
        }),
      );
      return () => {
        waiting.length = 0;
      };
    });
}
