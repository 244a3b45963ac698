/**
 * LDIF content records (RFC 2849): `version: 1`, `dn:` / `dn::`, `attr: value`, `attr:: base64`,
 * `attr:< file://…`, folded lines (a line starting with one space continues the previous one,
 * RFC 2849 note 2), `#` comments (folded too) and records separated by blank lines. Change
 * records (`changetype:`) and controls are refused: a data-source file holds content only.
 *
 * Pure: no file access. `:<` URL values are returned as `{url}` for the loader to read.
 * Every error names `file:line` of the (first physical) line it is about.
 *
 * Incremental (`LdifParser`): a file is pushed in chunks as it is read and each push returns the
 * records completed so far, so a loader never holds more than a chunk and one record of text.
 * Values are decoded from the line's bytes on their own (never sliced out of a decoded line, which
 * would keep the whole line alive behind each value), and attribute descriptions are interned:
 * the same few names repeat on every entry of a large file.
 */
import { isUtf8 } from 'node:buffer';
import { DnSyntaxError, parseDn, type Rdn } from '../directory/dn.js';
import { isBase64, isBinaryAttribute } from '../directory/entry.js';
import { nameOf } from './names.js';

/**
 * A value: text (exactly as written or as the base64 decodes: a leading U+FEFF is data), bytes
 * (base64 that is not UTF-8, or of a binary type), or a `file://` URL to read.
 */
export type LdifValue = string | Buffer | { readonly url: string };

export interface LdifAttribute {
  /** Attribute description as written (`cn`, `cn;lang-de`, `jpegPhoto;binary`). */
  readonly name: string;
  readonly value: LdifValue;
  readonly line: number;
}

export interface LdifRecord {
  /** The DN as written; for a `dn::` that is not UTF-8, its `\XX`-escaped form (names.ts). */
  readonly dn: string;
  /** The name's exact bytes when they are not UTF-8 (`dn::`, or `\XX` escapes of such bytes). */
  readonly dnBytes?: Buffer;
  /** The DN parsed (RFC 4514), most specific RDN first. */
  readonly rdns: Rdn[];
  /** Line of the `dn:` line. */
  readonly line: number;
  readonly attributes: readonly LdifAttribute[];
}

export interface LdifDocument {
  readonly file: string;
  readonly version?: number;
  readonly records: readonly LdifRecord[];
}

