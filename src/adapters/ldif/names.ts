/**
 * Entry names (DNs) held byte for byte.
 *
 * A DN is a string of UTF-8 octets on the wire (RFC 4514 §2), but LDIF may give any octets
 * (`dn::` base64, RFC 2849) and a DN string may escape any octet as `\XX` (RFC 4514 §2.4), so
 * `cn=\E9` names an entry whose name holds the single byte E9 — not valid UTF-8, and not the
 * same entry as `cn=\FF` or as `cn=\EF\BF\BD` (U+FFFD). `parseDn` keeps such a value's octets
 * (`Ava.bytes`); this module keeps the whole name's: `nameOf` turns a name given as a string or
 * as bytes into the string form used everywhere (`dn`: each byte of an invalid UTF-8 sequence
 * written `\XX`) and the exact bytes (`binary`) when they are not UTF-8.
 */
import { isUtf8 } from 'node:buffer';
import type { Ava } from '../ldap/dn.js';

/** The name of an entry: the DN string, and its exact bytes when they are not valid UTF-8. */
export interface DirName {
  readonly dn: string;
  readonly binary?: Buffer;
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode Table 3-7), or 0 if there is none. */
function sequenceAt(b: Uint8Array, i: number): number {
  const x = b[i] ?? 0;
  if (x < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const y = b[i + k];
    return y !== undefined && y >= lo && y <= hi;
  };
  if (x >= 0xc2 && x <= 0xdf) return cont(1) ? 2 : 0;
  if (x >= 0xe0 && x <= 0xef) {
    const lo = x === 0xe0 ? 0xa0 : 0x80;
    const hi = x === 0xed ? 0x9f : 0xbf; // ED A0..BF would be a UTF-16 surrogate
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (x >= 0xf0 && x <= 0xf4) {
    const lo = x === 0xf0 ? 0x90 : 0x80;
    const hi = x === 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** For each byte: is it part of an invalid UTF-8 sequence? (The same verdict as `isUtf8`.) */
export function invalidBytes(b: Uint8Array): boolean[] {
  const out = new Array<boolean>(b.length).fill(false);
  for (let i = 0; i < b.length; ) {
    const n = sequenceAt(b, i);
    if (n === 0) {
      out[i] = true;
      i++;
    } else {
      i += n;
    }
  }
  return out;
}

const hex = (x: number): string => `\\${x.toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * DN bytes → an equivalent DN string: every byte of each invalid UTF-8 sequence is written as a
 * `\XX` hex pair (RFC 4514 §2.4), everything else is kept as it is. A backslash that escapes an
 * invalid byte (`\<E9>`) is dropped: `\E9` already stands for that byte.
 */
export function escapeDnBytes(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  const invalid = invalidBytes(bytes);
  const parts: string[] = [];
  let text: number[] = [];
  const flush = (): void => {
    if (text.length > 0) parts.push(Buffer.from(text).toString('utf8'));
    text = [];
  };
  for (let i = 0; i < bytes.length; i++) {
    const x = bytes[i] ?? 0;
    if (x === 0x5c && invalid[i + 1] === true) continue;
    if (x === 0x5c && i + 1 < bytes.length) {
      // An escape (`\,`, `\\`, `\41`): its next byte belongs to it, whatever it is.
      text.push(x, bytes[i + 1] ?? 0);
      i++;
      continue;
    }
    if (invalid[i] === true) {
      flush();
      parts.push(hex(x));
    } else {
      text.push(x);
    }
  }
  flush();
  return parts.join('');
}

/** Does a DN string hold an escaped octet ≥ 0x80 (the only way to write bytes that are not UTF-8)? */
const HIGH_ESCAPE = /\\[89A-Fa-f][0-9A-Fa-f]/;

/**
 * The exact bytes a DN string stands for when some `\XX` escapes form invalid UTF-8: those
 * escapes become the raw bytes, everything else stays as written. `undefined` when the string
 * is a UTF-8 name (its own bytes).
 */
export function rawDnBytes(dn: string): Buffer | undefined {
  if (!HIGH_ESCAPE.test(dn)) return undefined;
  const chunks: Buffer[] = [];
  let from = 0;
  let changed = false;
  // Runs of hex escapes: invalid sequences can only lie inside them (a literal character is
  // always a whole sequence, and it can neither continue nor be continued by an escaped byte).
  for (const m of dn.matchAll(/(?:\\[0-9A-Fa-f]{2})+/g)) {
    const at = m.index;
    // In `\\E9` the backslash is escaped and `E9` is text: count the backslashes before the run.
    let slashes = 0;
    for (let k = at - 1; k >= 0 && dn[k] === '\\'; k--) slashes++;
    const run = slashes % 2 === 1 ? m[0].slice(3) : m[0];
    const start = at + m[0].length - run.length;
    const bytes = Buffer.from(run.replace(/\\/g, ''), 'hex');
    const invalid = invalidBytes(bytes);
    if (!invalid.includes(true)) continue;
    changed = true;
    chunks.push(Buffer.from(dn.slice(from, start), 'utf8'));
    // Escapes of bytes in invalid sequences become those bytes; the others stay as written.
    bytes.forEach((x, k) => chunks.push(invalid[k] === true ? Buffer.from([x]) : Buffer.from(run.slice(3 * k, 3 * k + 3), 'utf8')));
    from = start + run.length;
  }
  if (!changed) return undefined;
  chunks.push(Buffer.from(dn.slice(from), 'utf8'));
  return Buffer.concat(chunks);
}

/** A name given as a string (RFC 4514, escapes allowed) or as its exact bytes (`dn::`, `dn;binary`). */
export function nameOf(input: string | Buffer): DirName {
  if (Buffer.isBuffer(input)) return isUtf8(input) ? { dn: input.toString('utf8') } : { dn: escapeDnBytes(input), binary: input };
  const binary = rawDnBytes(input);
  // The string form of a name that is not UTF-8 is always the escaped one (`\E9`, upper case).
  return binary === undefined ? { dn: input } : { dn: escapeDnBytes(binary), binary };
}

/** The value an AVA puts into its entry (RFC 4511 §4.7): text, or the octets when not UTF-8. */
export function avaValue(ava: Ava): string | Buffer {
  return ava.bytes ?? ava.value;
}
