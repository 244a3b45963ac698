/**
 * A small semaphore in front of scrypt: checking a password or an API token costs tens of
 * milliseconds of CPU on purpose, so the hub runs at most `maxConcurrent` checks at once and
 * lets at most `maxQueued` wait. More is refused at once (`HashBusyError`: 503 with
 * Retry-After) instead of queueing without bound. Sources without recent failures are served
 * before suspect ones (see failure-penalties.ts; a source's second check while its first is
 * waiting or running counts as suspect too), and a clean check arriving at a full queue
 * pushes out the newest suspect one, so a flood from other addresses cannot keep an agent with
 * the right password waiting. One source may have at most `maxPerSource` checks waiting or
 * running.
 */
import { Subject, type Observable } from 'rxjs';

export interface HashGateOptions {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly maxPerSource?: number;
}

/** What the gate did with one check (the metrics and the attack tests follow these). */
export type HashEvent =
  | { readonly type: 'started'; readonly source: string; readonly suspect: boolean; readonly waitedBehind: number }
  | { readonly type: 'finished'; readonly source: string }
  | { readonly type: 'refused'; readonly source: string; readonly suspect: boolean };

/** The gate is full: answer 503 with `Retry-After: retryAfterSeconds`. */
export class HashBusyError extends Error {
  readonly retryAfterSeconds = 1;
  constructor(message: string) {
    super(message);
    this.name = 'HashBusyError';
  }
}

interface Waiting {
  readonly source: string;
  readonly suspect: boolean;
  /** `finished` when the check was queued: the difference at start is what it waited behind. */
  readonly finishedBefore: number;
  readonly start: () => void;
  readonly refuse: (err: HashBusyError) => void;
}

const DEFAULT_MAX_PER_SOURCE = 2;

export class HashGate {
  private running = 0;
  private finished = 0;
  private readonly clean: Waiting[] = [];
  private readonly suspect: Waiting[] = [];
  private readonly perSource = new Map<string, number>();
  private readonly eventsSubject = new Subject<HashEvent>();
  readonly events$: Observable<HashEvent> = this.eventsSubject.asObservable();

  constructor(private readonly options: HashGateOptions) {}

  /** Checks running now and waiting now. */
  load(): { running: number; queued: number } {
    return { running: this.running, queued: this.clean.length + this.suspect.length };
  }

  /** Checks finished since the gate was made. */
  finishedCount(): number {
    return this.finished;
  }

  /** Runs `work` (one scrypt) when a slot is free; rejects with `HashBusyError` when full. */
  async run<T>(source: string, suspectSource: boolean, work: () => Promise<T>): Promise<T> {
    const mine = this.perSource.get(source) ?? 0;
    // An agent checks one credential at a time: a second check from the same source waits as a suspect one.
    const suspect = suspectSource || mine > 0;
    if (mine >= (this.options.maxPerSource ?? DEFAULT_MAX_PER_SOURCE)) {
      throw this.refusal(source, suspect, `${mine} credential checks from this address are already waiting or running`);
    }
    if (this.running < this.options.maxConcurrent && this.clean.length + this.suspect.length === 0) {
      this.take(source);
      this.eventsSubject.next({ type: 'started', source, suspect, waitedBehind: 0 });
    } else {
      await this.wait(source, suspect);
    }
    try {
      return await work();
    } finally {
      this.release(source);
    }
  }

  private wait(source: string, suspect: boolean): Promise<void> {
    if (this.clean.length + this.suspect.length >= this.options.maxQueued) {
      const pushedOut = suspect ? undefined : this.suspect.pop();
      if (pushedOut === undefined) throw this.refusal(source, suspect, `${this.options.maxQueued} credential checks are waiting already`);
      this.forget(pushedOut.source);
      pushedOut.refuse(this.refusal(pushedOut.source, true, 'a credential check from an address without failures took its place'));
    }
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    return new Promise<void>((resolve, reject) => {
      (suspect ? this.suspect : this.clean).push({ source, suspect, finishedBefore: this.finished, start: resolve, refuse: reject });
    });
  }

  private take(source: string): void {
    this.running += 1;
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
  }

  private release(source: string): void {
    this.running -= 1;
    this.finished += 1;
    this.forget(source);
    this.eventsSubject.next({ type: 'finished', source });
    while (this.running < this.options.maxConcurrent) {
      const next = this.clean.shift() ?? this.suspect.shift();
      if (next === undefined) break;
      // Its per-source count already holds the waiting check: it now holds the running one.
      this.running += 1;
      this.eventsSubject.next({ type: 'started', source: next.source, suspect: next.suspect, waitedBehind: this.finished - next.finishedBefore });
      next.start();
    }
  }

  private forget(source: string): void {
    const n = (this.perSource.get(source) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(source);
    else this.perSource.set(source, n);
  }

  private refusal(source: string, suspect: boolean, why: string): HashBusyError {
    this.eventsSubject.next({ type: 'refused', source, suspect });
    return new HashBusyError(`credential checks are busy: ${why}; retry later`);
  }
}