/** A syntax or content error in an LDIF file, at `file:line`. */
export class LdifError extends Error {
  override readonly name = 'LdifError';
  readonly code = 'LDIF_INVALID';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${file}:${line}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** A logical (unfolded) line's bytes and the physical line it starts on. */
interface Logical {
  readonly bytes: Buffer;
  readonly line: number;
}

const NAME = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*$/;
const COLON = 0x3a;
const SPACE = 0x20;

/** Attribute descriptions seen, each kept once (bounded: a hostile file cannot grow it forever). */
const descriptions = new Map<string, string>();

function description(bytes: Buffer, end: number): string | undefined {
  const written = bytes.toString('latin1', 0, end);
  const known = descriptions.get(written);
  if (known !== undefined) return known;
  if (!NAME.test(written)) return undefined;
  if (descriptions.size < 10_000) descriptions.set(written, written);
  return written;
}

/** Only spaces or tabs (or nothing). */
function isBlank(line: Buffer): boolean {
  for (const x of line) if (x !== 0x20 && x !== 0x09) return false;
  return true;
}

/** Splits `name: value` / `name:: base64` / `name:< url` into the description and its value. */
function attributeLine(l: Logical, file: string): { name: string; value: LdifValue } {
  const { bytes } = l;
  const colon = bytes.indexOf(COLON);
  const name = colon === -1 ? undefined : description(bytes, colon);
  if (name === undefined) throw new LdifError(file, l.line, `expected 'attribute: value', got ${JSON.stringify(bytes.toString('utf8').slice(0, 60))}`);
  const kind = bytes[colon + 1];
  if (kind === COLON) {
    const encoded = bytes.toString('latin1', colon + 2).trim();
    if (!isBase64(encoded)) throw new LdifError(file, l.line, `${name}: value after '::' is not valid base64`);
    const decoded = Buffer.from(encoded, 'base64');
    // toString keeps a leading U+FEFF: it is part of the value.
    return { name, value: isBinaryAttribute(name) || !isUtf8(decoded) ? decoded : decoded.toString('utf8') };
  }
  if (kind === 0x3c) {
    // '<'
    const url = bytes.toString('utf8', colon + 2).trim();
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new LdifError(file, l.line, `${name}: invalid URL ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'file:') throw new LdifError(file, l.line, `${name}: only file:// URLs are supported, got ${JSON.stringify(url)}`);
    return { name, value: { url } };
  }
  // RFC 2849 FILL: spaces after the colon are not part of the value.
  let start = colon + 1;
  while (bytes[start] === SPACE) start++;
  if (bytes.indexOf(0, start) !== -1) throw new LdifError(file, l.line, `${name}: NUL in a value (write it as base64)`);
  return { name, value: bytes.toString('utf8', start) };
}

function record(lines: readonly Logical[], file: string): LdifRecord {
  const [first, ...rest] = lines;
  if (first === undefined) throw new Error('empty record');
  const head = attributeLine(first, file);
  if (head.name.toLowerCase() !== 'dn') throw new LdifError(file, first.line, `a record must start with 'dn:', got '${head.name}:'`);
  if (typeof head.value !== 'string' && !Buffer.isBuffer(head.value)) throw new LdifError(file, first.line, 'dn: cannot be a URL');
  // `dn::` may hold any octets (RFC 2849): a name that is not UTF-8 is kept as bytes.
  const name = nameOf(head.value);
  let rdns: Rdn[];
  try {
    rdns = parseDn(name.dn);
  } catch (err) {
    throw new LdifError(file, first.line, err instanceof DnSyntaxError ? err.message : String(err), { cause: err });
  }
  const attributes = rest.map((l): LdifAttribute => {
    const { name, value } = attributeLine(l, file);
    const lower = name.toLowerCase();
    if (lower === 'changetype' || lower === 'control') {
      throw new LdifError(file, l.line, `change records ('${name}:') are not supported: a data-source file holds content records only`);
    }
    if (lower === 'dn') throw new LdifError(file, l.line, "a second 'dn:' in one record (separate records with a blank line)");
    return { name, value, line: l.line };
  });
  return name.binary === undefined ? { dn: name.dn, rdns, line: first.line, attributes } : { dn: name.dn, dnBytes: name.binary, rdns, line: first.line, attributes };
}

const VERSION = /^version:/i;

/**
 * An LDIF file parsed as it is read: `push` its bytes in chunks of any size (a line, a fold or a
 * UTF-8 character may straddle two chunks), then `end`. Each call returns the records it
 * completed. Physical lines end with LF or CRLF; a BOM at the very start of the file is an
 * encoding mark and skipped (anywhere else it is data).
 *
 * Folded lines are unfolded and comments dropped on bytes before decoding: RFC 2849 folds octets,
 * so a fold may fall inside a UTF-8 character. Each logical line is then checked to be UTF-8; an
 * error names the line it starts on. A line of only spaces or tabs counts as blank: as a
 * continuation it could only add trailing spaces, which RFC 2849 says to write as base64
 * anyway, and as a separator it is a common slip. An optional `version: 1` may come before the
 * first record.
 */
export class LdifParser {
  private carry: Buffer = Buffer.alloc(0);
  private started = false;
  private line = 0;
  private current: { parts: Buffer[]; line: number } | undefined;
  private inComment = false;
  private block: Logical[] = [];
  private seenRecord = false;
  private out: LdifRecord[] = [];
  /** `1` when the file states `version: 1`. */
  version: number | undefined;

  constructor(readonly file: string) {}

  /** Feeds the next bytes of the file; returns the records they completed. */
  push(chunk: Buffer): LdifRecord[] {
    let bytes = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    if (!this.started) {
      // The BOM test needs the first three bytes.
      if (bytes.length < 3) {
        this.carry = bytes;
        return [];
      }
      this.started = true;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
      this.physical(bytes.subarray(start, nl > start && bytes[nl - 1] === 0x0d ? nl - 1 : nl));
      start = nl + 1;
    }
    // Kept as its own copy: a subarray would keep the whole chunk alive.
    this.carry = start === bytes.length ? Buffer.alloc(0) : Buffer.from(bytes.subarray(start));
    return this.take();
  }

  /** The end of the file: the last line and record. */
  end(): LdifRecord[] {
    if (!this.started) {
      this.started = true;
      const b = this.carry;
      this.carry = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b;
    }
    const last = this.carry;
    this.carry = Buffer.alloc(0);
    // The text after the last line end (empty when the file ends with one) is the last line.
    this.physical(last.length > 0 && last[last.length - 1] === 0x0d ? last.subarray(0, -1) : last);
    if (this.current !== undefined) this.logical(this.finish(this.current));
    this.current = undefined;
    if (this.block.length > 0) this.out.push(record(this.block, this.file));
    this.block = [];
    return this.take();
  }

  private take(): LdifRecord[] {
    const done = this.out;
    this.out = [];
    return done;
  }

  private finish(c: { parts: Buffer[]; line: number }): Logical {
    const bytes = c.parts.length === 1 ? (c.parts[0] ?? Buffer.alloc(0)) : Buffer.concat(c.parts);
    if (!isUtf8(bytes)) throw new LdifError(this.file, c.line, 'not valid UTF-8 (write binary values as base64: `attr:: …`)');
    return { bytes, line: c.line };
  }

  private physical(bytes: Buffer): void {
    this.line++;
    const blank = isBlank(bytes);
    if (bytes[0] === SPACE && !blank) {
      if (this.inComment) return;
      if (this.current === undefined) throw new LdifError(this.file, this.line, 'continuation line (starting with a space) with no line to continue');
      this.current.parts.push(bytes.subarray(1));
      return;
    }
    if (this.current !== undefined) this.logical(this.finish(this.current));
    this.current = undefined;
    this.inComment = bytes[0] === 0x23; // '#'
    if (blank) this.logical(null);
    else if (!this.inComment) this.current = { parts: [bytes], line: this.line };
  }

  /** A logical line, or `null` for a record separator. */
  private logical(l: Logical | null): void {
    if (l === null) {
      if (this.block.length > 0) this.out.push(record(this.block, this.file));
      this.block = [];
      return;
    }
    // RFC 2849: an optional `version-spec` before the first record (1*SEP may follow it).
    if (!this.seenRecord && this.block.length === 0 && this.version === undefined) {
      const text = l.bytes.toString('utf8');
      if (VERSION.test(text)) {
        const v = text.slice('version:'.length).trim();
        if (v !== '1') throw new LdifError(this.file, l.line, `unsupported LDIF version ${JSON.stringify(v)} (only 1)`);
        this.version = 1;
        return;
      }
    }
    this.seenRecord = true;
    this.block.push(l);
  }
}

/**
 * The records of one LDIF file's content, one at a time; returns the version, if the file
 * states one. Throws `LdifError` at the first problem.
 */
export function* ldifRecords(input: Buffer | string, file: string): Generator<LdifRecord, { version?: number }> {
  const parser = new LdifParser(file);
  yield* parser.push(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  yield* parser.end();
  return parser.version === undefined ? {} : { version: parser.version };
}

/** Parses one LDIF file's content at once. */
export function parseLdif(input: Buffer | string, file: string): LdifDocument {
  const records: LdifRecord[] = [];
  const it = ldifRecords(input, file);
  for (let r = it.next(); ; r = it.next()) {
    if (r.done === true) return r.value.version === undefined ? { file, records } : { file, version: r.value.version, records };
    records.push(r.value);
  }
}
