/**
 * A validating structural JSON scanner over UTF-8 bytes: it checks that bytes are JSON exactly
 * as RFC 8259 (and so `JSON.parse`) defines it — strings with their escapes and no raw control
 * characters, numbers, literals, objects, arrays — and says where a value ends, without
 * building any object. The hub uses it to forward the items of an agent's `chunk` frame as the
 * bytes they arrived in (chunk-bytes.ts) instead of parsing and re-serialising every item; the
 * SCIM adapter uses it to take resources out of a response body as bytes.
 *
 * It is iterative (a fixed stack, never recursion), so nesting costs no call stack, and it
 * refuses nesting deeper than its limit. It does not check UTF-8 validity: callers check the
 * whole buffer once with `isUtf8` (native) before scanning.
 *
 * `compactJson` writes a scanned value without insignificant whitespace: a value is then one
 * line whatever its sender wrote, since a raw newline can only be whitespace between tokens
 * (inside a string it would be invalid JSON).
 */

/** Deepest nesting of containers the scanner follows (objects and arrays, counted from the buffer's top value). */
export const MAX_JSON_DEPTH = 128;

/** `value` result: the bytes are not JSON. */
export const SCAN_INVALID = -1;
/** `value` result: the value nests deeper than the scanner's limit (it may well be valid JSON). */
export const SCAN_TOO_DEEP = -2;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

