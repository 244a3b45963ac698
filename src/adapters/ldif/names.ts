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
import { escapeDnBytes, utf8SequenceLength, type Ava } from '../directory/dn.js';

/** The name of an entry: the DN string, and its exact bytes when they are not valid UTF-8. */
export interface DirName {
  readonly dn: string;
  readonly binary?: Buffer;
}

/** For each byte: is it part of an invalid UTF-8 sequence? (The same verdict as `isUtf8`.) */
export function invalidBytes(b: Uint8Array): boolean[] {
  const out = new Array<boolean>(b.length).fill(false);
  for (let i = 0; i < b.length; ) {
    const n = utf8SequenceLength(b, i);
    if (n === 0) {
      out[i] = true;
      i++;
    } else {
      i += n;
    }
  }
  return out;
}

/** DN bytes → an equivalent DN string (one implementation with the LDAP adapter's). */
export { escapeDnBytes };

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
