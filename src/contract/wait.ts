/**
 * Awaiting events with a failure guard. The contract checks wait for what happened (a close
 * recorded, an agent registered), never for time to pass; the timeout only turns "it never
 * happened" into a failure that says what was awaited, and is generous for loaded machines.
 */
import type { Observable } from 'rxjs';

/** How long a check waits for an event before it fails: far beyond what any event needs. */
export const EVENT_TIMEOUT_MS = 30_000;

/**
 * Resolves with the first defined value of `probe`, evaluated now and after each emission of
 * `changed$`; rejects after `timeoutMs` with an error naming `what` and the last `state()`.
 */
export function until<T>(
  changed$: Observable<unknown>,
  probe: () => T | undefined,
  what: string,
  state: () => string = () => '',
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const now = probe();
    if (now !== undefined) return resolve(now);
    const timer = setTimeout(() => {
      sub.unsubscribe();
      const seen = state();
      reject(new Error(`${what}: did not happen within ${timeoutMs} ms${seen === '' ? '' : ` (${seen})`}`));
    }, timeoutMs);
    const sub = changed$.subscribe(() => {
      const value = probe();
      if (value === undefined) return;
      clearTimeout(timer);
      sub.unsubscribe();
      resolve(value);
    });
  });
}

/** `promise`, or a rejection naming `what` when it has not settled within `timeoutMs`. */
export function guard<T>(promise: Promise<T>, what: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not happen within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
