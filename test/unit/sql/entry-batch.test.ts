/**
 * The search's fast path writes each entry's JSON straight from the row's values
 * (entry-batch.ts, json-bytes.ts). Its bytes must be exactly `JSON.stringify` of the entry
 * object `get` builds (entries.ts: `entryOf` + `addValues` for child-table values) — same key
 * order, same value encodings. Checked over the hostile fixture rows (as the PostgreSQL driver
 * gives them), and over generated rows and mappings (fast-check): any string (lone surrogates,
 * controls, U+2028), numbers (-0, NaN, fractions, big), booleans, JSON documents, binary, NULLs,
 * lists mixing binary and text, attribute names JSON objects would reorder, and names every
 * object inherits (`valueOf`, `__proto__`: own attributes of the entry, in both paths).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SqlConfig } from '../../../src/adapters/sql/config.js';
import { addValues, entryOf } from '../../../src/adapters/sql/entries.js';
import { EntryLayout, EntryPageWriter, type ChildValues } from '../../../src/adapters/sql/entry-batch.js';
import { AttributeIndex, mappingsOf } from '../../../src/adapters/sql/mapping.js';
import { HOSTILE_NICKNAMES, HOSTILE_STRINGS, personRow } from '../../fixtures/sql/data.js';
import { PEOPLE_COLUMNS } from '../../fixtures/sql/schema.js';

type ObjectTypes = Record<string, unknown>;

function indexOf(objectType: ObjectTypes, columns: readonly string[]): AttributeIndex {
  const mapping = mappingsOf({ objectTypes: { people: objectType } } as unknown as SqlConfig).get('people');
  if (mapping === undefined) throw new Error('no mapping');
  return new AttributeIndex(mapping, columns);
}

/** The entries as `get` builds them, stringified. */
function viaObjects(index: AttributeIndex, columns: readonly string[], rows: readonly (readonly unknown[])[], children: ChildValues): string[] {
  return rows.map((row, i) => {
    const o = Object.create(null) as Record<string, unknown>;
    columns.forEach((c, k) => (o[c] = row[k]));
    const entry = entryOf(index, o);
    index.children().forEach(([attr], c) => addValues(entry.attributes, attr, children[c]?.[i] ?? []));
    return JSON.stringify(entry);
  });
}

/** The same rows through the fast path (or its fallback where the mapping has no layout). */
function viaBatch(index: AttributeIndex, columns: readonly string[], rows: readonly (readonly unknown[])[], children: ChildValues): { texts: string[]; fast: boolean } {
  const layout = EntryLayout.of(index, columns);
  const writer = new EntryPageWriter();
  // Rows written as they arrive; the child values come after the page (as in a search).
  rows.forEach((row, i) => {
    if (layout !== undefined) return writer.writeRow(layout, row);
    const o = Object.create(null) as Record<string, unknown>;
    columns.forEach((c, k) => (o[c] = row[k]));
    const entry = entryOf(index, o);
    index.children().forEach(([attr], c) => addValues(entry.attributes, attr, children[c]?.[i] ?? []));
    return writer.writeEntry(entry);
  });
  const batch = writer.take(layout, children);
  expect(batch.count).toBe(rows.length);
  // The batch is the items' texts joined by commas: valid JSON inside brackets.
  expect(JSON.parse(`[${batch.bytes.toString('utf8')}]`)).toHaveLength(rows.length);
  return { texts: batch.texts(), fast: layout !== undefined };
}

/** Row `i` of `people` as `pg` with the source's lossless parsers reads it. */
function pgRow(i: number, rows: number): unknown[] {
  const p = personRow(i, rows);
  const iso = (s: string): string => s.replace('Z', '+00:00');
  return [p.id.toString(), p.login, p.displayName, p.email, p.active, p.salary, p.balance, p.photo, iso(p.createdAt), p.updatedAt === null ? null : iso(p.updatedAt), p.profile, p.nicknames];
}

