/**
 * Attribute descriptions (RFC 4512 §2.5): `type *( ";" option )`, e.g. `cn;lang-de` or
 * `userCertificate;binary`. Which descriptions name the same attribute, which hold binary
 * values, and the keys an attribute's values travel under in entry JSON.
 *
 * Types and options are case-insensitive and the options of a description form a set (RFC 4512
 * §2.5: `cn;lang-de;x-a` and `CN;X-A;Lang-DE` are the same description). `binary` is the RFC
 * 4522 transfer option: it says how values are encoded, not which values, so `cn` and
 * `cn;binary` are one attribute here. Aliases (`cn` / `commonName`) are not resolved: that
 * needs the server's schema, and the relay keeps what the server named.
 *
 * Part of the directory model shared by the ldap and ldif data sources.
 */

/**
 * Attributes whose values are binary whatever bytes they hold (RFC 4517/4523 JPEG, certificate,
 * CRL and octet-string syntaxes, Active Directory GUIDs and SIDs).
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

const BINARY_TYPES = new Set(KNOWN_BINARY_ATTRIBUTES.map((a) => a.toLowerCase()));

/** RFC 4523 types whose values must be transferred with `;binary` (RFC 4522 §2). */
const CERTIFICATE_TYPES = new Set(
  ['userCertificate', 'cACertificate', 'authorityRevocationList', 'certificateRevocationList', 'deltaRevocationList', 'crossCertificatePair', 'supportedAlgorithms'].map((a) =>
    a.toLowerCase(),
  ),
);

/** A `;binary` option anywhere in a description (options are a set: its position means nothing). */
const BINARY_OPTION = /;binary(?=;|$)/i;
const BINARY_OPTIONS = /;binary(?=;|$)/gi;

/** The attribute type of a description (`cn;lang-de` → `cn`). */
export function baseName(description: string): string {
  const semi = description.indexOf(';');
  return semi === -1 ? description : description.slice(0, semi);
}

/** Does the description carry the `;binary` transfer option? */
export function hasBinaryOption(description: string): boolean {
  return BINARY_OPTION.test(description);
}

/** The description without its `;binary` option(s); every other option kept, in order. */
export function withoutBinaryOption(description: string): string {
  return description.replace(BINARY_OPTIONS, '');
}

/** Is this an RFC 4523 certificate type, whose values are sent with `;binary` (RFC 4522)? */
export function isCertificateType(description: string): boolean {
  return CERTIFICATE_TYPES.has(baseName(description).toLowerCase());
}

/**
 * What identifies the attribute a description names: the type and options in lower case,
 * options sorted and without duplicates, `binary` left out (`CN;X-A;Lang-DE;binary` →
 * `cn;lang-de;x-a`). Two descriptions name the same attribute exactly when these are equal.
 */
export function attributeIdentity(description: string): string {
  const parts = description.toLowerCase().split(';');
  const type = parts[0] ?? '';
  if (parts.length === 1) return type;
  const options = [...new Set(parts.slice(1))].filter((o) => o !== 'binary').sort();
  return options.length === 0 ? type : `${type};${options.join(';')}`;
}

/** Answers by attribute description, which repeat on every entry of a search (bounded memo). */
const binaryByName = new Map<string, boolean>();

/** Are all values of this description binary (known binary type, or the `;binary` option)? */
export function isBinaryAttribute(description: string): boolean {
  let answer = binaryByName.get(description);
  if (answer === undefined) {
    answer = hasBinaryOption(description) || BINARY_TYPES.has(baseName(description).toLowerCase());
    if (binaryByName.size < 10_000) binaryByName.set(description, answer);
  }
  return answer;
}

/** The key of an attribute's text values: its first description without `;binary`. */
export function textKey(description: string): string {
  return withoutBinaryOption(description);
}

/** The key of an attribute's base64 values: its first description, with `;binary` added if it has none. */
export function binaryKey(description: string): string {
  return hasBinaryOption(description) ? description : `${description};binary`;
}
