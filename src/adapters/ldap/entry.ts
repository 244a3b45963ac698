/**
 * ldapts entries → protocol entries (DESIGN §5): `{dn, attributes: {name: string[]}}`.
 *
 * ldapts returns a scalar for one value and an array for several, `[]` for a requested
 * attribute the entry does not have, and Buffers only for `;binary` names, names listed in
 * `explicitBufferAttributes` (matched case-sensitively against the name the server sends) or
 * values that are not valid UTF-8. Binary values travel base64-encoded under `name;binary`.
 */
import type { Entry } from 'ldapts';

export interface LdapEntry {
  readonly dn: string;
  readonly attributes: Record<string, string[]>;
}

/**
 * Attributes whose values are binary whatever bytes they hold (RFC 4517/4523 JPEG, certificate,
 * CRL and octet-string syntaxes, Active Directory GUIDs and SIDs). Lower-case for lookups.
 */
export const KNOWN_BINARY_ATTRIBUTES: readonly string[] = [
  'jpegPhoto',
  'photo',
  'audio',
  'thumbnailPhoto',
  'thumbnailLogo',
  'userCertificate',
  'cACertificate',
  'authorityRevocationList',
  'certificateRevocationList',
  'deltaRevocationList',
  'crossCertificatePair',
  'userSMIMECertificate',
  'userPKCS12',
  'supportedAlgorithms',
  'objectGUID',
  'objectSid',
  'sIDHistory',
  'tokenGroups',
  'msExchMailboxGuid',
  'mS-DS-ConsistencyGuid',
  'msDS-GenerationId',
  'javaSerializedData',
];

const BINARY = new Set(KNOWN_BINARY_ATTRIBUTES.map((a) => a.toLowerCase()));
const BINARY_OPTION = /;binary$/i;

/** The attribute type of a description (`cn;lang-de` → `cn`). */
export function baseName(description: string): string {
  const semi = description.indexOf(';');
  return semi === -1 ? description : description.slice(0, semi);
}

/** Answers by attribute description, which repeat on every entry of a search (bounded memo). */
const binaryByName = new Map<string, boolean>();

/** Is this attribute description binary (known binary type, or the `;binary` option)? */
export function isBinaryAttribute(description: string): boolean {
  let answer = binaryByName.get(description);
  if (answer === undefined) {
    answer = BINARY_OPTION.test(description) || BINARY.has(baseName(description).toLowerCase());
    if (binaryByName.size < 10_000) binaryByName.set(description, answer);
  }
  return answer;
}

/**
 * Names to pass as ldapts `explicitBufferAttributes`: the known binary types as the schema
 * spells them, in lower case, and as the caller spelled them (servers may echo either).
 */
export function bufferAttributesFor(requested: readonly string[] = []): string[] {
  const names = new Set<string>();
  for (const a of KNOWN_BINARY_ATTRIBUTES) {
    names.add(a);
    names.add(a.toLowerCase());
  }
  for (const r of requested) if (isBinaryAttribute(r)) names.add(r);
  return [...names];
}

type RawValue = Entry[string];

function asList(value: RawValue): Array<string | Buffer> {
  return Array.isArray(value) ? value : [value];
}

/**
 * The values of one attribute of a raw entry as text, the name matched case-insensitively
 * (root DSE and subschema attribute names come back as the server spells them).
 */
export function valuesOf(entry: Entry | undefined, name: string): string[] {
  if (entry === undefined) return [];
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const raw = key === undefined || key === 'dn' ? undefined : entry[key];
  return raw === undefined ? [] : asList(raw).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
}