const IN_OBJECT = 1;
const IN_ARRAY = 2;

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;
const isSpace = (c: number): boolean => c === SPACE || c === LF || c === CR || c === TAB;
const isHex = (c: number): boolean => (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
/** Characters allowed after a backslash besides `u`: `" \ / b f n r t`. */
const SIMPLE_ESCAPES = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPES[c.charCodeAt(0)] = 1;

/** Bytes that end a plain run inside a string: the quote, the backslash, control characters. */
const STRING_STOPS = new Uint8Array(256);
for (let c = 0; c < SPACE; c++) STRING_STOPS[c] = 1;
STRING_STOPS[QUOTE] = 1;
STRING_STOPS[BACKSLASH] = 1;

/** Bytes of `true`, `false`, `null`, checked after their first byte. */
const LITERALS: Readonly<Record<number, readonly number[]>> = {
  0x74: [0x72, 0x75, 0x65],
  0x66: [0x61, 0x6c, 0x73, 0x65],
  0x6e: [0x75, 0x6c, 0x6c],
};

/**
 * One scanner per caller (it keeps a small stack and a flag between calls; not re-entrant).
 */
export class JsonScanner {
  /** Set by `value`/`skipSpace` when they passed insignificant whitespace; callers reset it. */
  spaced = false;
  private readonly stack: Uint8Array;

  constructor(readonly maxDepth: number = MAX_JSON_DEPTH) {
    this.stack = new Uint8Array(maxDepth + 1);
  }

  /** Offset of the first byte at or after `i` that is not JSON whitespace (notes whitespace in `spaced`). */
  skipSpace(b: Uint8Array, i: number): number {
    let c = b[i] ?? -1;
    if (!isSpace(c)) return i;
    this.spaced = true;
    do c = b[++i] ?? -1;
    while (isSpace(c));
    return i;
  }

  /** Offset just past the string starting at `i` (a quote), or SCAN_INVALID. */
  string(b: Uint8Array, i: number): number {
    i += 1;
    for (;;) {
      // A plain run: one table load per byte (past the end, `b[i]` is undefined and stops it too).
      while (STRING_STOPS[b[i] as number] === 0) i += 1;
      const c = b[i] ?? -1;
      if (c === QUOTE) return i + 1;
      if (c === BACKSLASH) {
        const e = b[i + 1] ?? 0;
        if (SIMPLE_ESCAPES[e] === 1) i += 2;
        else if (e === 0x75 && isHex(b[i + 2] ?? -1) && isHex(b[i + 3] ?? -1) && isHex(b[i + 4] ?? -1) && isHex(b[i + 5] ?? -1)) i += 6;
        else return SCAN_INVALID;
      } else {
        return SCAN_INVALID; // a raw control character, or the end of the bytes
      }
    }
  }

  private number(b: Uint8Array, i: number): number {
    if (b[i] === MINUS) i += 1;
    let c = b[i] ?? -1;
    if (c === ZERO) c = b[++i] ?? -1;
    else if (isDigit(c)) {
      do c = b[++i] ?? -1;
      while (isDigit(c));
    } else return SCAN_INVALID;
    if (c === DOT) {
      c = b[++i] ?? -1;
      if (!isDigit(c)) return SCAN_INVALID;
      do c = b[++i] ?? -1;
      while (isDigit(c));
    }
    if (c === 0x65 || c === 0x45) {
      c = b[++i] ?? -1;
      if (c === PLUS || c === MINUS) c = b[++i] ?? -1;
      if (!isDigit(c)) return SCAN_INVALID;
      do c = b[++i] ?? -1;
      while (isDigit(c));
    }
    return i;
  }

  /** After `{` or `,` in an object: whitespace, a key, whitespace, a colon, whitespace; the offset of the value. */
  private member(b: Uint8Array, i: number): number {
    i = this.skipSpace(b, i);
    if (b[i] !== QUOTE) return SCAN_INVALID;
    i = this.string(b, i);
    if (i < 0) return i;
    i = this.skipSpace(b, i);
    if (b[i] !== COLON) return SCAN_INVALID;
    return this.skipSpace(b, i + 1);
  }

  /**
   * Scans the one JSON value that starts exactly at `i` (no whitespace before it) and returns
   * the offset just past it — what follows is not looked at — or SCAN_INVALID / SCAN_TOO_DEEP.
   * `depth` is the number of containers already open around the value.
   */
  value(b: Uint8Array, i: number, depth = 0): number {
    const stack = this.stack;
    const room = this.maxDepth - depth;
    let sp = 0;
    for (;;) {
      // A value starts at i.
      const c = b[i] ?? -1;
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        if (sp >= room) return SCAN_TOO_DEEP;
        i = this.skipSpace(b, i + 1);
        const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
        if (b[i] === close) {
          i += 1;
        } else {
          stack[sp++] = c === OPEN_OBJECT ? IN_OBJECT : IN_ARRAY;
          if (c === OPEN_OBJECT) {
            i = this.member(b, i);
            if (i < 0) return i;
          }
          continue;
        }
      } else if (c === QUOTE) {
        i = this.string(b, i);
      } else if (c === MINUS || isDigit(c)) {
        i = this.number(b, i);
      } else {
        const rest = LITERALS[c];
        if (rest === undefined) return SCAN_INVALID;
        for (let k = 0; k < rest.length; k++) if (b[i + 1 + k] !== rest[k]) return SCAN_INVALID;
        i += 1 + rest.length;
      }
      if (i < 0) return i;
      // A value ended at i: close containers until one goes on with a comma.
      for (;;) {
        if (sp === 0) return i;
        i = this.skipSpace(b, i);
        const d = b[i] ?? -1;
        const top = stack[sp - 1];
        if (d === COMMA) {
          i = top === IN_OBJECT ? this.member(b, i + 1) : this.skipSpace(b, i + 1);
          if (i < 0) return i;
          break;
        }
        if (d !== (top === IN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) return SCAN_INVALID;
        i += 1;
        sp -= 1;
      }
    }
  }

  /** Is `b` exactly one JSON text (whitespace allowed around the value)? Not UTF-8-checked here. */
  isJson(b: Uint8Array): boolean {
    const start = this.skipSpace(b, 0);
    const end = this.value(b, start);
    return end >= 0 && this.skipSpace(b, end) === b.length;
  }
}

/**
 * Copies the JSON value `src[start, end)` (already scanned: valid) into `dst` at `at` without
 * its insignificant whitespace; returns the offset after the last byte written.
 */
export function compactJson(src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): number {
  let inString = false;
  for (let i = start; i < end; i++) {
    const c = src[i] ?? 0;
    if (inString) {
      dst[at++] = c;
      if (c === BACKSLASH) dst[at++] = src[++i] ?? 0;
      else if (c === QUOTE) inString = false;
    } else if (!isSpace(c)) {
      dst[at++] = c;
      if (c === QUOTE) inString = true;
    }
  }
  return at;
}
