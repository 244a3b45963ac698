/**
 * Attribute descriptions and value matching for a directory without a schema.
 *
 * A real server picks matching rules from its subschema (RFC 4512 §4.1.2). We have none, so:
 * - text values match like `caseIgnoreMatch` (RFC 4517 §4.2.11): NFKC, case-folded, leading,
 *   trailing and repeated spaces insignificant (RFC 4518 §2, the same key as DN values);
 * - values of the well-known DN-syntax types (`member`, `manager`, …) match like
 *   `distinguishedNameMatch` (RFC 4517 §4.2.15);
 * - binary values (Buffers) match byte for byte (`octetStringMatch`);
 * - ordering compares two integers as numbers and anything else as normalised text.
 * Descriptions: the type is case-insensitive, `;binary` is a transfer option (RFC 4522) and
 * not part of the name, other options (`;lang-de`) make a subtype (RFC 4512 §2.5).
 *
 * Equality goes through a value's *identity*, a string computed once when the value is stored
 * (`Attr.keys`): duplicate checks and `(member=…)` filters compare strings instead of parsing
 * DNs again for every comparison.
 */
import { parseDn, valueKey, type Rdn } from '../ldap/dn.js';

export type Value = string | Buffer;

/** One attribute of an entry: its description as first written (without `;binary`), values in order. */
export interface Attr {
  readonly name: string;
  readonly values: Value[];
  /** `valueIdentity(name, values[i])`, kept in step with `values`. */
  readonly keys: string[];
}

const BINARY_OPTION = /;binary$/i;

/** `jpegPhoto;binary` → `jpegPhoto`: binary-ness is carried by the value type, not the name. */
export function withoutBinaryOption(description: string): string {
  return description.replace(BINARY_OPTION, '');
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

/** Key of an attribute in an entry: `cn;lang-de` and `CN;Lang-DE` are one attribute. */
export function attributeKey(description: string): string {
  const d = parseDescription(description);
  return [d.type, ...d.options].join(';');
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

export { valueKey as textKey };

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

/** Identity of an RDN: AVA types case-insensitive, values by their comparison key, AVA order ignored. */
export function rdnId(rdn: Rdn): string {
  return JSON.stringify(rdn.map((a) => JSON.stringify([a.type.toLowerCase(), a.ber === true ? a.value : valueKey(a.value)])).sort());
}

/** Identity of a whole DN. */
export function dnId(rdns: readonly Rdn[]): string {
  return JSON.stringify(rdns.map(rdnId));
}

/** Equal identities = equal values of attribute `type` (bytes, DN, or case-ignore text). */
export function valueIdentity(type: string, value: Value): string {
  if (Buffer.isBuffer(value)) return `x:${value.toString('hex')}`;
  if (isDnType(parseDescription(type).type)) {
    try {
      return `d:${dnId(parseDn(value))}`;
    } catch {
      // Not a DN after all: compare it as text.
    }
  }
  return `t:${valueKey(value)}`;
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
