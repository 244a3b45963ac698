/**
 * `search` and `get` of a SQL source. Search is keyset paging, one page per pull:
 * `SELECT … WHERE <filter> AND key > $last ORDER BY key LIMIT pageSize` on a pooled connection
 * taken for that page only — no cursor or transaction is held between pulls, so a stalled
 * consumer holds nothing on the server. Unsubscribing a pull, or closing the stream, cancels a
 * page query that is running (pg_cancel_backend / KILL QUERY) and closes its connection.
 * Each page is one `JsonBatch`, its entries written from the rows straight into JSON bytes
 * (entry-batch.ts); `get` builds its one entry as an object (entries.ts) — the same JSON.
 *
 * Parameters: search `{ objectType, filter? }` (filter in LDAP syntax, filter-parse.ts); get
 * `{ objectType, key }`.
 */
import { catchError, type Observable } from 'rxjs';
import {
  decodeOrThrow,
  fromCancellable,
  NonEmptyString,
  ProtocolError,
  strictObject,
  t,
  JsonBatch,
  type BatchPageSource,
  type OperationContext,
  type Page,
  type ProtocolErrorContext,
} from '../../adapter-kit/index.js';
import { withSession, type SqlDriver, type SqlSession } from './driver.js';
import { addValues, entryOf, keyText, type SqlEntry } from './entries.js';
import { EntryLayout, EntryPageWriter, type ChildValues } from './entry-batch.js';
import { parseFilter, type FilterNode } from './filter-parse.js';
import type { AttributeIndex } from './mapping.js';
import { childStatement, getStatement, pageStatement } from './queries.js';
import type { SqlSource } from './source.js';

/** The search parameters (exported for the OpenAPI agreement test). */
export const SearchParams = strictObject({ objectType: NonEmptyString }, { filter: t.string }, { name: 'search parameters { objectType, filter? }' });
const Key = t.union([t.string, t.number], 'string or number');
/** The get parameters (exported for the OpenAPI agreement test). */
export const GetParams = strictObject({ objectType: NonEmptyString, key: Key }, {}, { name: 'get parameters { objectType, key }' });

export const contextOf = (ctx: OperationContext): ProtocolErrorContext => ({ requestId: ctx.requestId, dataSource: ctx.dataSource });

/** Adds the child-table attributes of `entries` (one statement per child table, all keys at once). */
async function addChildValues(driver: SqlDriver, session: SqlSession, index: AttributeIndex, entries: readonly SqlEntry[], keys: readonly unknown[]): Promise<void> {
  if (entries.length === 0) return;
  const byKey = new Map(entries.map((e) => [e.key, e]));
  for (const [attr, child] of index.children()) {
    const r = await session.run(childStatement(driver.dialect, child, keys));
    for (const row of r.rows) {
      const entry = byKey.get(keyText(row['entry_key']));
      if (entry !== undefined) addValues(entry.attributes, attr, [row['v']]);
    }
  }
}

/**
 * The child-table values of a page's rows (one statement per child table, all keys at once),
 * per child attribute and row; a key that occurs twice in the page gets them on its last row
 * (as `addChildValues` does).
 */
async function childValuesOf(driver: SqlDriver, session: SqlSession, index: AttributeIndex, keys: readonly unknown[]): Promise<ChildValues> {
  const children = index.children();
  if (keys.length === 0 || children.length === 0) return [];
  const rowOfKey = new Map<string, number>();
  keys.forEach((k, i) => rowOfKey.set(keyText(k), i));
  const out: (unknown[] | undefined)[][] = [];
  for (const [, child] of children) {
    const byRow: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(keys.length);
    let at: { k: number; v: number } | undefined;
    await session.eachRow(childStatement(driver.dialect, child, keys), (row, columns) => {
      at ??= { k: columns.lastIndexOf('entry_key'), v: columns.lastIndexOf('v') };
      const i = rowOfKey.get(keyText(row[at.k]));
      if (i !== undefined) (byRow[i] ??= []).push(row[at.v]);
    });
    out.push(byRow);
  }
  return out;
}

/** A row (array) as an object: a name that occurs twice keeps its last column (as the drivers' objects do). */
function rowObject(columns: readonly string[], row: readonly unknown[]): Record<string, unknown> {
  const o = Object.create(null) as Record<string, unknown>;
  for (let i = 0; i < columns.length; i++) o[columns[i] as string] = row[i];
  return o;
}

/**
 * One page's rows as they arrive: each row's key kept (for the child statements and the next
 * page), its entry written at once (entry-batch.ts) — or, for a mapping without a layout, the
 * row kept and its entry built as an object once the child values are known.
 */