describe('entries written from rows', () => {
  it('are byte-identical to the entry objects for the hostile fixture rows, with child values', () => {
    const rows = 2000;
    const columns = [...PEOPLE_COLUMNS];
    const index = indexOf({ table: 'people', key: 'id', multiValued: { groups: { table: 'group_members', foreignKey: 'person_id', column: 'group_id' }, nicknames: { arrayColumn: 'nicknames' } } }, columns);
    const data = Array.from({ length: rows }, (_, k) => pgRow(k + 1, rows));
    // Child values: some rows none, some several, one a NULL among them.
    const groups = data.map((_, k) => (k % 17 === 0 ? undefined : k % 3 === 0 ? [k % 20, (k * 7) % 20] : k === 5 ? [1, null, 2] : [k % 20]));
    const children: ChildValues = [groups];
    const batch = viaBatch(index, columns, data, children);
    expect(batch.fast).toBe(true);
    expect(batch.texts).toEqual(viaObjects(index, columns, data, children));
    // The fixture's hostile values are in there.
    const all = batch.texts.join('\n');
    for (const s of [...HOSTILE_STRINGS, ...HOSTILE_NICKNAMES.filter((n) => n !== '')]) expect(all).toContain(JSON.stringify(s).slice(1, -1));
    expect(all).toContain('"photo;binary":["');
    expect(all).toContain('"key":"9223372036854775807"');
  });

  it('page after page from one writer (its buffer reused), a failed page discarded', () => {
    const rows = 1500;
    const columns = [...PEOPLE_COLUMNS];
    const index = indexOf({ table: 'people', key: 'id', multiValued: { groups: { table: 'group_members', foreignKey: 'person_id', column: 'group_id' } } }, columns);
    const layout = EntryLayout.of(index, columns)!;
    const writer = new EntryPageWriter();
    writer.writeRow(layout, pgRow(1, rows));
    writer.discard();
    for (let from = 1; from <= rows; from += 400) {
      const data = Array.from({ length: Math.min(400, rows - from + 1) }, (_, k) => pgRow(from + k, rows));
      const children: ChildValues = [data.map((_, k) => (k % 2 === 0 ? [from + k, 'g'] : undefined))];
      data.forEach((row) => writer.writeRow(layout, row));
      expect(writer.take(layout, children).texts()).toEqual(viaObjects(index, columns, data, children));
    }
  });

  it('with configured attributes (renamed columns, a column twice, a missing column) as the objects are', () => {
    const columns = ['id', 'login', 'mail', 'login', 'blob'];
    const index = indexOf({ table: 'people', key: 'id', attributes: { uid: 'login', email: 'mail', data: 'blob', gone: 'nowhere' } }, columns);
    const data = [
      [1, 'first', 'a@x', 'second', Buffer.from([0, 1, 2, 3])],
      ['7', 'x', null, 'y', null],
      [null, '', 'b@x', '', Buffer.alloc(0)],
    ];
    const batch = viaBatch(index, columns, data, []);
    expect(batch.fast).toBe(true);
    expect(batch.texts).toEqual(viaObjects(index, columns, data, []));
  });

  it('falls back to the objects for attribute names an object would reorder', () => {
    for (const name of ['7', '0', 'photo;binary']) {
      const index = indexOf({ table: 'people', key: 'id', attributes: { b: 'b', [name]: 'a' } }, ['id', 'a', 'b']);
      expect(EntryLayout.of(index, ['id', 'a', 'b'])).toBeUndefined();
    }
    const index = indexOf({ table: 'people', key: 'id', attributes: { b: 'b', '7': 'a' } }, ['id', 'a', 'b']);
    const data = [[1, 'x', 'y']];
    const batch = viaBatch(index, ['id', 'a', 'b'], data, []);
    expect(batch.texts).toEqual(['{"objectType":"people","key":"1","attributes":{"7":["x"],"b":["y"]}}']);
  });
});

/** Values as the drivers give them (and some they never would, to be safe). */
const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 60, maxLength: 200 }),
  fc.constantFrom('\u2028', '\ud800', 'a\udc00b', '"\\', '\u0000\u001f\u007f', '', 'é', '👩‍💻'),
  fc.integer(),
  fc.constantFrom(0, -0, 1e9, 999_999_999, Number.NaN, Infinity, 0.1, -1.5e300, 2 ** 53),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
  fc.jsonValue({ maxDepth: 2 }),
);
const list = fc.oneof(fc.constant(null), value, fc.array(value, { maxLength: 5 }));
const attributeName = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('uid', 'mail', 'ünï', 'a"b', '\ud800', '12', 'x;binary', 'valueOf', 'constructor', '__proto__'));

describe('entries written from generated rows', () => {
  it('are byte-identical to the entry objects (or fall back to them)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(attributeName, { minLength: 1, maxLength: 6 }),
        fc.uniqueArray(attributeName, { maxLength: 2 }),
        fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer(), fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a))), fc.array(list, { minLength: 8, maxLength: 8 })), { maxLength: 6 }),
        fc.array(fc.array(fc.option(fc.array(value, { maxLength: 4 }), { nil: undefined }), { minLength: 6, maxLength: 6 }), { minLength: 2, maxLength: 2 }),
        (names, childNames, rowSpecs, childSpecs) => {
          // Columns c0…: the first names are plain columns, every other one a list column; children after.
          const columns = ['k', ...names.map((_, i) => `c${i}`)];
          const plain = names.filter((_, i) => i % 2 === 0);
          const multiValued: Record<string, unknown> = {};
          names.forEach((n, i) => {
            if (i % 2 === 1) multiValued[n] = { arrayColumn: `c${i}` };
          });
          childNames.forEach((n) => {
            if (!names.includes(n)) multiValued[n] = { table: 't', foreignKey: 'f', column: 'v' };
          });
          const attributes = Object.fromEntries(plain.map((n) => [n, `c${names.indexOf(n)}`]));
          const index = indexOf({ table: 'people', key: 'k', attributes, multiValued }, columns);
          const rows = rowSpecs.map(([key, values]) => [key, ...values.slice(0, names.length)]);
          const children: ChildValues = childSpecs.slice(0, index.children().length);
          expect(viaBatch(index, columns, rows, children).texts).toEqual(viaObjects(index, columns, rows, children));
        },
      ),
      { numRuns: 400 },
    );
  });
});
