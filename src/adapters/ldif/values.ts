/**
 * Attribute descriptions, stored values and value matching for a directory without a schema.
 *
 * Values are stored exactly as given (RFC 4511 §4.1.5: a value is an octet string): text as the
 * string (a byte-order mark, NUL, control characters and all), octets that are not UTF-8 and
 * values of binary types as Buffers. Matching compares normalised forms and never changes what
 * is stored. A real server picks matching rules from its subschema (RFC 4512 §4.1.2); we have
 * none, so:
 * - text values are equal like `caseIgnoreMatch` (RFC 4517 §4.2.11) as OpenLDAP applies it:
 *   NFKC, case-folded, leading, trailing and repeated spaces (U+0020, and what NFKC maps to it)
 *   insignificant; a tab, a byte-order mark or a zero-width space is significant (OpenLDAP keeps
 *   `a<TAB>b` and `a b`, `<U+FEFF>x` and `x` as two values of one attribute);
 * - values of the well-known DN-syntax types (`member`, `manager`, …) match like
 *   `distinguishedNameMatch` (RFC 4517 §4.2.15);
 * - binary values (Buffers) match byte for byte (`octetStringMatch`);
 * - ordering compares two integers as numbers and anything else as normalised text.
 * Descriptions: the type is case-insensitive, `;binary` is a transfer option (RFC 4522) and
 * not part of the name, other options (`;lang-de`) make a subtype (RFC 4512 §2.5) and are kept.
 *
 * Equality goes through a value's *identity* (`valueIdentity`). Identities of DN-syntax values
 * are computed once when the value is stored (`Attr.keys`): duplicate checks and `(member=…)`
 * filters compare strings instead of parsing DNs again for every comparison (~10 µs each).
 * Every other identity is cheap (well under a microsecond) and computed when it is needed, so a
 * large directory does not hold a second copy of every text value.
 */
import { isUtf8 } from 'node:buffer';
import { parseDn, valueKey, type Rdn } from '../directory/dn.js';
import { isBinaryAttribute } from '../directory/entry.js';
import { escapeDnBytes } from './names.js';

export type Value = string | Buffer;

/** One attribute of an entry: its description as first written (without `;binary`), values in order. */
export interface Attr {
  readonly name: string;
  values: Value[];
  /**
   * For DN-syntax types only: `valueIdentity(name, values[i])`, kept in step with `values`.
   * `undefined` for every other type (see `identities`).
   */
  keys: string[] | undefined;
}

/** An empty attribute named `name` (as first written, without `;binary`). */
export function newAttr(name: string): Attr {
  const plain = withoutBinaryOption(name);
  return { name: plain, values: [], keys: isDnType(parseDescription(plain).type) ? [] : undefined };
}

/** The identities of an attribute's values, in order (stored, or computed now). */
export function identities(attr: Attr): string[] {
  return attr.keys ?? attr.values.map((v) => valueIdentity(attr.name, v));
}

/**
 * `jpegPhoto;binary` → `jpegPhoto`, `jpegPhoto;binary;lang-en` → `jpegPhoto;lang-en`: the
 * transfer option goes wherever it sits; every other option stays, in the order written.
 */
export function withoutBinaryOption(description: string): string {
  if (!/;binary(;|$)/i.test(description)) return description;
  const [type = '', ...options] = description.split(';');
  return [type, ...options.filter((o) => o.toLowerCase() !== 'binary')].join(';');
}

/**
 * A value as the directory stores it. Binary types hold octets (text given for one is its
 * UTF-8 bytes); for every other type, octets that are valid UTF-8 are that text — the same
 * value whether it came as `cn: x` or as `cn;binary` base64 — and other octets stay bytes.
 */
export function storedValue(description: string, value: Value): Value {
  if (isBinaryAttribute(withoutBinaryOption(description))) return Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
  // Buffer#toString keeps a leading U+FEFF (TextDecoder would drop it).
  return Buffer.isBuffer(value) && isUtf8(value) ? value.toString('utf8') : value;
}

export interface Description {
  /** Lower-case attribute type. */
  readonly type: string;
  /** Lower-case options other than `binary`, sorted. */
  readonly options: readonly string[];
}

/** Parsed descriptions: the same few names repeat on every entry (bounded memo). */
const parsed = new Map<string, Description>();

export function parseDescription(description: string): Description {
  let d = parsed.get(description);
  if (d === undefined) {
    const [type = '', ...options] = description.toLowerCase().split(';');
    d = { type, options: options.filter((o) => o !== 'binary').sort() };
    if (parsed.size < 10_000) parsed.set(description, d);
  }
  return d;
}

const keys = new Map<string, string>();

/** Key of an attribute in an entry: `cn;lang-de` and `CN;Lang-DE` are one attribute (one string per key). */
export function attributeKey(description: string): string {
  let key = keys.get(description);
  if (key === undefined) {
    const d = parseDescription(description);
    key = [d.type, ...d.options].join(';');
    if (keys.size < 10_000) keys.set(description, key);
  }
  return key;
}

/** Does `wanted` (from a filter or attribute list) cover the stored `description`? (`cn` covers `cn;lang-de`.) */
export function covers(wanted: Description, description: string): boolean {
  const d = parseDescription(description);
  return d.type === wanted.type && wanted.options.every((o) => d.options.includes(o));
}

