import { defer, Observable, take, type Subscription } from 'rxjs';
import { subscribeGrants } from './credit-grants.js';

/** One page pulled from the upstream (an LDAP paged search result, a SCIM list response). */
export interface PulledPage<T> {
  readonly items: readonly T[];
  /** No page follows this one. */
  readonly last: boolean;
  /** The upstream cut the result short (size limit, …); reported in `end`. Default `false`. */
  readonly truncated?: boolean;
  /** The upstream's total of matching items, if it reports one (the latest wins). */
  readonly total?: number;
}

/** Options of {@link creditStream}. */
export interface CreditStreamOptions<T> {
  /**
   * Pulls the next page: the first value is the page, the pull is then unsubscribed (completing
   * without a value errors the stream). Subscribed at most once at a time, and only when
   * credit > 0 and no chunk is waiting. May be synchronous (`of(page)`).
   */
  pull: () => Observable<PulledPage<T>>;
  /**
   * Credit grants from the receiver (`credit {id, n}`): each `n` an integer >= 1, anything else
   * errors the output with a TypeError. Completing means "no more credit"; the stream waits.
   */
  credit$: Observable<number>;
  /** Credit available before any grant. Integer >= 0. Default `0`. */
  initialCredit?: number;
  /**
   * Splits a page into chunks, e.g. `(items) => chunkBySize(items, limits)`. Empty chunks are
   * skipped (they would cost credit for nothing). A throw errors the output.
   */
  chunk: (items: readonly T[]) => T[][];
  /**
   * Called exactly once on teardown for any reason (end, error, unsubscribe), after the pull in
   * progress is unsubscribed: abandons the upstream operation (e.g. abandons the paged search).
   */
  close?: () => void;
  /**
   * Pull the next page as soon as the credit held covers every waiting chunk plus one more,
   * before the waiting chunks are emitted (default false). The upstream then works while the
   * current page is serialised and sent; memory is still bounded: one page ahead at most (the
   * chunks of at most two pages wait, one page's pull in flight or arrived), whatever the credit.
   */
  prefetch?: boolean;
  /**
   * Called each time the stream starts waiting for credit with a chunk ready to send (once per
   * stall, however often it wakes up meanwhile): a slow or stalled receiver, for metrics.
   */
  onStall?: () => void;
  /**
   * Whether the receiver's side can take a chunk now — e.g. the socket is writable, or the
   * writer has room for this stream's next frame. While the last value was `false` (and before
   * any value) nothing is pulled, not even a prefetch, and no chunk is emitted, whatever the
   * credit; `true` resumes. So the reader of the socket, not the credit, paces the upstream.
   * May emit synchronously from inside the stream's own `next` (a write that fills the socket).
   * An error errors the output; completing leaves the gate as it was. Default: always open.
   * `end` does not wait for the gate: it needs no credit and is one small frame.
   */
  gate?: Observable<boolean>;
  /**
   * How many stream items one `T` stands for, counted in `end.count` (default 1): e.g. a slice
   * of a serialised batch that holds several items.
   */
  weight?: (item: T) => number;
}

/** What {@link creditStream} emits: the payloads of `chunk` frames, then one `end`. */
export type CreditStreamEvent<T> =
  | { readonly type: 'chunk'; readonly seq: number; readonly items: T[] }
  | { readonly type: 'end'; readonly count: number; readonly truncated: boolean; readonly total?: number };

/**
 * A pulled stream sent only under credit (like RSocket REQUEST_N): one credit = one
 * chunk. A page is pulled only when there is credit to send it, and only after the previous
 * page's chunks are all sent, so memory is bounded by one page and its chunks whatever the total
 * size. After the last page's chunks, emits `end {count, truncated}` (needs no credit) and
 * completes. Errors from `pull`, `chunk` or `credit$` error the output: never a silent `end`.
 * With a `gate`, pulling and sending also wait while the gate is closed: credit says what the
 * receiver allows, the gate whether the way to it (the socket) can take a chunk now.
 * Unsubscribing unsubscribes the pull in progress and `credit$`, then calls `close()`.
 *
 * ```
 * 2 pages of 2 items, 1 item per chunk; P = pull subscribed, its page arrives 1 ms later
 * credit$:  -1------2------1
 * pulls:    -P------P
 * output:   --a-----bc-----(de|)     a..d = chunks seq 0..3, e = end {count: 4}
 * ```
 */
