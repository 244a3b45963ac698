/**
 * How a stored entry holds its attributes: one flat array per entry, no object per attribute.
 * A large directory is mostly small attributes (one or two short values each); as a `Map` of
 * `{name, values, keys}` objects each of them cost a map slot, an object and an array — more than
 * the values themselves — and every one of those objects is work for the garbage collector on
 * each full collection of a heap that size.
 *
 * Layout, attribute after attribute in the order they were first written:
 *
 *     [name, values, (keys,) name, values, (keys,) …]
 *
 * - `name` is an `AttrName`, one shared object per spelling of a description (`cn`, `CN`,
 *   `cn;lang-de`), interned for the whole process: its text without `;binary`, its key
 *   (`attributeKey`), its parsed form and whether its values are DNs;
 * - `values` is the one value itself (a string, or a Buffer for bytes that are not UTF-8 and
 *   for binary types) or, for two or more, an array of them, in order;
 * - `keys` follows only for DN-syntax types (`member`, `manager`, …): the values' identities
 *   (`valueIdentity`, a DN parse each, too costly to repeat per filter), shaped like `values`.
 *   Every other identity is computed when a filter or a write needs it.
 *
 * Text values that repeat across entries (`objectClass: top`, `l: Berlin`, a department, a
 * manager's DN) are stored once per directory (`SharedValues`): each attribute shares up to 256
 * distinct short values; one that has more (`uid`, `mail`) stops sharing.
 *
 * Writes work on `Attr` objects (`unpack`) and store the result packed again (`pack`): they are
 * rare next to reads and loads, and keep their rules in one readable place (directory.ts).
 */
import { attributeKey, isDnType, parseDescription, valueIdentity, withoutBinaryOption, type Attr, type Description, type Value } from './values.js';

/** An attribute description as written (without `;binary`), shared by every entry that spells it so. */
export class AttrName {
  readonly key: string;
  readonly description: Description;
  /** Values are DNs: their identities are stored next to them. */
  readonly dnType: boolean;

  constructor(readonly name: string) {
    this.key = attributeKey(name);
    this.description = parseDescription(name);
    this.dnType = isDnType(this.description.type);
  }
}

/** Interned names, by spelling (bounded: past it, names are simply not shared). */
const interned = new Map<string, AttrName>();
const MAX_INTERNED = 10_000;

/** The shared `AttrName` of a description (`;binary` removed). */
export function attrName(description: string): AttrName {
  let n = interned.get(description);
  if (n === undefined) {
    n = new AttrName(withoutBinaryOption(description));
    if (interned.size < MAX_INTERNED) interned.set(description, n);
  }
  return n;
}

/** A stored slot: one item itself, two or more as an array. */
type Slot<T> = T | T[];

/** An entry's attributes, flat (see the module comment). */
export type FlatAttributes = ReadonlyArray<AttrName | Slot<Value> | Slot<string>>;

/** `list` is the caller's own array, exactly as long as it is. */
const slot = <T>(list: T[]): Slot<T> => (list.length === 1 ? (list[0] as T) : list);
const list = <T>(s: Slot<T>): T[] => (Array.isArray(s) ? s : [s]);

/** Where the attribute after the one at `i` starts. */
const nextAt = (flat: FlatAttributes, i: number): number => i + ((flat[i] as AttrName).dnType ? 3 : 2);

/** Calls `fn` for every attribute: its name, its values (one or an array), its stored keys (DN types only). */
export function forEachAttribute(flat: FlatAttributes, fn: (name: AttrName, values: Slot<Value>, keys: Slot<string> | undefined) => void): void {
  for (let i = 0; i < flat.length; i = nextAt(flat, i)) {
    const name = flat[i] as AttrName;
    fn(name, flat[i + 1] as Slot<Value>, name.dnType ? (flat[i + 2] as Slot<string>) : undefined);
  }
}

/** Number of values in a slot. */
export const slotLength = (s: Slot<unknown>): number => (Array.isArray(s) ? s.length : 1);

/** The values of a slot as a (new or stored) array: do not change it. */
export const slotValues = (s: Slot<Value>): readonly Value[] => list(s);

