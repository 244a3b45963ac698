/**
 * A growing byte buffer that JSON is written into as bytes: the entry transcoder
 * (`entry-transcoder.ts`) writes each entry's JSON here straight from the BER message, so a
 * page of entries becomes one buffer without a string, Buffer view or decoder call per value.
 *
 * `string` writes a value's bytes as a JSON string exactly as `JSON.stringify` would write the
 * text those bytes decode to — or refuses (writing nothing) when they are not valid UTF-8,
 * which the caller then writes as base64. Valid UTF-8 never decodes to a lone surrogate, so the
 * only characters to escape are `"`, `\` and the C0 controls (`\b \t \n \f \r`, others as
 * `\u00xx`); everything else, U+2028 and a BOM included, is copied as it is.
 *
 * The memory is allocated here (never from Buffer's shared pool), so a page's buffer can be
 * transferred to another thread whole.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const EQUALS = 0x3d;
const EMPTY = Buffer.alloc(0);

/** JSON.stringify's short escapes for C0 controls (0 = none: `\u00xx`). */
const SHORT_ESCAPE = new Uint8Array(0x20);
SHORT_ESCAPE[0x08] = 0x62; // \b
SHORT_ESCAPE[0x09] = 0x74; // \t
SHORT_ESCAPE[0x0a] = 0x6e; // \n
SHORT_ESCAPE[0x0c] = 0x66; // \f
SHORT_ESCAPE[0x0d] = 0x72; // \r

/**
 * Length of the valid UTF-8 sequence (2–4 bytes) whose lead byte `b` is at `i`, or 0 when it is
 * not one (the WHATWG / `isUtf8` rules: no overlongs, no surrogates, nothing past U+10FFFF).
 */
export function utf8Sequence(src: Uint8Array, i: number, end: number, b: number): number {
  if (b < 0xc2) return 0;
  if (b < 0xe0) return i + 1 < end && ((src[i + 1] ?? 0) & 0xc0) === 0x80 ? 2 : 0;
  if (b < 0xf0) {
    if (i + 2 >= end) return 0;
    const c1 = src[i + 1] ?? 0;
    const lo = b === 0xe0 ? 0xa0 : 0x80;
    const hi = b === 0xed ? 0x9f : 0xbf;
    return c1 >= lo && c1 <= hi && ((src[i + 2] ?? 0) & 0xc0) === 0x80 ? 3 : 0;
  }
  if (b < 0xf5) {
    if (i + 3 >= end) return 0;
    const c1 = src[i + 1] ?? 0;
    const lo = b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xf4 ? 0x8f : 0xbf;
    return c1 >= lo && c1 <= hi && ((src[i + 2] ?? 0) & 0xc0) === 0x80 && ((src[i + 3] ?? 0) & 0xc0) === 0x80 ? 4 : 0;
  }
  return 0;
}

/** Is `src[start, end)` valid UTF-8? (No view allocated.) */
export function isUtf8Range(src: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; ) {
    const b = src[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = utf8Sequence(src, i, end, b);
    if (n === 0) return false;
    i += n;
  }
  return true;
}

export class JsonWriter {
  private buf: Buffer;
  /** Bytes written so far (the next write's offset). May be moved back to undo writes. */
  at = 0;

  /** `capacity`: the first buffer's size (allocated on the first write; grows by doubling). */
  constructor(private capacity = 64 * 1024) {
    this.buf = EMPTY;
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = Math.max(this.buf.length * 2, this.capacity);
    while (size < this.at + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.at++] = b;
  }

  /** Copies `bytes` (short constant pieces: keys, punctuation). */
  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const out = this.buf;
    let o = this.at;
    for (let i = 0; i < n; i++) out[o++] = bytes[i] ?? 0;
    this.at = o;
  }

  /** A string's UTF-8 bytes (rare paths: text that was made as a string). */
  text(s: string): void {
    this.ensure(Buffer.byteLength(s));
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /**
   * `src[start, end)` as a JSON string (quotes included), as `JSON.stringify` writes the text
   * those bytes are. Returns false and writes nothing when the bytes are not valid UTF-8.
   */
  string(src: Uint8Array, start: number, end: number): boolean {
    this.ensure(2 + 6 * (end - start));
    const out = this.buf;
    let o = this.at;
    out[o++] = QUOTE;
    for (let i = start; i < end; i++) {
      const b = src[i] ?? 0;
      if (b >= 0x20 && b < 0x80) {
        if (b === QUOTE || b === BACKSLASH) out[o++] = BACKSLASH;
        out[o++] = b;
      } else if (b < 0x20) {
        out[o++] = BACKSLASH;
        const short = SHORT_ESCAPE[b] ?? 0;
        if (short !== 0) {
          out[o++] = short;
        } else {
          out[o++] = 0x75; // u00xx
          out[o++] = 0x30;
          out[o++] = 0x30;
          out[o++] = HEX[b >> 4] ?? 0;
          out[o++] = HEX[b & 15] ?? 0;
        }
      } else {
        const n = utf8Sequence(src, i, end, b);
        if (n === 0) return false;
        out[o++] = b;
        for (let k = 1; k < n; k++) out[o++] = src[i + k] ?? 0;
        i += n - 1;
      }
    }
    out[o++] = QUOTE;
    this.at = o;
    return true;
  }

  /** `src[start, end)` base64 (RFC 4648, padded, as `Buffer.toString('base64')`), in quotes. */
  base64(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(2 + 4 * Math.ceil(n / 3));
    const out = this.buf;
    let o = this.at;
    out[o++] = QUOTE;
    let i = start;
    for (; i + 2 < end; i += 3) {
      const v = ((src[i] ?? 0) << 16) | ((src[i + 1] ?? 0) << 8) | (src[i + 2] ?? 0);
      out[o++] = BASE64[v >> 18] ?? 0;
      out[o++] = BASE64[(v >> 12) & 63] ?? 0;
      out[o++] = BASE64[(v >> 6) & 63] ?? 0;
      out[o++] = BASE64[v & 63] ?? 0;
    }
    if (i < end) {
      const two = i + 1 < end;
      const v = ((src[i] ?? 0) << 16) | (two ? (src[i + 1] ?? 0) << 8 : 0);
      out[o++] = BASE64[v >> 18] ?? 0;
      out[o++] = BASE64[(v >> 12) & 63] ?? 0;
      out[o++] = two ? (BASE64[(v >> 6) & 63] ?? 0) : EQUALS;
      out[o++] = EQUALS;
    }
    out[o++] = QUOTE;
    this.at = o;
  }

  /** `[from, at)` decoded as UTF-8 (rare paths that must rework what was written). */
  textFrom(from: number): string {
    return this.buf.toString('utf8', from, this.at);
  }

  /**
   * Everything written, handed over: the returned Buffer alone owns its memory (transferable),
   * and the writer starts again on a new buffer about as large.
   */
  take(): Buffer {
    const written = this.buf.subarray(0, this.at);
    // The next page is likely the size of this one: start there and grow less.
    this.capacity = Math.max(1024, this.at + (this.at >> 3));
    this.buf = EMPTY;
    this.at = 0;
    return written;
  }
}
