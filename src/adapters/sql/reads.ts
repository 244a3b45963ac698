/**
 * `test`, `attributes` and `schema` of a SQL source.
 *
 * - `test`: connects, asks the server's version, and reads every object type's table or query
 *   (`SELECT * … WHERE 1 = 0`: the server checks it exists and may be read, and sends no row).
 *   Answers `{ ok, target, latencyMs, server, objectTypes }`; a failure is the coded error of
 *   errors.ts (auth failure, unknown database, missing table, …).
 * - `attributes`: per object type, its key and attribute list (the kit's `attributeList`), the
 *   types, nullability and keys taken from `information_schema`: `{ objectTypes: { users: {
 *   key, attributes: [{ name, aliases, syntax, singleValue, required, readOnly, column }] } } }`.
 * - `schema`: the catalog of the mapped tables — `{ dialect, server, tables: [{ table, columns:
 *   [{ name, type, nullable, primaryKey, generated }] }] }` — and the `attributes` answer.
 */
import { catchError, type Observable } from 'rxjs';
import { attributeList, fromCancellable, testResult, type AttributeInfo, type OperationContext } from '../../adapter-kit/index.js';
import { describeSqlTarget } from './config.js';
import { withSession, type CatalogColumn } from './driver.js';
import type { AttributeIndex } from './mapping.js';
import { probeStatement } from './queries.js';
import { contextOf } from './search.js';
import type { SqlSource } from './source.js';

export function testSource(source: SqlSource, ctx: OperationContext): Observable<unknown> {
  return fromCancellable(async (signal) => {
    const startedAt = performance.now();
    const driver = await source.driver();
    const server = await withSession(driver, signal, async (session) => {
      const version = await driver.serverVersion(session);
      for (const mapping of source.mappings.values()) await session.run(probeStatement(driver.dialect, mapping));
      return version;
    });
    return testResult({ target: describeSqlTarget(source.config), startedAt, server, objectTypes: [...source.mappings.keys()] });
  }).pipe(
    catchError((err: unknown) => {
      throw source.errors.read(err, contextOf(ctx));
    }),
  );
}

const BINARY_TYPE = /^(bytea|(tiny|medium|long)?blob|(var)?binary|bit)\b/i;

function describeType(index: AttributeIndex, catalog: readonly CatalogColumn[]): { key: string; attributes: AttributeInfo[] } {
  const m = index.mapping;
  const columnOf = (table: string | undefined, column: string): CatalogColumn | undefined => catalog.find((c) => c.table === table && c.column === column);
  const list = [...index.sources].map(([name, s]) => {
    const c = s.kind === 'child' ? columnOf(s.child.table, s.child.column) : columnOf(m.table, s.column);
    const binary = c !== undefined && BINARY_TYPE.test(c.type);
    return {
      name: binary ? `${name};binary` : name,
      ...(c === undefined ? {} : { syntax: c.type }),
      singleValue: s.kind === 'column',
      ...(c === undefined || s.kind !== 'column' ? {} : { required: !c.nullable }),
      ...(c?.generated === true ? { readOnly: true } : {}),
      ...(s.kind === 'child' ? { table: s.child.table, column: s.child.column } : { column: s.column }),
    };
  });
  const keyAttr = [...index.sources].find(([, s]) => s.kind === 'column' && s.column === m.key)?.[0] ?? m.key;
  return { key: keyAttr, attributes: attributeList(list) };
}

/** The tables the mapping names (object types' and child tables). */
function mappedTables(source: SqlSource): string[] {
  const tables = new Set<string>();
  for (const m of source.mappings.values()) {
    if (m.table !== undefined) tables.add(m.table);
    for (const mv of m.multiValued.values()) if ('table' in mv) tables.add(mv.table);
  }
  return [...tables];
}

/** Every object type's attribute index (each may take a pooled connection of its own: before any other is held). */
const indexesOf = (source: SqlSource, signal: AbortSignal): Promise<AttributeIndex[]> => Promise.all([...source.mappings.values()].map((m) => source.index(m, signal)));

export function attributesOf(source: SqlSource, ctx: OperationContext): Observable<unknown> {
  return fromCancellable(async (signal) => {
    const driver = await source.driver();
    const indexes = await indexesOf(source, signal);
    const catalog = await withSession(driver, signal, (session) => driver.catalog(session, mappedTables(source)));
    return { objectTypes: Object.fromEntries(indexes.map((i) => [i.mapping.name, describeType(i, catalog)])) };
  }).pipe(
    catchError((err: unknown) => {
      throw source.errors.read(err, contextOf(ctx));
    }),
  );
}

export function schemaOf(source: SqlSource, ctx: OperationContext): Observable<unknown> {
  return fromCancellable(async (signal) => {
    const driver = await source.driver();
    const indexes = await indexesOf(source, signal);
    const { catalog, server } = await withSession(driver, signal, async (session) => ({
      server: await driver.serverVersion(session),
      catalog: await driver.catalog(session, mappedTables(source)),
    }));
    const tables = [...new Set(catalog.map((c) => c.table))].map((table) => ({
      table,
      columns: catalog.filter((c) => c.table === table).map((c) => ({ name: c.column, type: c.type, nullable: c.nullable, primaryKey: c.primaryKey, generated: c.generated })),
    }));
    return { dialect: source.config.dialect, server, tables, objectTypes: Object.fromEntries(indexes.map((i) => [i.mapping.name, describeType(i, catalog)])) };
  }).pipe(
    catchError((err: unknown) => {
      throw source.errors.read(err, contextOf(ctx));
    }),
  );
}
