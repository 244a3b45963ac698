/**
 * The entry contract (docs/protocol.md, "Entries (directory data, byte for byte)") applied to
 * the lines of an LDIF record — written from the contract and RFC 2849, not from src/, so the
 * adapter's output can be compared with it — and an LDIF writer for test records.
 *
 * What the LDIF directory "sends" for a record: the attributes in the order the record first
 * names them, each one run holding all its lines' values in file order; `;binary` in a file is
 * the RFC 4522 transfer option (how the value is written), not part of the attribute.
 */
import { isUtf8 } from 'node:buffer';

export interface Line {
  /** The attribute description as written (`cn`, `CN;Lang-DE`, `jpegPhoto;binary;lang-en`). */
  readonly description: string;
  /** Text or exact bytes. */
  readonly value: string | Buffer;
  /** How the LDIF writes it: `attr: text` or `attr:: base64` (the default: plain when it can be). */
  readonly form?: 'plain' | 'base64' | undefined;
}

export interface TestRecord {
  /** The name: text (written `dn:` when safe) or bytes (`dn::`). */
  readonly dn: string | Buffer;
  readonly lines: readonly Line[];
}

export interface ContractEntry {
  readonly dn: string;
  readonly 'dn;binary'?: string;
  readonly attributes: Record<string, string[]>;
}

/** docs/ldap.md's binary attribute types, lower case. */
const BINARY_TYPES = new Set(
  [
    'jpegPhoto', 'photo', 'audio', 'thumbnailPhoto', 'thumbnailLogo', 'userCertificate', 'cACertificate', 'authorityRevocationList',
    'certificateRevocationList', 'deltaRevocationList', 'crossCertificatePair', 'userSMIMECertificate', 'userPKCS12', 'supportedAlgorithms',
    'objectGUID', 'objectSid', 'sIDHistory', 'tokenGroups', 'msExchMailboxGuid', 'mS-DS-ConsistencyGuid', 'msDS-GenerationId', 'javaSerializedData',
  ].map((a) => a.toLowerCase()),
);

const bytesOf = (v: string | Buffer): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/** The description without its `binary` option(s), the others as written. */
export function withoutBinary(description: string): string {
  const [type = '', ...options] = description.split(';');
  return [type, ...options.filter((o) => o.toLowerCase() !== 'binary')].join(';');
}

/** One attribute whatever the case and the order of options (`binary` aside). */
export function identity(description: string): string {
  const [type = '', ...options] = withoutBinary(description).toLowerCase().split(';');
  return [type, ...[...new Set(options)].sort()].join(';');
}

/** `dn` of the contract: the text, each byte outside a well-formed UTF-8 character as `\XX`. */
export function dnText(dn: Buffer): string {
  let out = '';
  for (let i = 0; i < dn.length; ) {
    let len = 0;
    for (const n of [1, 2, 3, 4]) if (i + n <= dn.length && isUtf8(dn.subarray(i, i + n))) len = len || n;
    // isUtf8 on 1..4 bytes: the shortest prefix that is a whole character is that character.
    if (len === 0) out += hexAfter(out, dn[i] ?? 0);
    else out += dn.subarray(i, i + len).toString('utf8');
    i += len || 1;
  }
  return out;
}

/** What the contract says the adapter returns for a record (all user attributes). */
export function contractEntry(record: TestRecord): ContractEntry {
  const dn = bytesOf(record.dn);
  const groups = new Map<string, { text: string; binary: string; textValues: string[]; binaryValues: string[] }>();
  for (const { description, value } of record.lines) {
    const id = identity(description);
    let g = groups.get(id);
    if (g === undefined) {
      const first = withoutBinary(description);
      g = { text: first, binary: `${first};binary`, textValues: [], binaryValues: [] };
      groups.set(id, g);
    }
    const bytes = bytesOf(value);
    const binaryType = BINARY_TYPES.has(id.split(';')[0] ?? '');
    if (!binaryType && isUtf8(bytes)) g.textValues.push(bytes.toString('utf8'));
    else g.binaryValues.push(bytes.toString('base64'));
  }
  const attributes: Record<string, string[]> = {};
  for (const g of groups.values()) {
    if (g.textValues.length > 0) attributes[g.text] = g.textValues;
    if (g.binaryValues.length > 0) attributes[g.binary] = g.binaryValues;
  }
  return isUtf8(dn) ? { dn: dn.toString('utf8'), attributes } : { dn: dnText(dn), 'dn;binary': dn.toString('base64'), attributes };
}

/** Can a value be written `attr: value` (RFC 2849 SAFE-STRING, widened to UTF-8 as every LDIF tool reads it)? */
export function isPlain(value: string | Buffer): boolean {
  const bytes = bytesOf(value);
  if (!isUtf8(bytes)) return false;
  const text = bytes.toString('utf8');
  return !/[\0\r\n]/.test(text) && !/^[ :<]/.test(text) && !/ $/.test(text);
}

/**
 * Folds a line after every `width` bytes (RFC 2849 note 2: anywhere, even inside a character).
 * A continuation is never only spaces or tabs: the LDIF adapter reads such a line as a blank one
 * (docs/ldif.md), so the fold moves on until the piece holds something else.
 */
function fold(line: Buffer, width: number | undefined): Buffer {
  if (width === undefined || line.length <= width) return line;
  const parts: Buffer[] = [line.subarray(0, width)];
  let at = width;
  while (at < line.length) {
    let end = Math.min(at + width - 1, line.length);
    while (end < line.length && line.subarray(at, end).every((x) => x === 0x20 || x === 0x09)) end++;
    parts.push(Buffer.from('\n '), line.subarray(at, end));
    at = end;
  }
  return Buffer.concat(parts);
}

function lineOf(description: string, value: string | Buffer, form: 'plain' | 'base64' | undefined, width: number | undefined): Buffer {
  const plain = form === 'plain' || (form === undefined && isPlain(value));
  const bytes = bytesOf(value);
  const line = plain ? Buffer.concat([Buffer.from(`${description}:${bytes.length === 0 ? '' : ' '}`), bytes]) : Buffer.from(`${description}::${bytes.length === 0 ? '' : ' '}${bytes.toString('base64')}`);
  return fold(line, width);
}

/** LDIF content records (RFC 2849) for test records, optionally folded at `width` bytes. */
export function ldifOf(records: readonly TestRecord[], options: { width?: number; head?: string } = {}): Buffer {
  const out: Buffer[] = [Buffer.from(options.head ?? '')];
  for (const r of records) {
    out.push(lineOf('dn', r.dn, undefined, options.width), Buffer.from('\n'));
    for (const l of r.lines) out.push(lineOf(l.description, l.value, l.form, options.width), Buffer.from('\n'));
    out.push(Buffer.from('\n'));
  }
  return Buffer.concat(out);
}

/** RFC 4514: after an unpaired backslash the hex pair alone completes the escape. */
function hexAfter(out: string, byte: number): string {
  const hex = byte.toString(16).toUpperCase().padStart(2, '0');
  const trailing = /\\*$/.exec(out)?.[0].length ?? 0;
  return trailing % 2 === 1 ? hex : `\\${hex}`;
}