/** Normalises one ldapts entry; attributes without values are dropped. */
export function normaliseEntry(entry: Entry): LdapEntry {
  const attributes: Array<[string, string[]]> = [];
  for (const [name, raw] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const values = asList(raw);
    if (values.length === 0) continue;
    const binary = isBinaryAttribute(name) || values.some((v) => Buffer.isBuffer(v));
    if (binary) {
      const key = BINARY_OPTION.test(name) ? name : `${name};binary`;
      attributes.push([key, values.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8')).toString('base64'))]);
    } else {
      attributes.push([name, values.map((v) => (typeof v === 'string' ? v : v.toString('utf8')))]);
    }
  }
  // fromEntries defines own properties, so no attribute name can reach the prototype.
  return { dn: entry.dn, attributes: Object.fromEntries(attributes) };
}

/** Strings JSON.stringify leaves as they are: no `"`, `\`, control character or surrogate. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const PLAIN_JSON_STRING = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

function jsonString(s: string): string {
  return PLAIN_JSON_STRING.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** Names an object orders before the others (array indices): the fast path keeps no such order. */
const INDEX_LIKE = /^(?:0|[1-9]\d*)$/;

/**
 * `JSON.stringify(normaliseEntry(entry))`, byte for byte, without building the normalised entry
 * (a search serialises every entry it streams). Unusual entries — a name that objects order
 * first (`"0"`), a `;binary` name that would collide with another attribute, a value that is
 * neither text nor bytes — take the reference path.
 */
export function entryJson(entry: Entry): string {
  if (typeof entry.dn !== 'string') return JSON.stringify(normaliseEntry(entry));
  let out = `{"dn":${jsonString(entry.dn)},"attributes":{`;
  let first = true;
  for (const name of Object.keys(entry)) {
    if (name === 'dn') continue;
    const raw = entry[name];
    if (raw === undefined || INDEX_LIKE.test(name)) return JSON.stringify(normaliseEntry(entry));
    const values: ReadonlyArray<unknown> = Array.isArray(raw) ? raw : [raw];
    if (values.length === 0) continue;
    let binary = isBinaryAttribute(name);
    let text = '';
    for (let i = 0; i < values.length && !binary; i++) {
      const v = values[i];
      if (typeof v === 'string') text += (i === 0 ? '' : ',') + jsonString(v);
      else if (Buffer.isBuffer(v)) binary = true;
      else return JSON.stringify(normaliseEntry(entry));
    }
    let key = name;
    if (binary) {
      if (!BINARY_OPTION.test(name)) {
        key = `${name};binary`;
        if (Object.hasOwn(entry, key)) return JSON.stringify(normaliseEntry(entry));
      }
      text = '';
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'string' && !Buffer.isBuffer(v)) return JSON.stringify(normaliseEntry(entry));
        // base64 needs no escaping.
        text += `${i === 0 ? '"' : ',"'}${(typeof v === 'string' ? Buffer.from(v, 'utf8') : v).toString('base64')}"`;
      }
    }
    out += `${first ? '' : ','}${jsonString(key)}:[${text}]`;
    first = false;
  }
  return `${out}}}`;
}

/**
 * Attribute values of a write: `name;binary` values are base64 and sent as Buffers. Returns the
 * name to send (the `;binary` option is kept only for certificate types, RFC 4522 §2 — other
 * servers reject it on e.g. jpegPhoto) and the values.
 */
export function encodeValues(name: string, values: readonly string[]): { name: string; values: Buffer[] | string[] } {
  if (!BINARY_OPTION.test(name)) return { name, values: [...values] };
  const type = baseName(name);
  const keepOption = CERTIFICATE_TYPES.has(type.toLowerCase());
  return { name: keepOption ? name : type, values: values.map((v) => Buffer.from(v, 'base64')) };
}

/** RFC 4523 types whose values must be transferred with `;binary` (RFC 4522). */
const CERTIFICATE_TYPES = new Set(
  ['userCertificate', 'cACertificate', 'authorityRevocationList', 'certificateRevocationList', 'deltaRevocationList', 'crossCertificatePair', 'supportedAlgorithms'].map((a) =>
    a.toLowerCase(),
  ),
);

/** Is a string strict base64 (what `;binary` values must be)? */
export function isBase64(value: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value);
}