class PageRows {
  readonly keys: unknown[] = [];
  private readonly kept: Record<string, unknown>[] = [];
  private columns: readonly string[] | undefined;
  private layout: EntryLayout | undefined;
  private keyAt = -1;

  constructor(
    private readonly writer: EntryPageWriter,
    private readonly index: AttributeIndex,
    private readonly layoutOf: (columns: readonly string[]) => EntryLayout | undefined,
  ) {
    writer.discard();
  }

  readonly add = (row: readonly unknown[], columns: readonly string[]): void => {
    if (columns !== this.columns) {
      this.columns = columns;
      this.layout = this.layoutOf(columns);
      this.keyAt = columns.lastIndexOf(this.index.mapping.key);
    }
    this.keys.push(row[this.keyAt]);
    if (this.layout !== undefined) this.writer.writeRow(this.layout, row);
    else this.kept.push(rowObject(columns, row));
  };

  /** The page's entries, with their child values. */
  batch(children: ChildValues): JsonBatch {
    if (this.layout !== undefined) return this.writer.take(this.layout, children);
    this.kept.forEach((row, i) => {
      const entry = entryOf(this.index, row);
      this.index.children().forEach(([attr], c) => addValues(entry.attributes, attr, children[c]?.[i] ?? []));
      this.writer.writeEntry(entry);
    });
    return this.writer.take();
  }
}

type BatchPage = Omit<Page<never>, 'items'> & { readonly items: JsonBatch };

/**
 * A search as a `BatchPageSource`: each page is one `JsonBatch` written from the rows (as
 * arrays: no object per row) straight into JSON bytes, entries identical to `get`'s.
 */
export function searchSource(source: SqlSource, params: Record<string, unknown>, ctx: OperationContext): BatchPageSource {
  const context = contextOf(ctx);
  const p = decodeOrThrow(SearchParams, params, 'search parameters', context);
  const mapping = source.mapping(p.objectType, context);
  const filter: FilterNode | undefined = p.filter === undefined || p.filter.trim() === '' ? undefined : parseFilter(p.filter, context);
  const pageSize = source.config.pageSize ?? 500;
  const closing = new AbortController();
  const writer = new EntryPageWriter();
  let layout: { readonly of: AttributeIndex; readonly layout: EntryLayout | undefined } | undefined;
  let after: unknown;
  let done = false;

  const layoutOf = (index: AttributeIndex, columns: readonly string[]): EntryLayout | undefined => {
    if (layout === undefined || layout.of !== index || (layout.layout !== undefined && !layout.layout.fits(columns))) layout = { of: index, layout: EntryLayout.of(index, columns) };
    return layout.layout;
  };

  const page = async (signal: AbortSignal): Promise<BatchPage> => {
    if (done || closing.signal.aborted) return { items: JsonBatch.EMPTY, last: true };
    const both = AbortSignal.any([signal, closing.signal]);
    const driver = await source.driver();
    const index = await source.index(mapping, both);
    const statement = pageStatement(driver.dialect, index, filter, after, pageSize, context);
    const batch = await withSession(driver, both, async (session) => {
      const rows = new PageRows(writer, index, (columns) => layoutOf(index, columns));
      await session.eachRow(statement, rows.add);
      const { keys } = rows;
      const children = await childValuesOf(driver, session, index, keys);
      if (keys.length > 0) after = keys[keys.length - 1];
      done = keys.length < pageSize;
      return rows.batch(children);
    });
    return { items: batch, last: done };
  };

  return {
    itemFormat: 'json-batch',
    pull: (): Observable<BatchPage> =>
      fromCancellable(page).pipe(
        catchError((err: unknown) => {
          throw source.errors.read(err, context);
        }),
      ),
    close: () => {
      if (!closing.signal.aborted) closing.abort();
    },
  };
}

export function getEntry(source: SqlSource, params: Record<string, unknown>, ctx: OperationContext): Observable<SqlEntry> {
  return fromCancellable(async (signal) => {
    const context = contextOf(ctx);
    const p = decodeOrThrow(GetParams, params, 'get parameters', context);
    const mapping = source.mapping(p.objectType, context);
    const driver = await source.driver();
    const index = await source.index(mapping, signal);
    const found = await withSession(driver, signal, async (session) => {
      const r = await session.run(getStatement(driver.dialect, index, String(p.key)));
      const row = r.rows[0];
      if (row === undefined) return undefined;
      const entry = entryOf(index, row);
      await addChildValues(driver, session, index, [entry], [row[mapping.key]]);
      return entry;
    });
    if (found === undefined) throw new ProtocolError('NOT_FOUND', `no ${mapping.name} with key ${JSON.stringify(String(p.key))}`, context);
    return found;
  }).pipe(
    catchError((err: unknown) => {
      throw source.errors.read(err, contextOf(ctx));
    }),
  );
}
