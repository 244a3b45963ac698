/**
 * Directory nodes → protocol entries by the entry contract (docs/protocol.md, "Entries"),
 * through the ldap adapter's `buildEntry`, so both adapters give one shape: text values as
 * strings under the attribute's first description, values that are not UTF-8 and all values of
 * binary types base64 under `description;binary`, a name that is not UTF-8 as `dn` with `\XX`
 * escapes plus `dn;binary`. Attribute selection follows RFC 4511 §4.5.1.8 (+ RFC 3673 `+`).
 */
import { buildEntry, type LdapEntry } from '../directory/entry.js';
import type { DirNode, EntryNode } from './directory.js';
import { coveredKeys, coveredValues, coversName, forEachAttribute, slotValues } from './flat-attributes.js';
import { parseDescription, valueIdentity, type Description, type Value } from './values.js';

/**
 * Operational attributes computed from the tree: returned for `+` or when asked by name, never
 * for `*`, and usable in filters. `entryDN` (RFC 5020: the name's octets, so a name that is not
 * UTF-8 travels under `entryDN;binary`), `hasSubordinates` (X.501, as OpenLDAP).
 */
const OPERATIONAL: ReadonlyMap<string, { name: string; values: (n: DirNode) => Value[]; keys: (n: DirNode) => string[] }> = new Map([
  ['entrydn', { name: 'entryDN', values: (n: DirNode) => [n.dnBytes ?? n.dn], keys: (n: DirNode) => [valueIdentity('entryDN', n.dn)] }],
  [
    'hassubordinates',
    {
      name: 'hasSubordinates',
      values: (n: DirNode) => [n.children.size > 0 ? 'TRUE' : 'FALSE'],
      keys: (n: DirNode) => [valueIdentity('hasSubordinates', n.children.size > 0 ? 'TRUE' : 'FALSE')],
    },
  ],
]);

export interface Selection {
  /** All user attributes (`*`, or no list). */
  readonly user: boolean;
  /** All operational attributes (`+`). */
  readonly operational: boolean;
  readonly names: readonly Description[];
}

/** No list or `[]` = all user attributes; `1.1` alone = none (with other names it is ignored). */
export function selection(attributes?: readonly string[]): Selection {
  if (attributes === undefined || attributes.length === 0) return { user: true, operational: false, names: [] };
  const list = attributes.filter((a) => a !== '1.1');
  return {
    user: list.includes('*'),
    operational: list.includes('+'),
    names: list.filter((a) => a !== '*' && a !== '+').map(parseDescription),
  };
}

/** Values of every attribute `wanted` covers (`cn` covers `cn;lang-de`), or of an operational one. */
export function valuesFor(node: EntryNode, wanted: Description): Value[] {
  const operational = wanted.options.length === 0 ? OPERATIONAL.get(wanted.type) : undefined;
  if (operational !== undefined) return operational.values(node);
  return coveredValues(node.attributes, wanted);
}

/** Identities of those values (stored for DN-syntax types, computed for the others). */
export function keysFor(node: EntryNode, wanted: Description): string[] {
  const operational = wanted.options.length === 0 ? OPERATIONAL.get(wanted.type) : undefined;
  if (operational !== undefined) return operational.keys(node);
  return coveredKeys(node.attributes, wanted);
}

/**
 * The protocol entry of a node, with the selected attributes: each attribute is one run (its
 * values in the order stored), attributes in the order they were first written, then the
 * operational ones asked for.
 */
export function toEntry(node: EntryNode, sel: Selection): LdapEntry {
  const runs: Array<readonly [string, readonly Value[]]> = [];
  forEachAttribute(node.attributes, (name, values) => {
    if (sel.user || sel.names.some((w) => coversName(w, name))) runs.push([name.name, slotValues(values)]);
  });
  for (const [type, op] of OPERATIONAL) {
    if (sel.operational || sel.names.some((w) => w.type === type && w.options.length === 0)) runs.push([op.name, op.values(node)]);
  }
  const dn = node.dn;
  const entry = buildEntry(dn, runs);
  return node.dnBytes === undefined ? entry : { dn, 'dn;binary': node.dnBytes.toString('base64'), attributes: entry.attributes };
}
