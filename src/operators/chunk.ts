import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

/** Limits of one chunk, as taken by {@link chunkBySize} and {@link chunk}. */
export interface ChunkLimits {
  /** Most items in one chunk. Integer >= 1, or `Infinity` for no count limit. */
  maxItems: number;
  /**
   * Most bytes of one chunk serialized as a JSON array: the sum of `measure(item)`, plus 1 per
   * separating comma, plus 2 for the brackets. Passing `maxFrameBytes - envelopeOverhead`
   * guarantees that `{"type":"chunk","id":"<id>","seq":N,"items":[…]}` fits in a frame.
   * Number >= 1, or `Infinity`.
   */
  maxBytes: number;
  /**
   * Bytes of one item inside the array; must return a finite number >= 0.
   * Default: UTF-8 bytes of `JSON.stringify(item)` (`null`, 4 bytes, for what JSON arrays turn
   * into `null`: `undefined`, functions, symbols).
   */
  measure?: (item: unknown) => number;
}

/** One item does not fit in `maxBytes` even in a chunk of its own. */
export class ItemTooLargeError extends Error {
  override readonly name = 'ItemTooLargeError';
  readonly code = 'SIZE_LIMIT_EXCEEDED';
  /**
   * @param index 0-based position of the item (in the array, or among the stream's values).
   * @param bytes `measure(item)`, without the brackets.
   * @param maxBytes the limit it broke: `bytes + 2 > maxBytes`.
   */
  constructor(
    readonly index: number,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`item ${index} is ${bytes} bytes; as a chunk of its own ([…]) it needs ${bytes + 2} > maxBytes ${maxBytes}`);
  }
}

/** Bytes of the brackets of an empty JSON array, `[]`. */
const BRACKETS = 2;

function defaultMeasure(item: unknown): number {
  // JSON.stringify returns undefined (despite its declared type) where an array holds `null`.
  const json: string | undefined = JSON.stringify(item);
  return Buffer.byteLength(json ?? 'null');
}

function checkLimits(who: string, limits: ChunkLimits): Required<ChunkLimits> {
  const { maxItems, maxBytes } = limits;
  if (!(Number.isInteger(maxItems) || maxItems === Infinity) || maxItems < 1) {
    throw new RangeError(`${who}: maxItems must be an integer >= 1, got ${String(maxItems)}`);
  }
  if (Number.isNaN(maxBytes) || maxBytes < 1) {
    throw new RangeError(`${who}: maxBytes must be a number >= 1, got ${String(maxBytes)}`);
  }
  const measure = limits.measure ?? defaultMeasure;
  if (typeof measure !== 'function') throw new TypeError(`${who}: measure must be a function`);
  return { maxItems, maxBytes, measure };
}

/** The chunk being filled, with its size as a JSON array. Shared by the pure and the push form. */
class Packer<T> {
  private items: T[] = [];
  private bytes = BRACKETS;

  constructor(
    private readonly who: string,
    private readonly limits: Required<ChunkLimits>,
  ) {}

