/**
 * LDIF content records (RFC 2849): `version: 1`, `dn:` / `dn::`, `attr: value`, `attr:: base64`,
 * `attr:< file://…`, folded lines (a line starting with one space continues the previous one,
 * RFC 2849 note 2), `#` comments (folded too) and records separated by blank lines. Change
 * records (`changetype:`) and controls are refused: a data-source file holds content only.
 *
 * Pure: no file access. `:<` URL values are returned as `{url}` for the loader to read.
 * Every error names `file:line` of the (first physical) line it is about.
 */
import { DnSyntaxError, parseDn, type Rdn } from '../ldap/dn.js';
import { isBase64, isBinaryAttribute } from '../ldap/entry.js';

/** A value: text, bytes (base64 that is not UTF-8, or of a binary type), or a `file://` URL to read. */
export type LdifValue = string | Buffer | { readonly url: string };

export interface LdifAttribute {
  /** Attribute description as written (`cn`, `cn;lang-de`, `jpegPhoto;binary`). */
  readonly name: string;
  readonly value: LdifValue;
  readonly line: number;
}

export interface LdifRecord {
  readonly dn: string;
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

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ATTRIBUTE_LINE = /^((?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)(?:;[A-Za-z0-9-]+)*):(.*)$/s;

/** Physical lines, each decoded as UTF-8 on its own so that an error can name its line. */
function* physicalLines(input: Buffer | string, file: string): Generator<string> {
  if (typeof input === 'string') {
    yield* input.replace(/^\uFEFF/, '').split(/\r?\n/);
    return;
  }
  const bytes = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf ? input.subarray(3) : input;
  let start = 0;
  for (let line = 1; ; line++) {
    const nl = bytes.indexOf(0x0a, start);
    const raw = bytes.subarray(start, nl === -1 ? bytes.length : nl);
    try {
      yield utf8.decode(raw).replace(/\r$/, '');
    } catch (err) {
      throw new LdifError(file, line, 'not valid UTF-8 (write binary values as base64: `attr:: …`)', { cause: err });
    }
    if (nl === -1) return;
    start = nl + 1;
  }
}

/**
 * Unfolds continuation lines and drops comments; `null` marks a record separator. A line of
 * only spaces or tabs counts as blank: as a continuation it could only add trailing spaces,
 * which RFC 2849 says to write as base64 anyway, and as a separator it is a common slip.
 */
function* logicalLines(lines: Iterable<string>, file: string): Generator<Logical | null> {
  let current: { parts: string[]; line: number } | undefined;
  let inComment = false;
  let line = 0;
  for (const text of lines) {
    line++;
    if (text.startsWith(' ') && !/^[ \t]*$/.test(text)) {
      if (inComment) continue;
      if (current === undefined) throw new LdifError(file, line, 'continuation line (starting with a space) with no line to continue');
      current.parts.push(text.slice(1));
      continue;
    }
    if (current !== undefined) yield { text: current.parts.join(''), line: current.line };
    current = undefined;
    inComment = text.startsWith('#');
    if (/^[ \t]*$/.test(text)) yield null;
    else if (!inComment) current = { parts: [text], line };
  }
  if (current !== undefined) yield { text: current.parts.join(''), line: current.line };
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
    if (isBinaryAttribute(name)) return { name, value: bytes };
    try {
      return { name, value: utf8.decode(bytes) };
    } catch {
      return { name, value: bytes };
    }
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
  if (typeof head.value !== 'string') throw new LdifError(file, first.line, 'dn: must be text (dn:: base64 of UTF-8)');
  const dn = head.value;
  let rdns: Rdn[];
  try {
    rdns = parseDn(dn);
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
  return { dn, rdns, line: first.line, attributes };
}

/**
 * The records of one LDIF file's content, one at a time (a loader can pause between them);
 * returns the version, if the file states one. Throws `LdifError` at the first problem.
 */
export function* ldifRecords(input: Buffer | string, file: string): Generator<LdifRecord, { version?: number }> {
  let version: number | undefined;
  let seenRecord = false;
  let block: Logical[] = [];
  for (const l of logicalLines(physicalLines(input, file), file)) {
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
