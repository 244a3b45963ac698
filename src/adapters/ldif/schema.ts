/**
 * `schema` and `attributes`, derived from the entries: an LDIF file carries no subschema
 * (RFC 4512 §4.2), so what we can honestly describe is what the data holds — the attribute
 * descriptions seen, on how many entries, whether any entry has more than one value, whether
 * values are binary; and the object classes seen. It is recomputed on each call (it follows
 * writes) and says `derived: true` so that no caller mistakes it for a server's schema.
 * The tally walks every entry, in slices that yield to the event loop (slices.ts).
 */
import { isBinaryAttribute } from '../directory/entry.js';
import { valueKey } from '../directory/dn.js';
import { map, type Observable } from 'rxjs';
import type { Directory, EntryNode } from './directory.js';
import { forEachAttribute, slotLength, slotValues, valuesByKey } from './flat-attributes.js';
import { inSlices, type SlicedWork } from './slices.js';
import { attributeKey } from './values.js';

const OBJECT_CLASS = attributeKey('objectClass');

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

/** Counts attributes and object classes over a walk of the directory, a few entries per step. */
class Tally implements SlicedWork<DerivedSchema> {
  private readonly attributes = new Map<string, { name: string; entries: number; values: number; multi: boolean; binary: boolean }>();
  private readonly classes = new Map<string, DerivedObjectClass>();
  private entries = 0;
  private readonly walk: Iterator<EntryNode>;

  constructor(dir: Directory) {
    this.walk = dir.walk(dir.root, 'sub');
  }

  step(until: number): boolean {
    for (let n = 1; ; n++) {
      const r = this.walk.next();
      if (r.done === true) return true;
      this.count(r.value);
      if ((n & 63) === 0 && performance.now() >= until) return false;
    }
  }

  private count(node: EntryNode): void {
    this.entries++;
    forEachAttribute(node.attributes, (name, values) => {
      const a = this.attributes.get(name.key) ?? { name: name.name, entries: 0, values: 0, multi: false, binary: false };
      const n = slotLength(values);
      a.entries++;
      a.values += n;
      a.multi ||= n > 1;
      a.binary ||= isBinaryAttribute(name.name) || slotValues(values).some((v) => Buffer.isBuffer(v));
      this.attributes.set(name.key, a);
    });
    for (const oc of valuesByKey(node.attributes, OBJECT_CLASS) ?? []) {
      if (Buffer.isBuffer(oc)) continue;
      const k = valueKey(oc);
      const c = this.classes.get(k);
      this.classes.set(k, { name: c?.name ?? oc, entries: (c?.entries ?? 0) + 1 });
    }
  }

  result(): DerivedSchema {
    const entries = this.entries;
    const operational: DerivedAttribute[] = [
      { name: 'entryDN', entries, values: entries, singleValue: true, binary: false, operational: true },
      { name: 'hasSubordinates', entries, values: entries, singleValue: true, binary: false, operational: true },
    ];
    return {
      derived: true,
      note: NOTE,
      entries,
      attributeTypes: [
        ...[...this.attributes.values()].map((a) => ({ name: a.name, entries: a.entries, values: a.values, singleValue: !a.multi, binary: a.binary, operational: false })),
        ...operational,
      ].sort(byName),
      objectClasses: [...this.classes.values()].sort(byName),
    };
  }
}

/** The schema derived from the entries, at once (tests, small directories). */
export function deriveSchema(dir: Directory): DerivedSchema {
  const tally = new Tally(dir);
  tally.step(Infinity);
  return tally.result();
}

/** The schema derived from the entries, counted in slices. */
export function schemaOf(dir: Directory): Observable<DerivedSchema> {
  return inSlices(new Tally(dir));
}

/** `attributes` result: `{derived: true, attributes}` sorted by name. */
export function attributesOf(dir: Directory): Observable<{ derived: true; note: string; attributes: DerivedAttribute[] }> {
  return schemaOf(dir).pipe(map((schema) => ({ derived: true as const, note: schema.note, attributes: schema.attributeTypes })));
}
