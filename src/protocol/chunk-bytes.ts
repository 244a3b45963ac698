/**
 * A `chunk` frame read without parsing its items: the hub needs a chunk's id, seq and item
 * count for its credit and count checks, not the items themselves, so it checks the whole frame
 * with the validating scanner (json-scan.ts) and keeps each item as the bytes it arrived in.
 * An HTTP search response gets those bytes as NDJSON lines (`ChunkItems.ndjson`, one Buffer per
 * chunk); the in-process API parses them only when asked (`ChunkItems.values`).
 *
 * `readChunkFrame` accepts a frame only when `decodeFrame` would accept it as the same chunk —
 * valid UTF-8, valid JSON, a top-level object whose last `type` is "chunk", whose last `id` is
 * a request id, last `seq` a non-negative integer and last `items` an array (duplicate keys:
 * the last wins, as in `JSON.parse`; other keys are ignored, as by the io-ts codec). Anything
 * else — a refusal, another frame type, nesting past the scanner's depth — is `undefined`, and
 * the caller decodes the frame the ordinary way (`decodeFrame`), which refuses or accepts it
 * with today's messages. The item values equal what `JSON.parse` gives for the same frame.
 */
import { isUtf8 } from 'node:buffer';
import { NonNegativeInt, RequestId, type Chunk } from './frames.js';
import { compactJson, JsonScanner } from './json-scan.js';

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COLON = 0x3a;

/** The items of a scanned chunk: spans of the frame's bytes, each one valid JSON value. */
export class ChunkItems {
  private parsed: unknown[] | undefined;
  private lines: Buffer | undefined;
  /** The frame's separators were turned into newlines (`ndjson`): the array no longer parses whole. */
  private rewritten = false;

  constructor(
    /** The whole frame. */
    private readonly frame: Buffer,
    /** Where the `items` array starts (`[`) and ends (just past `]`). */
    private readonly arrayStart: number,
    private readonly arrayEnd: number,
    /** Item `i` is `frame[starts[i], ends[i])`. */
    private readonly starts: readonly number[],
    private readonly ends: readonly number[],
    /** Items holding insignificant whitespace (indexes), compacted when written as lines. */
    private readonly spaced: readonly number[],
  ) {}

  get count(): number {
    return this.starts.length;
  }

  /** The items as values (`JSON.parse` of the array, once). */
  values(): unknown[] {
    if (this.parsed) return this.parsed;
    this.parsed = this.rewritten
      ? this.starts.map((s, k) => JSON.parse(this.frame.toString('utf8', s, this.ends[k])) as unknown)
      : (JSON.parse(this.frame.toString('utf8', this.arrayStart, this.arrayEnd)) as unknown[]);
    return this.parsed;
  }

  /** Item `i`'s bytes as sent (tests and diagnostics). */
  text(i: number): string {
    return this.frame.toString('utf8', this.starts[i], this.ends[i]);
  }

  /**
   * The items as NDJSON: each item's JSON on one line, `\n` after each — one Buffer. Items
   * sent compactly (`JSON.stringify` output, what agents send) are taken as they are; an item
   * with whitespace between its tokens is compacted, so a line never holds a raw newline.
   *
   * For a compact array (`[a,b,c]`) the lines are written into the frame itself — each comma
   * after an item and the closing bracket become newlines — and returned as a slice of it: no
   * copy. The frame buffer belongs to this object (the socket handed it over).
   */
  ndjson(): Buffer {
    this.lines ??= this.buildLines();
    return this.lines;
  }

  private buildLines(): Buffer {
    const { frame, starts, ends } = this;
    const n = starts.length;
    if (n === 0) return Buffer.alloc(0);
    let contiguous = this.spaced.length === 0;
    for (let k = 1; contiguous && k < n; k++) contiguous = starts[k] === ends[k - 1]! + 1;
    const first = starts[0]!;
    const last = ends[n - 1]!;
    if (contiguous && last === this.arrayEnd - 1) {
      // `[a,b,c]` → `[a\nb\nc\n`: the commas between items and the bracket become the newlines.
      this.rewritten = true;
      for (let k = 0; k < n; k++) frame[ends[k]!] = NEWLINE;
      return frame.subarray(first, last + 1);
    }
    let total = n;
    for (let k = 0; k < n; k++) total += ends[k]! - starts[k]!;
    const out = Buffer.allocUnsafe(total);
    const spaced = new Set(this.spaced);
    let at = 0;
    for (let k = 0; k < n; k++) {
      at = spaced.has(k) ? compactJson(frame, starts[k]!, ends[k]!, out, at) : at + frame.copy(out, at, starts[k], ends[k]);
      out[at++] = NEWLINE;
    }
    return out.subarray(0, at);
  }
}

/** A `chunk` frame whose items are still bytes. */
export interface ScannedChunk {
  readonly type: 'chunk';
  readonly id: RequestId;
  readonly seq: NonNegativeInt;
  readonly items: ChunkItems;
}

