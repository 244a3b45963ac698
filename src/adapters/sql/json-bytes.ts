/**
 * A growing byte buffer that a page of entries is written into as JSON, value by value, straight
 * from the driver's row values: no entry object per row and no `JSON.stringify` of one. Every
 * value is written exactly as `JSON.stringify` writes it (the entries of the fast path must be
 * byte-identical to the JSON of the entry objects `get` builds):
 *
 * - a string without `"`, `\`, C0 controls or surrogates as its UTF-8 bytes in quotes (ASCII ones
 *   copied here; others through Buffer's UTF-8 writer); any other string through `JSON.stringify`
 *   (its escapes, well-formed lone-surrogate escapes included);
 * - numbers, booleans and JSON documents (parsed `json`/`jsonb`/`JSON`) through
 *   `JSON.stringify`, except small integers, written as digits;
 * - binary as base64 (RFC 4648, padded: what `Buffer.toString('base64')` gives) in quotes.
 *
 * The memory is allocated here, never from Buffer's shared pool, so a page's buffer may be
 * transferred to another thread whole (a source running under `isolation: worker`).
 */

const QUOTE = 0x22;
const EQUALS = 0x3d;
const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const TRUE = Buffer.from('true', 'latin1');
const FALSE = Buffer.from('false', 'latin1');
const EMPTY = Buffer.alloc(0);
/** Characters JSON.stringify does not copy as they are. */
// eslint-disable-next-line no-control-regex -- the C0 controls are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/** Strings up to this length are copied by the loop below when they are ASCII (a call into Buffer costs more). */
const SHORT = 64;
/** Binary values longer than this are encoded by Buffer in one call. */
const LONG_BINARY = 256;

export class JsonBytes {
  private buf: Buffer = EMPTY;
  /** Bytes written so far (the next write's offset). */
  at = 0;

  /** `capacity`: the first buffer's size (allocated on the first write; grows by doubling). */
  constructor(private capacity = 64 * 1024) {}

  /** Room for `n` more bytes. */
  private ensure(n: number): void {
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

  /** Constant pieces (keys, punctuation), prepared once. */
  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const out = this.buf;
    let o = this.at;
    for (let i = 0; i < n; i++) out[o++] = bytes[i] ?? 0;
    this.at = o;
  }

  /** `src[start, end)` copied (JSON written elsewhere). */
  copy(src: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    this.at += src.copy(this.buf, this.at, start, end);
  }

  /** Text that is already JSON (from `JSON.stringify`), as UTF-8. */
  text(s: string): void {
    this.ensure(3 * s.length);
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /** A string as a JSON string, as `JSON.stringify(s)` writes it. */
  string(s: string): void {
    const n = s.length;
    if (n <= SHORT) {
      this.ensure(n + 2);
      const out = this.buf;
      let o = this.at;
      out[o++] = QUOTE;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x20 || c >= 0x80 || c === QUOTE || c === 0x5c) break;
        out[o++] = c;
      }
      if (i === n) {
        out[o++] = QUOTE;
        this.at = o;
        return;
      }
      // Not plain ASCII: the bytes copied so far are overwritten below.
    }
    if (NEEDS_ESCAPE.test(s)) {
      this.text(JSON.stringify(s));
      return;
    }
    this.ensure(3 * n + 2);
    this.buf[this.at++] = QUOTE;
    this.at += this.buf.write(s, this.at, 'utf8');
    this.buf[this.at++] = QUOTE;
  }

  /** Any other value as `JSON.stringify(value)` writes it (numbers, booleans, JSON documents). */
  value(v: unknown): void {
    if (typeof v === 'string') return this.string(v);
    if (typeof v === 'boolean') return this.bytes(v ? TRUE : FALSE);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1e9 && !Object.is(v, -0)) return this.digits(v);
    this.text(JSON.stringify(v) ?? 'null');
  }

  /** A non-negative integer below 1e9 (what `JSON.stringify` writes for it). */
  private digits(v: number): void {
    let width = 1;
    for (let p = 10; p <= v; p *= 10) width++;
    this.ensure(width);
    const out = this.buf;
    let o = this.at + width;
    this.at = o;
    do {
      out[--o] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
  }

  /** Bytes as a base64 JSON string (what `JSON.stringify(bytes.toString('base64'))` writes). */
  base64(src: Buffer): void {
    const end = src.length;
    if (end > LONG_BINARY) {
      // One call into Buffer beats the loop for large values (photos, documents).
      const text = src.toString('base64');
      this.ensure(text.length + 2);
      this.buf[this.at++] = QUOTE;
      this.at += this.buf.write(text, this.at, 'latin1');
      this.buf[this.at++] = QUOTE;
      return;
    }
    this.ensure(2 + 4 * Math.ceil(end / 3));
    const out = this.buf;
    let o = this.at;
    out[o++] = QUOTE;
    let i = 0;
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

  /** Everything written, as a view of this writer's buffer (valid until the next write or `reset`). */
  view(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** Starts again at the beginning of the same buffer. */
  reset(): void {
    this.at = 0;
  }

  /**
   * Everything written, handed over: the returned Buffer alone owns its memory, and the writer
   * starts again on a new buffer about as large (the next page is likely the size of this one).
   */
  take(): Buffer {
    const written = this.buf.subarray(0, this.at);
    this.capacity = Math.max(1024, this.at + (this.at >> 3));
    this.buf = EMPTY;
    this.at = 0;
    return written;
  }
}
