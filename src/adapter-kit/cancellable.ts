/**
 * Promise-based upstream calls as cancellable Observables. `fromCancellable(signal => call(signal))`
 * starts the call on subscription and aborts it (the `AbortSignal`) on unsubscribe; a rejection
 * that arrives after the unsubscribe is swallowed (nobody is listening, and an unhandled
 * rejection would be blamed on the data source).
 */
import { Observable } from 'rxjs';

export function fromCancellable<T>(run: (signal: AbortSignal) => PromiseLike<T> | T): Observable<T> {
  return new Observable<T>((subscriber) => {
    const controller = new AbortController();
    let promise: PromiseLike<T>;
    try {
      const value = run(controller.signal);
      promise = isPromiseLike(value) ? value : Promise.resolve(value);
    } catch (err) {
      subscriber.error(err);
      return undefined;
    }
    promise.then(
      (value) => {
        if (subscriber.closed) return;
        subscriber.next(value);
        subscriber.complete();
      },
      (err: unknown) => {
        if (!subscriber.closed) subscriber.error(err);
      },
    );
    return () => {
      if (!controller.signal.aborted) controller.abort();
    };
  });
}

function isPromiseLike<T>(value: PromiseLike<T> | T): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
