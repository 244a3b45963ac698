/**
 * A page of a search's entries as one `JsonBatch` (the kit's fast path: the pipeline slices it
 * into chunk frames and sends the bytes as they are), written straight from the rows as the
 * driver returns them — arrays in column order — with no entry object per row.
 *
 * Each entry's JSON is byte for byte `JSON.stringify` of the entry `entries.ts` builds for the
 * same row and child values (what `get` answers): `{"objectType":…,"key":…,"attributes":{…}}`,
 * the attributes in the index's order (columns and lists first, then child tables), NULLs
 * skipped, binary values base64 under `name;binary`. `EntryLayout` precomputes, per object type
 * and result columns, each attribute's column position and its `"name":[` prefixes.
 *
 * The few mappings whose key order `JSON.stringify` would not keep as written — an attribute
 * named like an array index (`"7"`: objects list those first), one named `…;binary` (it could
 * meet the binary values of another) — have no layout: their entries are built
 * as objects and stringified (`writeEntry`), so they stay what they always were.
 */
import { JsonBatch } from '../../adapter-kit/index.js';
import { keyText, type SqlEntry } from './entries.js';
import { JsonBytes } from './json-bytes.js';
import type { AttributeIndex } from './mapping.js';

const COMMA = 0x2c;
const CLOSE_LIST = 0x5d;
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const KEY = utf8(',"key":');
const ATTRIBUTES = utf8(',"attributes":{');
const CLOSE_ENTRY = utf8('}}');

/** An attribute's `"name":[` and `"name;binary":[`. */
interface Slot {
  readonly name: Buffer;
  readonly binaryName: Buffer;
}

/** An attribute read from a column of the row (`list`: a list column, one value per element). */
interface ColumnSlot extends Slot {
  /** Index in the row; -1: the result has no such column (the attribute is absent). */
  readonly position: number;
  readonly list: boolean;
}

/** Per child-table attribute (in `index.children()` order), per row of the page: its values. */
export type ChildValues = readonly (readonly (readonly unknown[] | undefined)[])[];

const slot = (attribute: string): Slot => ({ name: utf8(`${JSON.stringify(attribute)}:[`), binaryName: utf8(`${JSON.stringify(`${attribute};binary`)}:[`) });

/** Would `JSON.stringify` of an entry object move or merge this key? (array-index names, `;binary` names). */
function keyOrderUnsafe(name: string): boolean {
  return (/^(0|[1-9][0-9]*)$/.test(name) && Number(name) < 2 ** 32 - 1) || name.endsWith(';binary');
}

/** How the entries of one object type are written from rows with given result columns. */
export class EntryLayout {
  private constructor(
    /** `{"objectType":"…"` */
    readonly head: Buffer,
    readonly keyPosition: number,
    readonly columns: readonly ColumnSlot[],
    readonly children: readonly Slot[],
    readonly resultColumns: readonly string[],
  ) {}

  /** The layout, or undefined when the entries must be built as objects (see the module comment). */
  static of(index: AttributeIndex, resultColumns: readonly string[]): EntryLayout | undefined {
    if ([...index.sources.keys()].some(keyOrderUnsafe)) return undefined;
    // A name that occurs twice: the driver's row objects keep the last column of that name.
    const position = (column: string): number => resultColumns.lastIndexOf(column);
    const columns: ColumnSlot[] = [];
    const children: Slot[] = [];
    for (const [attribute, source] of index.sources) {
      if (source.kind === 'child') children.push(slot(attribute));
      else columns.push({ ...slot(attribute), position: position(source.column), list: source.kind === 'array' });
    }
    return new EntryLayout(utf8(`{"objectType":${JSON.stringify(index.mapping.name)}`), position(index.mapping.key), columns, children, [...resultColumns]);
  }

  /** Same result columns as this layout was made for? */
  fits(resultColumns: readonly string[]): boolean {
    return resultColumns.length === this.resultColumns.length && resultColumns.every((c, i) => c === this.resultColumns[i]);
  }
}

/** Writes a page's entries, then hands them over as one batch. */
export class EntryPageWriter {
  private readonly out = new JsonBytes();
  private ends: number[] = [];

  /** Row `rowIndex` of the page as an entry, with its child-table values. */
  writeRow(layout: EntryLayout, row: readonly unknown[], children: ChildValues, rowIndex: number): void {
    const out = this.out;
    if (this.ends.length > 0) out.byte(COMMA);
    out.bytes(layout.head);
    const key = keyText(row[layout.keyPosition]) as string | undefined;
    if (key !== undefined) {
      out.bytes(KEY);
      out.string(key);
    }
    out.bytes(ATTRIBUTES);
    let first = true;
    for (const s of layout.columns) {
      const v = s.position < 0 ? undefined : row[s.position];
      if (v === null || v === undefined) continue;
      if (s.list && Array.isArray(v)) {
        first = this.values(s, v, first);
      } else {
        const binary = Buffer.isBuffer(v);
        if (!first) out.byte(COMMA);
        first = false;
        out.bytes(binary ? s.binaryName : s.name);
        if (binary) out.base64(v);
        else out.value(v);
        out.byte(CLOSE_LIST);
      }
    }
    for (let c = 0; c < layout.children.length; c++) {
      const values = children[c]?.[rowIndex];
      if (values !== undefined) first = this.values(layout.children[c] as Slot, values, first);
    }
    out.bytes(CLOSE_ENTRY);
    this.ends.push(out.at);
  }

  /** An entry built as an object (mappings without a layout). */
  writeEntry(entry: SqlEntry): void {
    if (this.ends.length > 0) this.out.byte(COMMA);
    this.out.text(JSON.stringify(entry));
    this.ends.push(this.out.at);
  }

  /** The entries written so far as a batch; the writer starts a new one. */
  take(): JsonBatch {
    if (this.ends.length === 0) return JsonBatch.EMPTY;
    const ends = Uint32Array.from(this.ends);
    this.ends = [];
    return new JsonBatch(this.out.take(), ends);
  }

  /**
   * A list of values: the text values under `name`, the binary ones under `name;binary` — the
   * kind met first first, as an object gets its keys. Returns the new `first`.
   */
  private values(s: Slot, values: readonly unknown[], first: boolean): boolean {
    let kind = 0; // 0 none yet, 1 text, 2 binary
    let mixed = false;
    for (const v of values) {
      if (v === null || v === undefined) continue;
      const k = Buffer.isBuffer(v) ? 2 : 1;
      if (kind === 0) kind = k;
      else if (k !== kind) mixed = true;
    }
    if (kind === 0) return first;
    this.group(s, values, kind === 2, first);
    if (mixed) this.group(s, values, kind !== 2, false);
    return false;
  }

  private group(s: Slot, values: readonly unknown[], binary: boolean, first: boolean): void {
    const out = this.out;
    if (!first) out.byte(COMMA);
    out.bytes(binary ? s.binaryName : s.name);
    let n = 0;
    for (const v of values) {
      if (v === null || v === undefined || Buffer.isBuffer(v) !== binary) continue;
      if (n++ > 0) out.byte(COMMA);
      if (binary) out.base64(v as Buffer);
      else out.value(v);
    }
    out.byte(CLOSE_LIST);
  }
}
