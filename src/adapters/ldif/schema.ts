/**
 * `schema` and `attributes`, derived from the entries: an LDIF file carries no subschema
 * (RFC 4512 §4.2), so what we can honestly describe is what the data holds — the attribute
 * descriptions seen, on how many entries, whether any entry has more than one value, whether
 * values are binary; and the object classes seen. It is recomputed on each call (it follows
 * writes) and says `derived: true` so that no caller mistakes it for a server's schema.
 */
import { isBinaryAttribute } from '../ldap/entry.js';
import { valueKey } from '../ldap/dn.js';
import type { Directory } from './directory.js';
import { attributeKey } from './values.js';

export interface DerivedAttribute {
  /** The description as first seen (e.g. `cn`, `cn;lang-de`). */
  readonly name: string;
  /** Entries that have it. */
  readonly entries: number;
  /** Values over all entries. */
  readonly values: number;
  /** No entry has more than one value (observed, not a schema rule). */
  readonly singleValue: boolean;
  /** Values travel base64 under `name;binary`. */
  readonly binary: boolean;
  /** Computed by the directory (`entryDN`, `hasSubordinates`): returned for `+` or by name. */
  readonly operational: boolean;
}

export interface DerivedObjectClass {
  readonly name: string;
  readonly entries: number;
}

export interface DerivedSchema {
  readonly derived: true;
  readonly note: string;
  readonly entries: number;
  readonly attributeTypes: DerivedAttribute[];
  readonly objectClasses: DerivedObjectClass[];
}

const NOTE = 'derived from the loaded entries (an LDIF file has no subschema): attributes and object classes seen, not a server schema';

const byName = <T extends { name: string }>(a: T, b: T): number => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.name.localeCompare(b.name);

export function deriveSchema(dir: Directory): DerivedSchema {
  const attributes = new Map<string, { name: string; entries: number; values: number; multi: boolean; binary: boolean }>();
  const classes = new Map<string, DerivedObjectClass>();
  let entries = 0;
  for (const node of dir.walk(dir.root, 'sub')) {
    entries++;
    for (const [key, attr] of node.attributes) {
      const a = attributes.get(key) ?? { name: attr.name, entries: 0, values: 0, multi: false, binary: false };
      a.entries++;
      a.values += attr.values.length;
      a.multi ||= attr.values.length > 1;
      a.binary ||= isBinaryAttribute(attr.name) || attr.values.some((v) => Buffer.isBuffer(v));
      attributes.set(key, a);
    }
    for (const oc of node.attributes.get(attributeKey('objectClass'))?.values ?? []) {
      if (Buffer.isBuffer(oc)) continue;
      const k = valueKey(oc);
      const c = classes.get(k);
      classes.set(k, { name: c?.name ?? oc, entries: (c?.entries ?? 0) + 1 });
    }
  }
  const operational: DerivedAttribute[] = [
    { name: 'entryDN', entries, values: entries, singleValue: true, binary: false, operational: true },
    { name: 'hasSubordinates', entries, values: entries, singleValue: true, binary: false, operational: true },
  ];
  return {
    derived: true,
    note: NOTE,
    entries,
    attributeTypes: [
      ...[...attributes.values()].map((a) => ({ name: a.name, entries: a.entries, values: a.values, singleValue: !a.multi, binary: a.binary, operational: false })),
      ...operational,
    ].sort(byName),
    objectClasses: [...classes.values()].sort(byName),
  };
}

/** `attributes` result: `{derived: true, attributes}` sorted by name. */
export function deriveAttributes(dir: Directory): { derived: true; note: string; attributes: DerivedAttribute[] } {
  const schema = deriveSchema(dir);
  return { derived: true, note: schema.note, attributes: schema.attributeTypes };
}
