/**
 * Entries as the protocol carries them, byte for byte (the contract is docs/protocol.md,
 * "Entries"): `{dn, "dn;binary"?, attributes: {description: string[]}}` — the directory entry
 * model shared by the ldap and ldif data sources.
 *
 * - A description of a binary type or with the `;binary` option: all its values base64 under
 *   `description;binary`. Any other: each value that is valid UTF-8 is a string under the
 *   description, exactly as sent (a BOM, NUL, controls kept), each value that is not goes base64
 *   under `description;binary`.
 * - Runs of one attribute (`description.ts`: case-insensitive, options a set, `binary` aside)
 *   are merged in server order under the first spelling; an attribute's keys come where the
 *   server first sent it (its text key before its `;binary` key); runs without values count
 *   for nothing.
 * - A DN that is not valid UTF-8: `dn` with hex escapes (`escapeDnBytes`), `dn;binary` its bytes.
 *
 * `buildEntry` applies these rules to values given as strings (text) and Buffers (the LDIF
 * adapter's entries, and LDAP entries without their bytes); the LDAP adapter writes the JSON of
 * the entries it reads straight from their bytes (`../ldap/entry.ts`), by the same rules.
 */
import { isUtf8 } from 'node:buffer';
import { attributeIdentity, binaryKey, isBinaryAttribute, textKey } from './description.js';
import { escapeDnBytes } from './dn.js';

export { baseName, isBinaryAttribute, KNOWN_BINARY_ATTRIBUTES } from './description.js';
export { encodeValues, isBase64, writeAttributes } from './entry-write.js';

export interface LdapEntry {
  readonly dn: string;
  /** The DN's bytes, base64, when they are not valid UTF-8 (`dn` then has hex escapes). */
  readonly 'dn;binary'?: string;
  readonly attributes: Record<string, string[]>;
}

/**
 * The protocol entry of a DN and attribute runs (description, values) by the contract's rules:
 * strings are text, Uint8Arrays bytes (text if valid UTF-8 and the description is not binary).
 * A DN given as bytes that are not UTF-8 gets `dn;binary`.
 */
export function buildEntry(dn: string | Uint8Array, runs: Iterable<readonly [string, ReadonlyArray<string | Uint8Array>]>): LdapEntry {
  const groups = new Map<string, { text: string[]; textKey: string; binary: string[]; binaryKey: string }>();
  for (const [description, values] of runs) {
    if (values.length === 0) continue;
    const identity = attributeIdentity(description);
    let group = groups.get(identity);
    if (group === undefined) {
      group = { text: [], textKey: textKey(description), binary: [], binaryKey: binaryKey(description) };
      groups.set(identity, group);
    }
    const allBinary = isBinaryAttribute(description);
    for (const v of values) {
      const bytes = typeof v === 'string' ? undefined : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      if (bytes === undefined && !allBinary) group.text.push(v as string);
      else if (bytes !== undefined && !allBinary && isUtf8(bytes)) group.text.push(bytes.toString('utf8'));
      else group.binary.push((bytes ?? Buffer.from(v as string, 'utf8')).toString('base64'));
    }
  }
  const attributes: Array<[string, string[]]> = [];
  for (const g of groups.values()) {
    if (g.text.length > 0) attributes.push([g.textKey, g.text]);
    if (g.binary.length > 0) attributes.push([g.binaryKey, g.binary]);
  }
  const dnBytes = typeof dn === 'string' ? undefined : Buffer.from(dn.buffer, dn.byteOffset, dn.byteLength);
  const head = dnBytes === undefined ? { dn: dn as string } : isUtf8(dnBytes) ? { dn: dnBytes.toString('utf8') } : { dn: escapeDnBytes(dnBytes), 'dn;binary': dnBytes.toString('base64') };
  // fromEntries defines own properties, so no attribute name can reach the prototype.
  return { ...head, attributes: Object.fromEntries(attributes) };
}
