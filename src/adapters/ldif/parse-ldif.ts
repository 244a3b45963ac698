/**
 * LDIF content records (RFC 2849): `version: 1`, `dn:` / `dn::`, `attr: value`, `attr:: base64`,
 * `attr:< file://…`, folded lines (a line starting with one space continues the previous one,
 * RFC 2849 note 2), `#` comments (folded too) and records separated by blank lines. Change
 * records (`changetype:`) and controls are refused: a data-source file holds content only.
 *
 * Pure: no file access. `:<` URL values are returned as `{url}` for the loader to read.
 * Every error names `file:line` of the (first physical) line it is about.
 */
import { isUtf8 } from 'node:buffer';
import { DnSyntaxError, parseDn, type Rdn } from '../ldap/dn.js';
import { isBase64, isBinaryAttribute } from '../ldap/entry.js';
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

/** A logical (unfolded) line and the physical line it starts on. */
interface Logical {
  readonly text: string;
  readonly line: number;
}

const ATTRIBUTE_LINE = /^((?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*):(.*)$/s;

/**
 * Physical lines as bytes (LF or CRLF ends). A BOM at the start of the file is an encoding mark
 * and skipped; anywhere else it is data.
 */
function* physicalLines(input: Buffer | string): Generator<Buffer> {
  const all = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const bytes = all[0] === 0xef && all[1] === 0xbb && all[2] === 0xbf ? all.subarray(3) : all;
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl === -1 ? bytes.length : nl;
    yield bytes.subarray(start, end > start && bytes[end - 1] === 0x0d ? end - 1 : end);
    if (nl === -1) return;
    start = nl + 1;
  }
}

/** Only spaces or tabs (or nothing). */
const isBlank = (line: Buffer): boolean => line.every((x) => x === 0x20 || x === 0x09);

/**
 * Unfolds continuation lines and drops comments; `null` marks a record separator. Folding is
 * undone on bytes before decoding: RFC 2849 folds octets, so a fold may fall inside a UTF-8
 * character. Each logical line is then decoded as UTF-8 (Buffer#toString, not TextDecoder,
 * which would drop a U+FEFF at its start); an error names the line it starts on. A line of
 * only spaces or tabs counts as blank: as a continuation it could only add trailing spaces,
 * which RFC 2849 says to write as base64 anyway, and as a separator it is a common slip.
 */
function* logicalLines(lines: Iterable<Buffer>, file: string): Generator<Logical | null> {
  let current: { parts: Buffer[]; line: number } | undefined;
  let inComment = false;
  let line = 0;
  const logical = (c: { parts: Buffer[]; line: number }): Logical => {
    const bytes = c.parts.length === 1 ? (c.parts[0] ?? Buffer.alloc(0)) : Buffer.concat(c.parts);
    if (!isUtf8(bytes)) throw new LdifError(file, c.line, 'not valid UTF-8 (write binary values as base64: `attr:: …`)');
    return { text: bytes.toString('utf8'), line: c.line };
  };
  for (const bytes of lines) {
    line++;
    const blank = isBlank(bytes);
    if (bytes[0] === 0x20 && !blank) {
      if (inComment) continue;
      if (current === undefined) throw new LdifError(file, line, 'continuation line (starting with a space) with no line to continue');
      current.parts.push(bytes.subarray(1));
      continue;
    }
    if (current !== undefined) yield logical(current);
    current = undefined;
    inComment = bytes[0] === 0x23; // '#'
    if (blank) yield null;
    else if (!inComment) current = { parts: [bytes], line };
  }
  if (current !== undefined) yield logical(current);
}

/** Splits `name: value` / `name:: base64` / `name:< url` into the description and its value. */
function attributeLine(l: Logical, file: string): { name: string; value: LdifValue } {
  const m = ATTRIBUTE_LINE.exec(l.text);
  if (m === null) throw new LdifError(file, l.line, `expected 'attribute: value', got ${JSON.stringify(l.text.slice(0, 60))}`);
  const name = m[1] ?? '';
  const rest = m[2] ?? '';
  if (rest.startsWith(':')) {
    const encoded = rest.slice(1).trim();
    if (!isBase64(encoded)) throw new LdifError(file, l.line, `${name}: value after '::' is not valid base64`);
    const bytes = Buffer.from(encoded, 'base64');
    // toString keeps a leading U+FEFF: it is part of the value.
    return { name, value: isBinaryAttribute(name) || !isUtf8(bytes) ? bytes : bytes.toString('utf8') };
  }
  if (rest.startsWith('<')) {
    const url = rest.slice(1).trim();
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
  const value = rest.replace(/^ +/, '');
  if (value.includes('\0')) throw new LdifError(file, l.line, `${name}: NUL in a value (write it as base64)`);
  return { name, value };
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

/**
 * The records of one LDIF file's content, one at a time (a loader can pause between them);
 * returns the version, if the file states one. Throws `LdifError` at the first problem.
 */
export function* ldifRecords(input: Buffer | string, file: string): Generator<LdifRecord, { version?: number }> {
  let version: number | undefined;
  let seenRecord = false;
  let block: Logical[] = [];
  for (const l of logicalLines(physicalLines(input), file)) {
    if (l === null) {
      if (block.length > 0) yield record(block, file);
      block = [];
      continue;
    }
    // RFC 2849: an optional `version-spec` before the first record (1*SEP may follow it).
    if (!seenRecord && block.length === 0 && version === undefined && /^version:/i.test(l.text)) {
      const v = l.text.slice('version:'.length).trim();
      if (v !== '1') throw new LdifError(file, l.line, `unsupported LDIF version ${JSON.stringify(v)} (only 1)`);
      version = 1;
      continue;
    }
    seenRecord = true;
    block.push(l);
  }
  if (block.length > 0) yield record(block, file);
  return version === undefined ? {} : { version };
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
