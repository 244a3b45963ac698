/**
 * Distinguished names (RFC 4514): parse, compare, serialise.
 *
 * ldapts' `DN` class builds DNs but cannot parse one, and the scope check ("is this DN inside
 * the configured baseDN?") must not be fooled by case, spacing or escaping — a string suffix
 * test would accept `uid=x,dc=example,dc=comX` or reject `UID=x, DC=Example,dc=com`.
 *
 * Part of the directory model shared by the ldap and ldif data sources.
 */

import { isUtf8 } from 'node:buffer';

export interface Ava {
  /** Attribute type as written (descriptor or numeric OID). */
  readonly type: string;
  /**
   * Unescaped value; a `#hex` BER value is kept as written (lower-cased) with `ber: true`. When
   * the value's bytes are not valid UTF-8, U+FFFD stands in for each invalid sequence here and
   * `bytes` holds the value.
   */
  readonly value: string;
  readonly ber?: true;
  /** The value's bytes, present only when they are not valid UTF-8 (hex escapes such as `\ED`). */
  readonly bytes?: Buffer;
}

/** One RDN: one or more attribute-value assertions joined by `+`. */
export type Rdn = readonly Ava[];

export class DnSyntaxError extends Error {
  override readonly name = 'DnSyntaxError';
}

const HEX = /^[0-9a-fA-F]{2}$/;
const TYPE = /^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)*)$/;

/**
 * Parses a DN string into RDNs, most specific first. Lenient where LDAPv2-era servers and
 * humans are: spaces around `,` `+` `=` are ignored, `;` separates RDNs too. The empty string is
 * the root DN (no RDNs). A plain DN (printable ASCII, no escapes) takes `parsePlainDn`, which
 * gives the same RDNs without building each value's bytes; anything else the full parser.
 */
export function parseDn(input: string): Rdn[] {
  return parsePlainDn(input) ?? parseDnFull(input);
}

/**
 * The fast path of `parseDn`: the same RDNs for a DN of printable ASCII (0x20–0x7E) without
 * `\`, `#`, `"`, `<` or `>` — there every value is its characters with trailing spaces cut, and
 * its bytes are valid UTF-8. Returns undefined (never throws) for any other input and for any
 * syntax error, so that the full parser decides and words the error.
 */
export function parsePlainDn(input: string): Rdn[] | undefined {
  const n = input.length;
  for (let k = 0; k < n; k++) {
    const c = input.charCodeAt(k);
    // 0x22 " 0x23 # 0x3c < 0x3e > 0x5c \
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x23 || c === 0x3c || c === 0x3e || c === 0x5c) return undefined;
  }
  const rdns: Rdn[] = [];
  let i = 0;
  while (i < n && input.charCodeAt(i) === 0x20) i++;
  if (i === n) return rdns;
  let rdn: Ava[] = [];
  for (;;) {
    while (i < n && input.charCodeAt(i) === 0x20) i++;
    const typeStart = i;
    let c = 0;
    while (i < n && (c = input.charCodeAt(i)) !== 0x3d && c !== 0x2c && c !== 0x2b && c !== 0x3b) i++;
    if (i === n || c !== 0x3d) return undefined;
    let type = input.slice(typeStart, i).trim();
    if (/^oid\./i.test(type)) type = type.slice(4);
    if (!TYPE.test(type)) return undefined;
    i++; // '='
    while (i < n && input.charCodeAt(i) === 0x20) i++;
    const valueStart = i;
    let end = i; // after the last character that is not a space
    while (i < n && (c = input.charCodeAt(i)) !== 0x2c && c !== 0x2b && c !== 0x3b) {
      i++;
      if (c !== 0x20) end = i;
    }
    rdn.push({ type, value: input.slice(valueStart, end) });
    if (i >= n) {
      rdns.push(rdn);
      return rdns;
    }
    i++;
    if (c === 0x2c || c === 0x3b) {
      rdns.push(rdn);
      rdn = [];
      let rest = i;
      while (rest < n && input.charCodeAt(rest) === 0x20) rest++;
      if (rest === n) return undefined; // empty RDN after separator
    }
  }
}