  /**
   * Adds `item` (number `index` of its input); returns the chunks completed by doing so: the
   * previous one if `item` would overflow it, and the new one if `item` fills it up.
   */
  add(item: T, index: number): T[][] {
    const { maxItems, maxBytes, measure } = this.limits;
    const size = measure(item);
    if (!Number.isFinite(size) || size < 0) {
      throw new TypeError(`${this.who}: measure(item ${index}) must return a finite number >= 0, got ${String(size)}`);
    }
    if (BRACKETS + size > maxBytes) throw new ItemTooLargeError(index, size, maxBytes);
    const done: T[][] = [];
    if (this.items.length > 0 && this.bytes + 1 + size > maxBytes) done.push(this.take());
    this.bytes += (this.items.length > 0 ? 1 : 0) + size;
    this.items.push(item);
    // Full: the count is reached, or not even a comma fits any more.
    if (this.items.length >= maxItems || this.bytes + 1 > maxBytes) done.push(this.take());
    return done;
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  /** Returns the partial chunk (possibly empty) and starts a new one. */
  take(): T[] {
    const items = this.items;
    this.items = [];
    this.bytes = BRACKETS;
    return items;
  }
}

/**
 * Pure: splits `items` into consecutive chunks, each within both limits, order kept; greedy, so
 * every chunk but the last is full by count or by bytes. No items → no chunks. An item that
 * does not fit alone throws {@link ItemTooLargeError}; a bad limit throws a RangeError.
 *
 * ```
 * maxItems 3, maxBytes 9, items of 1 byte except c (5 bytes)
 * items:   [a, b, c, d, e, f, g]
 * chunks:  [a, b] [c, d] [e, f, g]     "[a,b,ccccc]" would be 11 bytes
 * ```
 */
export function chunkBySize<T>(items: readonly T[], limits: ChunkLimits): T[][] {
  const packer = new Packer<T>('chunkBySize', checkLimits('chunkBySize', limits));
  const chunks = items.flatMap((item, index) => packer.add(item, index));
  if (!packer.empty) chunks.push(packer.take());
  return chunks;
}

/** Options of {@link chunk}: the {@link ChunkLimits} plus an optional time limit. */
export interface ChunkOptions extends ChunkLimits {
  /**
   * ms a non-empty partial chunk may wait for more values (counted from its first value) before
   * it is emitted as it is. Finite, >= 0. Default: no time limit (flush on size and completion).
   */
  flushAfter?: number;
  /** Runs the `flushAfter` timer. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * Buffers a push stream into chunks within the limits, order kept. A chunk is emitted when the
 * next value would overflow it, as soon as it is full (`maxItems`, or no room left for a comma),
 * `flushAfter` ms after its first value, and on completion (if not empty). An item that cannot
 * fit alone errors the output with {@link ItemTooLargeError}; source errors pass through. On
 * either error the partial chunk is dropped: the stream failed, and an `error` frame follows.
 *
 * ```
 * maxItems 2, flushAfter 5
 * source:  -a-b-c------d-|
 * output:  ---x------y---(z|)     x = [a, b], y = [c] (5 ms after c), z = [d]
 * ```
 */
export function chunk<T>(options: ChunkOptions): OperatorFunction<T, T[]> {
  const limits = checkLimits('chunk', options);
  const { flushAfter } = options;
  if (flushAfter !== undefined && (!Number.isFinite(flushAfter) || flushAfter < 0)) {
    throw new RangeError(`chunk: flushAfter must be a finite number >= 0, got ${String(flushAfter)}`);
  }
  const scheduler = options.scheduler ?? asyncScheduler;

  // A raw Observable: the byte accounting, the timer of the partial chunk and the
  // flush on completion share one state that no built-in buffer operator exposes.
  return (source) =>
    new Observable<T[]>((subscriber) => {
      const packer = new Packer<T>('chunk', limits);
      let index = 0;
      let timer: Subscription | undefined;
      const stopTimer = (): void => {
        timer?.unsubscribe();
        timer = undefined;
      };
      const flush = (): void => {
        stopTimer();
        if (!packer.empty) subscriber.next(packer.take());
      };

      subscriber.add(
        source.subscribe({
          next: (value) => {
            if (subscriber.closed) return; // a synchronous source still emitting after our error
            let done: T[][];
            try {
              done = packer.add(value, index++);
            } catch (error: unknown) {
              subscriber.error(error);
              return;
            }
            if (done.length > 0) stopTimer(); // the partial chunk it timed is gone
            for (const items of done) subscriber.next(items);
            if (flushAfter !== undefined && !packer.empty && timer === undefined && !subscriber.closed) {
              timer = scheduler.schedule(flush, flushAfter);
            }
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            flush();
            subscriber.complete();
          },
        }),
      );
      return stopTimer;
    });
}