export function creditStream<T>(options: CreditStreamOptions<T>): Observable<CreditStreamEvent<T>> {
  const { pull, credit$, chunk, close, onStall, gate, weight } = options;
  const prefetch = options.prefetch ?? false;
  const initialCredit = options.initialCredit ?? 0;
  if (!Number.isInteger(initialCredit) || initialCredit < 0) {
    throw new RangeError(`creditStream: initialCredit must be an integer >= 0, got ${String(initialCredit)}`);
  }
  if (typeof pull !== 'function') throw new TypeError('creditStream: pull must be a function');
  if (typeof chunk !== 'function') throw new TypeError('creditStream: chunk must be a function');

  // A raw Observable: sending and pulling are both gated on one credit counter.
  return new Observable<CreditStreamEvent<T>>((subscriber) => {
    let credit = initialCredit;
    const waiting: T[][] = []; // chunks pulled but not sent yet
    const pageChunks: number[] = []; // chunks left in `waiting` of each page that has some
    let pulling = false;
    let pullSub: Subscription | undefined;
    let lastSeen = false;
    let truncated = false;
    let total: number | undefined;
    let seq = 0;
    let count = 0;
    let draining = false;
    let stalled = false;
    let open = gate === undefined;

    const accept = (page: PulledPage<T>): void => {
      if (page.truncated === true) truncated = true;
      if (page.total !== undefined) total = page.total;
      lastSeen = page.last;
      try {
        // Appended: with prefetch, the previous page's chunks may still be going out.
        const chunks = chunk(page.items).filter((items) => items.length > 0);
        waiting.push(...chunks);
        if (chunks.length > 0) pageChunks.push(chunks.length);
      } catch (error: unknown) {
        subscriber.error(error);
      }
    };

    const startPull = (): void => {
      pulling = true;
      let page: PulledPage<T> | undefined;
      pullSub = defer(pull)
        .pipe(take(1))
        .subscribe({
          next: (p) => (page = p),
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            pulling = false;
            if (page === undefined) subscriber.error(new Error('creditStream: pull completed without a page'));
            else accept(page);
            drain();
          },
        });
    };

    // Re-entrant calls (a synchronous pull, credit granted from inside `next`) return at once:
    // the running loop re-reads the whole state after every step.
    const drain = (): void => {
      if (draining) return;
      draining = true;
      try {
        while (!subscriber.closed) {
          const items = waiting[0];
          if (prefetch && open && items !== undefined && !pulling && !lastSeen && credit > waiting.length && pageChunks.length === 1) {
            // Credit covers every waiting chunk and more: ask for the next page before sending,
            // so the upstream works while this page is serialised and written. One page ahead
            // at most: a synchronous pull must not read the whole result under a huge credit.
            startPull();
            continue;
          }
          if (items !== undefined) {
            if (credit === 0) {
              if (!stalled) {
                stalled = true;
                onStall?.();
              }
              return;
            }
            if (!open) return; // the receiver's side is full: it wakes us when it has room
            stalled = false;
            credit -= 1;
            waiting.shift();
            if (pageChunks[0] === 1) pageChunks.shift();
            else pageChunks[0] = (pageChunks[0] ?? 1) - 1;
            count += weight === undefined ? items.length : items.reduce((n, item) => n + weight(item), 0);
            subscriber.next({ type: 'chunk', seq: seq++, items });
          } else if (lastSeen) {
            subscriber.next(total === undefined ? { type: 'end', count, truncated } : { type: 'end', count, truncated, total });
            subscriber.complete();
          } else if (credit > 0 && open && !pulling) {
            startPull();
          } else {
            return; // waiting for credit or for the page in flight
          }
        }
      } finally {
        draining = false;
      }
    };

    subscriber.add(
      subscribeGrants(credit$, subscriber, 'creditStream', (n) => {
        credit += n;
        drain();
      }),
    );
    if (gate !== undefined && !subscriber.closed) {
      subscriber.add(
        gate.subscribe({
          next: (isOpen) => {
            open = isOpen;
            if (open) drain();
          },
          error: (error: unknown) => subscriber.error(error),
        }),
      );
    }
    drain();

    return () => {
      pullSub?.unsubscribe();
      close?.();
    };
  });
}