/** The full RFC 4514 parser behind `parseDn`: escapes, `#hex`, non-ASCII, bytes that are not UTF-8. */
export function parseDnFull(input: string): Rdn[] {
  const rdns: Rdn[] = [];
  if (input.trim() === '') return rdns;
  let i = 0;
  const n = input.length;
  const fail = (why: string): never => {
    throw new DnSyntaxError(`invalid DN ${JSON.stringify(input)}: ${why} at position ${i}`);
  };
  const skipSpaces = (): void => {
    while (i < n && input[i] === ' ') i++;
  };

  let rdn: Ava[] = [];
  for (;;) {
    skipSpaces();
    const typeStart = i;
    while (i < n && input[i] !== '=' && input[i] !== ',' && input[i] !== '+' && input[i] !== ';') i++;
    if (input[i] !== '=') fail("expected 'type=value'");
    let type = input.slice(typeStart, i).trim();
    if (/^oid\./i.test(type)) type = type.slice(4);
    if (!TYPE.test(type)) fail(`bad attribute type ${JSON.stringify(type)}`);
    i++; // '='
    skipSpaces();

    if (input[i] === '#') {
      const start = i;
      i++;
      while (i < n && /[0-9a-fA-F]/.test(input[i] ?? '')) i++;
      const value = input.slice(start, i).toLowerCase();
      if (value.length < 3 || value.length % 2 === 0) fail('bad #hex value');
      skipSpaces();
      rdn.push({ type, value, ber: true });
    } else {
      const bytes: number[] = [];
      // Index in `bytes` after the last escaped or non-space character: unescaped trailing spaces
      // are not part of the value (RFC 4514 §3).
      let significant = 0;
      while (i < n) {
        const c = input[i] ?? '';
        if (c === ',' || c === '+' || c === ';') break;
        if (c === '\\') {
          const pair = input.slice(i + 1, i + 3);
          if (HEX.test(pair)) {
            bytes.push(parseInt(pair, 16));
            i += 3;
          } else if (i + 1 < n) {
            const escaped = input.codePointAt(i + 1) ?? 0;
            if (escaped >= 0xd800 && escaped <= 0xdfff) fail('lone UTF-16 surrogate (use hex escapes for bytes that are not UTF-8)');
            const ch = String.fromCodePoint(escaped);
            bytes.push(...Buffer.from(ch, 'utf8'));
            i += 1 + ch.length;
          } else {
            fail('dangling backslash');
          }
          significant = bytes.length;
          continue;
        }
        // RFC 4514 §2.4 (`=` need not be escaped; `"` `<` `>` must be).
        if (c === '"' || c === '<' || c === '>') fail(`unescaped ${JSON.stringify(c)} in value`);
        const cp = input.codePointAt(i) ?? 0;
        // A lone surrogate has no UTF-8 form: sending it would change it into U+FFFD.
        if (cp >= 0xd800 && cp <= 0xdfff) fail('lone UTF-16 surrogate (use hex escapes for bytes that are not UTF-8)');
        const ch = String.fromCodePoint(cp);
        bytes.push(...Buffer.from(ch, 'utf8'));
        if (ch !== ' ') significant = bytes.length;
        i += ch.length;
      }
      // Hex pairs can spell bytes that are not UTF-8 (`\ED\A0\80`): the value then keeps them,
      // so that neither scope checks nor re-formatting confuse it with U+FFFD.
      const raw = Buffer.from(bytes.slice(0, significant));
      const value = raw.toString('utf8');
      rdn.push(isUtf8(raw) ? { type, value } : { type, value, bytes: raw });
    }

    if (i >= n) {
      rdns.push(rdn);
      return rdns;
    }
    const sep = input[i];
    i++;
    if (sep === ',' || sep === ';') {
      rdns.push(rdn);
      rdn = [];
      if (input.slice(i).trim() === '') fail('empty RDN after separator');
    }
  }
}

