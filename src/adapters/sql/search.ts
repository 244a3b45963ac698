/**
 * `search` and `get` of a SQL source. Search is keyset paging, one page per pull:
 * `SELECT … WHERE <filter> AND key > $last ORDER BY key LIMIT pageSize` on a pooled connection
 * taken for that page only — no cursor or transaction is held between pulls, so a stalled
 * consumer holds nothing on the server. Unsubscribing a pull, or closing the stream, cancels a
 * page query that is running (pg_cancel_backend / KILL QUERY) and closes its connection.
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
  type OperationContext,
  type Page,
  type PageSource,
  type ProtocolErrorContext,
} from '../../adapter-kit/index.js';
import { withSession, type SqlDriver, type SqlSession } from './driver.js';
import { addValues, entryOf, keyText, type SqlEntry } from './entries.js';
import { parseFilter, type FilterNode } from './filter-parse.js';
import type { AttributeIndex } from './mapping.js';
import { childStatement, getStatement, pageStatement } from './queries.js';
import type { SqlSource } from './source.js';

const SearchParams = strictObject({ objectType: NonEmptyString }, { filter: t.string }, { name: 'search parameters { objectType, filter? }' });
const Key = t.union([t.string, t.number], 'string or number');
const GetParams = strictObject({ objectType: NonEmptyString, key: Key }, {}, { name: 'get parameters { objectType, key }' });

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

export function searchSource(source: SqlSource, params: Record<string, unknown>, ctx: OperationContext): PageSource<SqlEntry> {
  const context = contextOf(ctx);
  const p = decodeOrThrow(SearchParams, params, 'search parameters', context);
  const mapping = source.mapping(p.objectType, context);
  const filter: FilterNode | undefined = p.filter === undefined || p.filter.trim() === '' ? undefined : parseFilter(p.filter, context);
  const pageSize = source.config.pageSize ?? 500;
  const closing = new AbortController();
  let after: unknown;
  let done = false;

  const page = async (signal: AbortSignal): Promise<Page<SqlEntry>> => {
    if (done || closing.signal.aborted) return { items: [], last: true };
    const both = AbortSignal.any([signal, closing.signal]);
    const driver = await source.driver();
    const index = await source.index(mapping, both);
    const statement = pageStatement(driver.dialect, index, filter, after, pageSize, context);
    const entries = await withSession(driver, both, async (session) => {
      const r = await session.run(statement);
      const keys = r.rows.map((row) => row[mapping.key]);
      const out = r.rows.map((row) => entryOf(index, row));
      await addChildValues(driver, session, index, out, keys);
      if (r.rows.length > 0) after = keys[keys.length - 1];
      done = r.rows.length < pageSize;
      return out;
    });
    return { items: entries, last: done };
  };

  return {
    pull: (): Observable<Page<SqlEntry>> =>
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
