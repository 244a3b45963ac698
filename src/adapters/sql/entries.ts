/**
 * Rows → entries. An entry is
 *
 * ```json
 * { "objectType": "users", "key": "42", "attributes": { "uid": ["ada"], "mail": ["a@x", "ada@x"], "photo;binary": ["iVBO…"] } }
 * ```
 *
 * - `key`: the key column's value as a string (big integers stay exact).
 * - `attributes`: every attribute as a **list of values**, as LDAP entries have them: a column
 *   gives one value, a multi-valued attribute (child table rows, array elements) gives each of
 *   its values. NULL (and an empty list) is an absent attribute.
 * - Binary values (bytea, BLOB) are base64 under `name;binary`.
 * - Other values as the drivers' lossless readers give them (postgres-values.ts, mysql-values.ts):
 *   strings, numbers, booleans, JSON.
 */
import type { AttributeIndex } from './mapping.js';

export interface SqlEntry {
  readonly objectType: string;
  readonly key: string;
  readonly attributes: Record<string, unknown[]>;
}

const isBinary = (v: unknown): v is Buffer => Buffer.isBuffer(v);

/**
 * The list of an attribute, created as an own property when new: a column may be named like
 * something every object inherits (`constructor`, `valueOf`, `__proto__`).
 */
function listOf(attributes: Record<string, unknown[]>, attr: string): unknown[] {
  if (Object.hasOwn(attributes, attr)) return attributes[attr] as unknown[];
  const list: unknown[] = [];
  Object.defineProperty(attributes, attr, { value: list, enumerable: true, writable: true, configurable: true });
  return list;
}

/** Adds values to an attribute (binary ones under `name;binary`, base64). */
export function addValues(attributes: Record<string, unknown[]>, name: string, values: readonly unknown[]): void {
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const attr = isBinary(v) ? `${name};binary` : name;
    listOf(attributes, attr).push(isBinary(v) ? v.toString('base64') : v);
  }
}

/** The key of a row as an entry names it. */
export function keyText(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** One row's entry, without its child-table attributes (added by `addValues`). */
export function entryOf(index: AttributeIndex, row: Readonly<Record<string, unknown>>): SqlEntry {
  const attributes: Record<string, unknown[]> = {};
  for (const [attr, source] of index.sources) {
    if (source.kind === 'child') continue;
    const value = row[source.column];
    if (source.kind === 'array') addValues(attributes, attr, Array.isArray(value) ? value : [value]);
    else addValues(attributes, attr, [value]);
  }
  return { objectType: index.mapping.name, key: keyText(row[index.mapping.key]), attributes };
}