/** Comparison key of a value: NFKC, case-folded, insignificant spaces collapsed (RFC 4518 §2). */
export function valueKey(value: string): string {
  return value.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

/** Comparison key of an RDN: its AVAs sorted, so `a=1+b=2` equals `B=2+A=1`. */
export function rdnKey(rdn: Rdn): string {
  // Bytes that are not UTF-8 are keyed by their hex after a lone surrogate, which no text value's
  // key holds (values parsed from a DN are well-formed), so they never equal any text value.
  return rdn
    .map((ava) => `${ava.type.toLowerCase()}=${ava.bytes === undefined ? valueKey(ava.value) : `\ud800${asciiLower(ava.bytes).toString('hex')}`}`)
    .sort()
    .join('+');
}

/** Do two DNs name the same entry (case-insensitive types and values, spacing ignored)? */
export function dnEquals(a: string | readonly Rdn[], b: string | readonly Rdn[]): boolean {
  const x = typeof a === 'string' ? parseDn(a) : a;
  const y = typeof b === 'string' ? parseDn(b) : b;
  return x.length === y.length && x.every((rdn, k) => rdnKey(rdn) === rdnKey(y[k] ?? []));
}

/**
 * Comparison key of an RDN for scope checks: types and ASCII letters case-folded, nothing else.
 *
 * Deliberately narrower than `rdnKey`: a scope check must never equate two values that the
 * directory server keeps apart, or a DN outside the base passes as inside (and an export can
 * create entries there). Servers differ on everything beyond ASCII case: OpenLDAP keeps
 * `people<TAB>`, `people<U+2028>` or `peop\u02e1e` apart from `people` (JavaScript's trim and
 * NFKC do not), and its Unicode tables predate many compatibility and case mappings. A DN
 * spelled with such variants of the base is refused (OPERATION_NOT_ALLOWED) — the safe side.
 */
function scopeKey(rdn: Rdn): string {
  const only = rdn.length === 1 ? rdn[0] : undefined;
  if (only !== undefined) return avaScopeKey(only);
  return rdn.map(avaScopeKey).sort().join('+');
}

function avaScopeKey(ava: Ava): string {
  const type = ava.type.toLowerCase();
  // Bytes that are not UTF-8 are compared as bytes, never as the U+FFFD that stands for them.
  if (ava.bytes !== undefined) return `${type}=bytes:${asciiLower(ava.bytes).toString('hex')}`;
  // toLowerCase folds only A–Z in ASCII text; beyond ASCII it would fold more than scope checks may.
  const value = NON_ASCII.test(ava.value) ? ava.value.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : ava.value.toLowerCase();
  return `${type}=${ava.ber ? 'ber:' : 'str:'}${value}`;
}

const NON_ASCII = /[^ -~]/; // anything but printable ASCII: controls are left alone by either folding

/** A copy with the ASCII letters A–Z in lower case (the only folding scope checks do). */
function asciiLower(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  for (let k = 0; k < out.length; k++) {
    const b = out[k] ?? 0;
    if (b >= 0x41 && b <= 0x5a) out[k] = b + 0x20;
  }
  return out;
}

/**
 * Is `dn` the base itself or below it, as every directory server sees it? The root DN `''`
 * contains everything. Case-insensitive for ASCII only (see `scopeKey`).
 */
export function isWithin(dn: string | readonly Rdn[], base: string | readonly Rdn[]): boolean {
  const d = typeof dn === 'string' ? parseDn(dn) : dn;
  return isWithinScope(d, typeof base === 'string' ? scopeOf(base) : scopeOfRdns(base));
}

/** A base DN prepared for scope checks: its RDNs and their scope keys, computed once. */
export interface ScopeBase {
  readonly rdns: readonly Rdn[];
  readonly keys: readonly string[];
}

/** Base DNs come from data-source configs: a handful, each parsed once per process. */
const scopes = new Map<string, ScopeBase>();
const MAX_CACHED_SCOPES = 256;

/** `base` parsed and keyed for `isWithinScope` (cached by its string; throws if it is no DN). */
export function scopeOf(base: string): ScopeBase {
  let scope = scopes.get(base);
  if (scope === undefined) {
    scope = scopeOfRdns(parseDn(base));
    if (scopes.size >= MAX_CACHED_SCOPES) scopes.clear();
    scopes.set(base, scope);
  }
  return scope;
}

function scopeOfRdns(rdns: readonly Rdn[]): ScopeBase {
  return { rdns, keys: rdns.map(scopeKey) };
}

/** `isWithin` for a parsed DN and a prepared base: only the DN's last RDNs are keyed. */
export function isWithinScope(dn: readonly Rdn[], base: ScopeBase): boolean {
  const { keys } = base;
  if (keys.length > dn.length) return false;
  const offset = dn.length - keys.length;
  for (let k = 0; k < keys.length; k++) if (keys[k] !== scopeKey(dn[offset + k] ?? [])) return false;
  return true;
}

/**
 * Escapes a value for a DN string (RFC 4514 §2.4). Specials are written as hex pairs rather
 * than `\,`: ldapts' `modifyDN` splits the new DN at the first comma not preceded by a
 * backslash, which `\\,` (an escaped backslash before a separator) would fool.
 */
export function escapeDnValue(value: string): string {
  return escapeEdges(escapeSpecials(value));
}

function escapeSpecials(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '\\' || ch === ',' || ch === '+' || ch === '"' || ch === '<' || ch === '>' || ch === ';' || ch === '=' || ch === '\0') {
      out += hexEscape(ch.charCodeAt(0));
    } else {
      out += ch;
    }
  }
  return out;
}

