import type { Observable, Subscriber, Subscription } from 'rxjs';

/**
 * Subscribes to a receiver's credit grants on behalf of `subscriber`: each valid grant (an
 * integer ≥ 1) is passed to `onGrant`; an invalid one or an error of `credit$` fails the
 * subscriber. Shared by `creditStream` and `creditGate`.
 */
export function subscribeGrants(
  credit$: Observable<number>,
  subscriber: Subscriber<unknown>,
  operator: string,
  onGrant: (n: number) => void,
): Subscription {
  return credit$.subscribe({
    next: (n) => {
      if (!Number.isInteger(n) || n < 1) {
        subscriber.error(new TypeError(`${operator}: credit must be an integer >= 1, got ${String(n)}`));
        return;
      }
      onGrant(n);
    },
    error: (error: unknown) => subscriber.error(error),
  });
}
