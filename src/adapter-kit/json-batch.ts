/**
 * A page of items already serialised as JSON, packed into one buffer — the fast path of a
 * search: an adapter (or its worker thread) writes each item's JSON bytes once, the pipeline
 * slices consecutive items into `chunk` frames without looking inside them, and the bytes go to
 * the socket as they are. A worker thread hands a batch to the main thread by transferring its
 * memory, not by copying strings.
 *
 * Layout: `bytes` holds the items' JSON texts separated by single commas (`a,b,c`), so any run
 * of consecutive items is one contiguous slice — exactly the inside of a JSON array. Item `i`
 * ends at `ends[i]` (exclusive) and starts at `0` (i = 0) or `ends[i - 1] + 1`.
 *
 * Whoever builds a batch guarantees every item is one complete JSON value in valid UTF-8 with
 * no raw newline or other insignificant whitespace outside strings (what `JSON.stringify`
 * writes). The hub checks this again for every frame it receives.
 */

const COMMA = 0x2c;

export class JsonBatch {
  /** The JSON texts of `count` items, comma-separated. */
  readonly bytes: Buffer;
  /** `ends[i]`: offset just past item `i` in `bytes`. */
  readonly ends: Uint32Array;

  constructor(bytes: Buffer, ends: Uint32Array) {
    this.bytes = bytes;
    this.ends = ends;
  }

  get count(): number {
    return this.ends.length;
  }

  /** Offset of the first byte of item `i`. */
  start(i: number): number {
    return i === 0 ? 0 : (this.ends[i - 1] ?? 0) + 1;
  }

  /** Bytes of item `i`'s JSON text. */
  itemBytes(i: number): number {
    return (this.ends[i] ?? 0) - this.start(i);
  }

  /** Items `[from, to)` as one slice: the inside of a JSON array (no copy). */
  slice(from: number, to: number): Buffer {
    if (from >= to) return this.bytes.subarray(0, 0);
    return this.bytes.subarray(this.start(from), this.ends[to - 1] ?? 0);
  }

  /** Item `i`'s JSON text as a string (tests, and consumers that want one item). */
  text(i: number): string {
    return this.bytes.toString('utf8', this.start(i), this.ends[i] ?? 0);
  }

  /** Every item's JSON text. */
  texts(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.text(i));
    return out;
  }

  /** A batch of the given JSON texts (each already one compact JSON value). */
  static fromTexts(texts: readonly string[]): JsonBatch {
    const bytes = Buffer.from(texts.join(','), 'utf8');
    const ends = new Uint32Array(texts.length);
    let at = 0;
    texts.forEach((t, i) => {
      at += Buffer.byteLength(t);
      ends[i] = at;
      at += 1;
    });
    return new JsonBatch(bytes, ends);
  }

  /** Rebuilds a batch from the parts a worker thread transferred (see `bytes` / `ends`). */
  static fromParts(bytes: Uint8Array, ends: Uint32Array): JsonBatch {
    return new JsonBatch(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), ends);
  }

  /** An empty batch. */
  static readonly EMPTY = new JsonBatch(Buffer.alloc(0), new Uint32Array(0));
}

export const isJsonBatch = (items: unknown): items is JsonBatch => items instanceof JsonBatch;

/** The comma byte that separates items in `JsonBatch.bytes`. */
export const JSON_BATCH_SEPARATOR = COMMA;