/** The attribute with `key` (`attributeKey`): its values, or `undefined`. */
export function valuesByKey(flat: FlatAttributes, key: string): readonly Value[] | undefined {
  for (let i = 0; i < flat.length; i = nextAt(flat, i)) if ((flat[i] as AttrName).key === key) return list(flat[i + 1] as Slot<Value>);
  return undefined;
}

/** Does `wanted` (from a filter or attribute list) cover `name`? (`cn` covers `cn;lang-de`.) */
export function coversName(wanted: Description, name: AttrName): boolean {
  const d = name.description;
  return d.type === wanted.type && (wanted.options.length === 0 || wanted.options.every((o) => d.options.includes(o)));
}

/** Values of every attribute `wanted` covers, in order. */
export function coveredValues(flat: FlatAttributes, wanted: Description): Value[] {
  const out: Value[] = [];
  for (let i = 0; i < flat.length; i = nextAt(flat, i)) {
    if (!coversName(wanted, flat[i] as AttrName)) continue;
    const v = flat[i + 1] as Slot<Value>;
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
  }
  return out;
}

/** Identities of those values (stored for DN types, computed for the others). */
export function coveredKeys(flat: FlatAttributes, wanted: Description): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i = nextAt(flat, i)) {
    const name = flat[i] as AttrName;
    if (!coversName(wanted, name)) continue;
    if (name.dnType) out.push(...list(flat[i + 2] as Slot<string>));
    else for (const v of list(flat[i + 1] as Slot<Value>)) out.push(valueIdentity(name.name, v));
  }
  return out;
}

/** Attributes as objects, to be changed by a write (fresh arrays: the stored entry is not touched). */
export function unpack(flat: FlatAttributes): Map<string, Attr> {
  const map = new Map<string, Attr>();
  forEachAttribute(flat, (name, values, keys) => {
    map.set(name.key, { name: name.name, values: [...list(values)], keys: keys === undefined ? undefined : [...list(keys)] });
  });
  return map;
}

/** Distinct values an attribute shares before it stops sharing; longer values are never shared. */
const MAX_SHARED = 256;
const MAX_SHARED_LENGTH = 128;

/** A value stored once for the directory, with its identity when it is a DN. */
interface Shared {
  readonly value: string;
  readonly key: string | undefined;
}

/** Text values that repeat across a directory's entries, stored once (see the module comment). */
export class SharedValues {
  /** Per attribute: its shared values, or `null` once it has had too many to share. */
  private readonly byName = new Map<AttrName, Map<string, Shared> | null>();

  /** The one stored copy of `value` (and of its identity `key`), or the value itself. */
  share(name: AttrName, value: Value, key: string | undefined): Shared | undefined {
    if (typeof value !== 'string' || value.length > MAX_SHARED_LENGTH) return undefined;
    let table = this.byName.get(name);
    if (table === null) return undefined;
    if (table === undefined) {
      table = new Map();
      this.byName.set(name, table);
    }
    const found = table.get(value);
    if (found !== undefined) return found;
    if (table.size >= MAX_SHARED) {
      this.byName.set(name, null);
      return undefined;
    }
    const shared = { value, key };
    table.set(value, shared);
    return shared;
  }
}

/** Attributes stored flat (values shared through `shared`); attributes without values are left out. */
export function pack(attributes: ReadonlyMap<string, Attr>, shared: SharedValues): FlatAttributes {
  const flat: Array<AttrName | Slot<Value> | Slot<string>> = [];
  for (const a of attributes.values()) {
    const n = a.values.length;
    if (n === 0) continue;
    const name = attrName(a.name);
    const values: Value[] = new Array<Value>(n);
    const keys: string[] | undefined = name.dnType ? new Array<string>(n) : undefined;
    for (let i = 0; i < n; i++) {
      const v = a.values[i] as Value;
      const key = keys === undefined ? undefined : (a.keys?.[i] ?? valueIdentity(a.name, v));
      const one = shared.share(name, v, key);
      values[i] = one?.value ?? v;
      if (keys !== undefined) keys[i] = one?.key ?? (key as string);
    }
    flat.push(name, slot(values));
    if (keys !== undefined) flat.push(slot(keys));
  }
  // Exactly as long as it is: no spare capacity kept per entry.
  return flat.slice();
}
