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

/**
 * Writes a page's entries, then hands them over as one batch. Each row is written as it
 * arrives (`writeRow`), so it need not be kept: without child-table attributes its entry is
 * complete; with them, the entry up to its last column attribute is written now, and `take`
 * copies each such part into the page and adds the child values and the closing braces.
 */
export class EntryPageWriter {
  private readonly out = new JsonBytes();
  private ends: number[] = [];
  /** Per part (entries awaiting child values): did it write an attribute? */
  private partHasAttribute: boolean[] = [];
  private readonly page = new JsonBytes();

  /** A row as an entry (or, when the layout has child tables, the part of it before them). */
  writeRow(layout: EntryLayout, row: readonly unknown[]): void {
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
        first = this.values(out, s, v, first);
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
    if (layout.children.length === 0) out.bytes(CLOSE_ENTRY);
    else this.partHasAttribute.push(!first);
    this.ends.push(out.at);
  }

  /** An entry built as an object (mappings without a layout). */
  writeEntry(entry: SqlEntry): void {
    if (this.ends.length > 0) this.out.byte(COMMA);
    this.out.text(JSON.stringify(entry));
    this.ends.push(this.out.at);
  }

  /** Forgets what was written since the last `take` (a page that failed half-way). */
  discard(): void {
    this.ends = [];
    this.partHasAttribute = [];
    this.out.reset();
  }

  /**
   * The entries written since the last `take` as a batch; `children`: the child-table values of
   * the rows `writeRow` wrote with `layout` (per child attribute, per row).
   */
  take(layout?: EntryLayout, children: ChildValues = []): JsonBatch {
    if (this.ends.length === 0) return JsonBatch.EMPTY;
    const ends = Uint32Array.from(this.ends);
    this.ends = [];
    const parts = this.partHasAttribute;
    if (parts.length === 0 || layout === undefined) return new JsonBatch(this.out.take(), ends);
    this.partHasAttribute = [];
    // The parts stay in this writer's buffer (reused for the next page); the page gets copies.
    const written = this.out.view();
    const page = this.page;
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i] as number;
      if (i > 0) page.byte(COMMA);
      page.copy(written, start, end);
      start = end + 1;
      let first = !(parts[i] as boolean);
      for (let c = 0; c < layout.children.length; c++) {
        const values = children[c]?.[i];
        if (values !== undefined) first = this.values(page, layout.children[c] as Slot, values, first);
      }
      page.bytes(CLOSE_ENTRY);
      ends[i] = page.at;
    }
    this.out.reset();
    return new JsonBatch(page.take(), ends);
  }

  /**
   * A list of values: the text values under `name`, the binary ones under `name;binary` — the
   * kind met first first, as an object gets its keys. Returns the new `first`.
   */
  private values(out: JsonBytes, s: Slot, values: readonly unknown[], first: boolean): boolean {
    let kind = 0; // 0 none yet, 1 text, 2 binary
    let mixed = false;
    for (const v of values) {
      if (v === null || v === undefined) continue;
      const k = Buffer.isBuffer(v) ? 2 : 1;
      if (kind === 0) kind = k;
      else if (k !== kind) mixed = true;
    }
    if (kind === 0) return first;
    this.group(out, s, values, kind === 2, first);
    if (mixed) this.group(out, s, values, kind !== 2, false);
    return false;
  }

  private group(out: JsonBytes, s: Slot, values: readonly unknown[], binary: boolean, first: boolean): void {
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