/** Attribute types of DN syntax (RFC 4519, RFC 4524, RFC 2798, draft memberOf). */
const DN_TYPES = new Set(
  ['member', 'uniqueMember', 'owner', 'manager', 'secretary', 'seeAlso', 'roleOccupant', 'memberOf', 'aliasedObjectName', 'distinguishedName', 'entryDN'].map(
    (a) => a.toLowerCase(),
  ),
);

export function isDnType(type: string): boolean {
  return DN_TYPES.has(type.toLowerCase());
}

/**
 * Equality key of text: NFKC, lower case, runs of U+0020 as one, none at the ends (see the
 * module comment for what stays significant). U+0130 (İ) is kept: lower-casing makes it `i` +
 * U+0307, which OpenLDAP keeps apart.
 */
export function textKey(value: string): string {
  return value
    .normalize('NFKC')
    .replace(/[^\u0130]+/g, (s) => s.toLowerCase())
    .replace(/ {2,}/g, ' ')
    .replace(/^ | $/g, '');
}

/** Text with diacritics removed, for `~=` (RFC 4511 leaves approximate matching to the server). */
export function approxKey(value: string): string {
  return valueKey(value.normalize('NFKD').replace(/\p{M}/gu, ''));
}

/**
 * Bytes an assertion value may stand for. ldapts' filter parser turns each `\xx` escape into
 * one char, so escaped bytes that are not UTF-8 arrive as Latin-1 chars (see filter.ts).
 */
export function assertionBytes(assertion: string): Buffer[] {
  const out = [Buffer.from(assertion, 'utf8')];
  const codes = [...assertion].map((c) => c.codePointAt(0) ?? 0);
  if (codes.every((c) => c <= 0xff) && codes.some((c) => c >= 0x80)) out.push(Buffer.from(assertion, 'latin1'));
  return out;
}

const avaKey = (a: Rdn[number]): string => (a.ber === true ? a.value : a.bytes !== undefined ? `x:${a.bytes.toString('hex')}` : ['t', textKey(a.value)].join(':'));

/**
 * Identity of an RDN: AVA types case-insensitive, values by their equality key (octets that are
 * not UTF-8 as they are), AVA order ignored. One AVA (nearly every RDN) is `type=key` — a type
 * holds no `=` and never starts with `[`; several are a JSON array of their sorted pairs. Kept
 * short: every entry's key in its parent, and stored in every DN value's identity.
 */
export function rdnId(rdn: Rdn): string {
  if (rdn.length === 1) {
    const a = rdn[0] as Rdn[number];
    // joined, not concatenated: one flat string (a concatenation is a tree of three).
    return [a.type.toLowerCase(), avaKey(a)].join('=');
  }
  return JSON.stringify(rdn.map((a) => JSON.stringify([a.type.toLowerCase(), avaKey(a)])).sort());
}

/**
 * Identity of a whole DN: a JSON array of its RDNs' identities (one flat string; it starts with
 * `[`, so it is never a text or bytes identity, `t:…` / `x:…`).
 */
export function dnId(rdns: readonly Rdn[]): string {
  return JSON.stringify(rdns.map(rdnId));
}

/** Equal identities = equal values of attribute `type` (bytes, DN, or case-ignore text). */
export function valueIdentity(type: string, value: Value): string {
  if (isDnType(parseDescription(type).type)) {
    try {
      // A DN given as octets that are not UTF-8 is the same DN as its `\XX` spelling.
      return dnId(parseDn(Buffer.isBuffer(value) ? escapeDnBytes(value) : value));
    } catch {
      // Not a DN after all: compare it as text or bytes.
    }
  }
  if (Buffer.isBuffer(value)) return `x:${value.toString('hex')}`;
  return `t:${textKey(value)}`;
}

/** The identities an assertion value matches: as text (or DN), and as the bytes it may stand for. */
export function assertionIdentities(type: string, assertion: Value): Set<string> {
  if (Buffer.isBuffer(assertion)) return new Set([valueIdentity(type, assertion)]);
  return new Set([valueIdentity(type, assertion), ...assertionBytes(assertion).map((b) => valueIdentity(type, b))]);
}

const INTEGER = /^[+-]?\d+$/;

/** Ordering of a stored value against an assertion: < 0, 0, > 0. */
export function compareValues(stored: Value, assertion: string): number {
  if (Buffer.isBuffer(stored)) return Buffer.compare(stored, Buffer.from(assertion, 'utf8'));
  const a = stored.trim();
  const b = assertion.trim();
  if (INTEGER.test(a) && INTEGER.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const ka = valueKey(a);
  const kb = valueKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Substring match (RFC 4511 §4.5.1.7.2): initial, any (in order, not overlapping), final. */
export function substringMatch(stored: Value, initial: string, any: readonly string[], final: string): boolean {
  if (Buffer.isBuffer(stored)) return false;
  const fold = (s: string): string => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ');
  const value = valueKey(stored);
  let at = 0;
  const head = fold(initial);
  if (head !== '') {
    if (!value.startsWith(head)) return false;
    at = head.length;
  }
  for (const part of any.map(fold)) {
    if (part === '') continue;
    const i = value.indexOf(part, at);
    if (i === -1) return false;
    at = i + part.length;
  }
  const tail = fold(final);
  return tail === '' || (value.length - tail.length >= at && value.endsWith(tail));
}