/** The chunk as `decodeFrame` would have given it (items parsed). */
export function parsedChunk(chunk: ScannedChunk): Chunk {
  return { type: 'chunk', id: chunk.id, seq: chunk.seq, items: chunk.items.values() };
}

const KEY_TYPE = 1;
const KEY_ID = 2;
const KEY_SEQ = 3;
const KEY_ITEMS = 4;
const NAMES: ReadonlyArray<readonly [string, number]> = [
  ['"type"', KEY_TYPE],
  ['"id"', KEY_ID],
  ['"seq"', KEY_SEQ],
  ['"items"', KEY_ITEMS],
];

/** Which of the chunk's fields the key `b[s, e)` (quotes included) names, 0 for none. */
function keyOf(b: Buffer, s: number, e: number): number {
  let escaped = false;
  for (let k = s + 1; k < e - 1 && !escaped; k++) escaped = b[k] === BACKSLASH;
  const name = escaped ? `"${JSON.parse(b.toString('utf8', s, e)) as string}"` : e - s <= 7 ? b.toString('latin1', s, e) : '';
  for (const [text, key] of NAMES) if (name === text) return key;
  return 0;
}

const CHUNK_TYPE = Buffer.from('"chunk"');

const scanners = { frame: new JsonScanner() };

/**
 * Reads `frame` as a chunk frame, or returns `undefined` when it is anything else (see the
 * module comment: the caller then decodes it with `decodeFrame`).
 */
export function readChunkFrame(frame: Buffer): ScannedChunk | undefined {
  if (!isUtf8(frame)) return undefined;
  const scan = scanners.frame;
  const b = frame;
  let i = scan.skipSpace(b, 0);
  if (b[i] !== OPEN_OBJECT) return undefined;
  i = scan.skipSpace(b, i + 1);
  let type: [number, number] | undefined;
  let id: [number, number] | undefined;
  let seq: [number, number] | undefined;
  let items: { start: number; end: number; starts: number[]; ends: number[]; spaced: number[] } | undefined;
  if (b[i] === CLOSE_OBJECT) return undefined;
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const ks = i;
    i = scan.string(b, i);
    if (i < 0) return undefined;
    const key = keyOf(b, ks, i);
    i = scan.skipSpace(b, i);
    if (b[i] !== COLON) return undefined;
    i = scan.skipSpace(b, i + 1);
    const vs = i;
    if (key === KEY_ITEMS && b[i] === OPEN_ARRAY) {
      const starts: number[] = [];
      const ends: number[] = [];
      const spaced: number[] = [];
      i = scan.skipSpace(b, i + 1);
      if (b[i] === CLOSE_ARRAY) i += 1;
      else {
        for (;;) {
          scan.spaced = false;
          const s = i;
          i = scan.value(b, i, 2);
          if (i < 0) return undefined;
          if (scan.spaced) spaced.push(starts.length);
          starts.push(s);
          ends.push(i);
          i = scan.skipSpace(b, i);
          if (b[i] === COMMA) {
            i = scan.skipSpace(b, i + 1);
            continue;
          }
          if (b[i] !== CLOSE_ARRAY) return undefined;
          i += 1;
          break;
        }
      }
      items = { start: vs, end: i, starts, ends, spaced };
    } else {
      i = scan.value(b, i, 1);
      if (i < 0) return undefined;
      if (key === KEY_TYPE) type = [vs, i];
      else if (key === KEY_ID) id = [vs, i];
      else if (key === KEY_SEQ) seq = [vs, i];
      else if (key === KEY_ITEMS) items = undefined; // a later `items` that is not an array wins
    }
    i = scan.skipSpace(b, i);
    if (b[i] === COMMA) {
      i = scan.skipSpace(b, i + 1);
      continue;
    }
    if (b[i] !== CLOSE_OBJECT) return undefined;
    i = scan.skipSpace(b, i + 1);
    break;
  }
  if (i !== b.length || type === undefined || id === undefined || seq === undefined || items === undefined) return undefined;
  if (!(type[1] - type[0] === CHUNK_TYPE.length && b.compare(CHUNK_TYPE, 0, CHUNK_TYPE.length, type[0], type[1]) === 0) && JSON.parse(b.toString('utf8', type[0], type[1])) !== 'chunk') {
    return undefined;
  }
  const idValue: unknown = JSON.parse(b.toString('utf8', id[0], id[1]));
  const seqValue: unknown = JSON.parse(b.toString('utf8', seq[0], seq[1]));
  if (!RequestId.is(idValue) || !NonNegativeInt.is(seqValue)) return undefined;
  return { type: 'chunk', id: idValue, seq: seqValue, items: new ChunkItems(frame, items.start, items.end, items.starts, items.ends, items.spaced) };
}
