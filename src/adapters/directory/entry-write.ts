/**
 * The write side of the entry contract (docs/protocol.md, "Entries"): attribute values of an
 * export record → what is sent to the server.
 *
 * `description` values are sent as their UTF-8 bytes, `description;binary` values (base64) as
 * the bytes they decode to. The name sent is the description with only the `;binary` transfer
 * option removed — every other option kept, in the order given — because servers refuse
 * `;binary` on types whose syntax does not need it (OpenLDAP: `jpegPhoto;binary` is an
 * undefinedAttributeType); the RFC 4523 certificate types keep it, which RFC 4522 §2 requires.
 * Shared by the ldap and ldif data sources (the values an export writes).
 */
import { Attribute } from 'ldapts';
import { badRequest } from '../../adapter-kit/decode.js';
import { attributeIdentity, hasBinaryOption, isCertificateType, withoutBinaryOption } from './description.js';

/** Is a string strict base64 (what `;binary` values must be)? */
export function isBase64(value: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value);
}

/** A lone UTF-16 surrogate: text JSON can hold but UTF-8 cannot (it would be sent as U+FFFD). */
const LONE_SURROGATE = /\p{Cs}/u;

function textValue(name: string, value: string): string {
  if (LONE_SURROGATE.test(value)) badRequest(`a value of ${name} holds a lone UTF-16 surrogate, which has no UTF-8 form (send such bytes base64 under ${name};binary)`);
  return value;
}

function binaryValue(name: string, value: string): Buffer {
  if (!isBase64(value)) badRequest(`values of ${name} must be base64`);
  return Buffer.from(value, 'base64');
}

/** The name to send for a description: without `;binary`, except for certificate types. */
function sentName(description: string): string {
  return hasBinaryOption(description) && !isCertificateType(description) ? withoutBinaryOption(description) : description;
}

/**
 * Values of one attribute of a write: `name;binary` values are base64 and sent as Buffers.
 * Returns the name to send (see the module comment) and the values. BAD_REQUEST for a value
 * that is not base64 under `;binary`, or a text value with a lone surrogate.
 */
export function encodeValues(name: string, values: readonly string[]): { name: string; values: Buffer[] | string[] } {
  if (!hasBinaryOption(name)) return { name, values: values.map((v) => textValue(name, v)) };
  return { name: sentName(name), values: values.map((v) => binaryValue(name, v)) };
}

/**
 * An export record's attribute map → LDAP attributes. Keys naming the same attribute (`cn` and
 * `cn;binary`, or spellings that differ in case or option order) become ONE attribute, named
 * after the first of them (as `encodeValues` names it; a certificate type keeps `;binary` if any
 * of its keys has it), with the values of all of them in key order and, within a key, in the
 * order given. Different descriptions are never merged. An attribute with any binary value
 * sends all its values as Buffers (text as its UTF-8 bytes), else as strings. BAD_REQUEST as
 * for `encodeValues`.
 */
export function writeAttributes(map: Readonly<Record<string, readonly string[]>>): Attribute[] {
  const groups = new Map<string, { first: string; binaryKey: boolean; values: Array<string | Buffer> }>();
  for (const [key, values] of Object.entries(map)) {
    const identity = attributeIdentity(key);
    let group = groups.get(identity);
    if (group === undefined) {
      group = { first: key, binaryKey: false, values: [] };
      groups.set(identity, group);
    }
    const binary = hasBinaryOption(key);
    group.binaryKey ||= binary;
    for (const v of values) group.values.push(binary ? binaryValue(key, v) : textValue(key, v));
  }
  return [...groups.values()].map(({ first, binaryKey, values }) => {
    const plain = withoutBinaryOption(first);
    const type = binaryKey && isCertificateType(first) ? (hasBinaryOption(first) ? first : `${plain};binary`) : plain;
    const buffers = values.some((v) => typeof v !== 'string');
    return new Attribute({ type, values: buffers ? values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v)) : (values as string[]) });
  });
}