/** A leading space or `#` and a trailing space must be escaped (RFC 4514 §2.4). */
function escapeEdges(out: string): string {
  if (out.startsWith(' ') || out.startsWith('#')) out = `${hexEscape(out.charCodeAt(0))}${out.slice(1)}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\20`;
  return out;
}

function hexEscape(byte: number): string {
  return `\\${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * Length of the well-formed UTF-8 sequence at `bytes[i]` (RFC 3629 §4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 if there is none.
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const c = bytes[i] ?? 0;
  if (c < 0x80) return 1;
  const continues = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return continues(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) return continues(1, c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf) && continues(2) ? 3 : 0;
  if (c >= 0xf0 && c <= 0xf4) return continues(1, c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf) && continues(2) && continues(3) ? 4 : 0;
  return 0;
}

/**
 * `bytes` as text, each byte of every sequence that is not well-formed UTF-8 written as an RFC
 * 4514 hex escape `\XX` (upper case) and the rest decoded: `caf\xE9` → `caf\E9`, `ED A0 80`
 * (a UTF-16 surrogate in three bytes) → `\ED\A0\80`. For a DN a server sent, the result is
 * an equivalent DN string (a hex pair stands for its byte wherever a value may hold one), which
 * servers accept as a search base or a target; bytes that are valid UTF-8 come back unchanged.
 */
export function escapeDnBytes(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buf)) return buf.toString('utf8');
  let out = '';
  let start = 0;
  let i = 0;
  while (i < buf.length) {
    const len = utf8SequenceLength(buf, i);
    if (len > 0) {
      i += len;
      continue;
    }
    // After an unpaired backslash (`a\<E9>`: the server escaped the byte itself) the backslash
    // already starts the escape: only the hex pair follows, else `\\E9` would be a literal `\`.
    let backslashes = 0;
    while (i - backslashes - 1 >= start && buf[i - backslashes - 1] === 0x5c) backslashes++;
    const escape = hexEscape(buf[i] ?? 0);
    out += buf.toString('utf8', start, i) + (backslashes % 2 === 1 ? escape.slice(1) : escape);
    i++;
    start = i;
  }
  return out + buf.toString('utf8', start);
}

/** A value's bytes that are not UTF-8, escaped: specials and invalid bytes as hex pairs. */
function escapeDnValueBytes(bytes: Buffer): string {
  let out = '';
  let start = 0;
  let i = 0;
  while (i < bytes.length) {
    const len = utf8SequenceLength(bytes, i);
    if (len > 0) {
      i += len;
      continue;
    }
    out += escapeSpecials(bytes.toString('utf8', start, i)) + hexEscape(bytes[i] ?? 0);
    i++;
    start = i;
  }
  return escapeEdges(out + escapeSpecials(bytes.toString('utf8', start)));
}

export function formatRdn(rdn: Rdn): string {
  return rdn.map((ava) => `${ava.type}=${ava.ber ? ava.value : ava.bytes === undefined ? escapeDnValue(ava.value) : escapeDnValueBytes(ava.bytes)}`).join('+');
}

export function formatDn(rdns: readonly Rdn[]): string {
  return rdns.map(formatRdn).join(',');
}

/** The parent of a DN (`undefined` for the root and for a one-RDN DN's parent is `[]`). */
export function parentOf(rdns: readonly Rdn[]): Rdn[] | undefined {
  return rdns.length === 0 ? undefined : rdns.slice(1);
}
