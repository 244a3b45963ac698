/**
 * `export` of a SQL source: the adapter kit's export loop with this source's `RecordWriter`.
 * **Each record is written in a transaction of its own** (BEGIN … COMMIT on a pooled
 * connection): its row and its child-table values together, or nothing. A failed record is
 * rolled back and reported with its code; the next record is written (there is no batch whose
 * failure would take other records with it).
 *
 * Records (`attributes` as entries show them — lists of values — or single values):
 *
 * ```json
 * { "op": "insert", "objectType": "users", "key": "42", "attributes": { "uid": ["ada"], "mail": ["a@x", "b@x"] } }
 * { "op": "update", "objectType": "users", "key": "42", "attributes": { "mail": ["a@x"] } }
 * { "op": "upsert", "objectType": "users", "key": "42", "attributes": { "uid": "ada" } }
 * { "op": "delete", "objectType": "users", "key": "42" }
 * ```
 *
 * - `insert` fails with ALREADY_EXISTS when the key exists; `update` and `delete` with NOT_FOUND
 *   when it does not. `update` sets only the attributes given; a multi-valued attribute given
 *   replaces all its values. `delete` removes the child-table values first.
 * - `null` or `[]` sets a column to NULL; `name;binary` takes base64.
 * - Result data: `{ action: 'inserted' | 'updated' | 'unchanged' | 'deleted' }`.
 * - Object types mapped with a `query` are read-only: OPERATION_NOT_ALLOWED.
 */
import type { Observable } from 'rxjs';
import {
  badRequest,
  exportLoop,
  NonEmptyString,
  ProtocolError,
  recordDecoder,
  strictObject,
  t,
  type ExportResult,
  type OperationContext,
  type ProtocolErrorContext,
  type RecordWriter,
} from '../../adapter-kit/index.js';
import { Params, quoteTable, type SqlDialect } from './dialect.js';
import { withSession, type SqlSession } from './driver.js';
import type { AttributeIndex } from './mapping.js';
import type { Statement } from './queries.js';
import type { SqlSource } from './source.js';

type Op = 'insert' | 'update' | 'upsert' | 'delete';
export interface SqlRecord {
  readonly op: Op;
  readonly objectType: string;
  readonly key: string | number;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

const Key = t.union([t.string, t.number], 'string or number');
const Attributes = t.record(t.string, t.unknown, 'mapping of attribute to values');
const write = (op: Op) => strictObject({ op: t.literal(op), objectType: NonEmptyString, key: Key }, { attributes: Attributes }, { name: `${op} record { op, objectType, key, attributes? }` });
const decodeRecord = recordDecoder<SqlRecord>({
  insert: write('insert'),
  update: write('update'),
  upsert: write('upsert'),
  delete: strictObject({ op: t.literal('delete'), objectType: NonEmptyString, key: Key }, {}, { name: 'delete record { op, objectType, key }' }),
});

/** A value as given → what is bound: Buffer for `;binary`, JSON text for objects, NULL for nothing. */
function bindable(value: unknown, binary: boolean, context: ProtocolErrorContext, what: string): unknown {
  if (value === null || value === undefined) return null;
  if (binary) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) badRequest(`${what}: expected base64`, context);
    return Buffer.from(value, 'base64');
  }
  return typeof value === 'object' ? JSON.stringify(value) : value;
}

interface Assignments {
  /** Column → bound value. */
  readonly columns: Map<string, unknown>;
  /** Child-table attribute → its new values. */
  readonly children: [{ table: string; foreignKey: string; column: string }, unknown[]][];
}

function assignmentsOf(index: AttributeIndex, record: SqlRecord, dialect: SqlDialect, context: ProtocolErrorContext): Assignments {
  const columns = new Map<string, unknown>();
  const children: Assignments['children'] = [];
  for (const [given, raw] of Object.entries(record.attributes ?? {})) {
    const binary = given.toLowerCase().endsWith(';binary');
    const { source } = index.source(binary ? given.slice(0, -';binary'.length) : given, context);
    const values = Array.isArray(raw) ? raw : raw === null ? [] : [raw];
    if (source.kind === 'column') {
      if (values.length > 1) badRequest(`attributes.${given}: single-valued (column ${source.column}), got ${values.length} values`, context);
      columns.set(source.column, bindable(values[0], binary, context, `attributes.${given}`));
    } else if (source.kind === 'array') {
      const list = values.map((v, i) => bindable(v, binary, context, `attributes.${given}[${i}]`));
      columns.set(source.column, dialect.name === 'postgres' ? list : JSON.stringify(list));
    } else {
      children.push([source.child, values.map((v, i) => bindable(v, binary, context, `attributes.${given}[${i}]`))]);
    }
  }
  const key = index.mapping.key;
  if (columns.has(key) && String(columns.get(key)) !== String(record.key)) badRequest(`the key column ${key} differs from key ${JSON.stringify(record.key)}: export does not change keys`, context);
  columns.set(key, record.key);
  return { columns, children };
}

function mainStatement(dialect: SqlDialect, table: string, key: string, record: SqlRecord, a: Assignments): Statement | undefined {
  const p = new Params(dialect);
  const q = (c: string): string => dialect.quoteIdentifier(c);
  const t = quoteTable(dialect, table);
  switch (record.op) {
    case 'insert': {
      const cols = [...a.columns.keys()];
      const ph = cols.map((c) => p.add(a.columns.get(c)));
      return { text: `INSERT INTO ${t} (${cols.map(q).join(', ')}) VALUES (${ph.join(', ')})`, values: p.values };
    }
    case 'upsert': {
      const cols = [...a.columns.keys()];
      const ph = cols.map((c) => p.add(a.columns.get(c)));
      return { text: dialect.upsert(t, cols, ph, key), values: p.values };
    }
    case 'update': {
      const sets = [...a.columns].filter(([c]) => c !== key).map(([c, v]) => `${q(c)} = ${p.add(v)}`);
      // Only child values change: the row must exist all the same.
      if (sets.length === 0) return { text: `UPDATE ${t} SET ${q(key)} = ${q(key)} WHERE ${q(key)} = ${p.add(record.key)}`, values: p.values };
      return { text: `UPDATE ${t} SET ${sets.join(', ')} WHERE ${q(key)} = ${p.add(record.key)}`, values: p.values };
    }
    case 'delete':
      return { text: `DELETE FROM ${t} WHERE ${q(key)} = ${p.add(record.key)}`, values: p.values };
  }
}

async function replaceChildren(session: SqlSession, dialect: SqlDialect, key: unknown, children: Assignments['children']): Promise<void> {
  for (const [child, values] of children) {
    const fk = dialect.quoteIdentifier(child.foreignKey);
    const table = quoteTable(dialect, child.table);
    const del = new Params(dialect);
    await session.run({ text: `DELETE FROM ${table} WHERE ${fk} = ${del.add(key)}`, values: del.values });
    for (const v of values) {
      if (v === null) continue;
      const ins = new Params(dialect);
      await session.run({ text: `INSERT INTO ${table} (${fk}, ${dialect.quoteIdentifier(child.column)}) VALUES (${ins.add(key)}, ${ins.add(v)})`, values: ins.values });
    }
  }
}

/** One record's transaction; its result's `action`. */
async function writeRecord(source: SqlSource, record: SqlRecord, context: ProtocolErrorContext, signal: AbortSignal): Promise<string> {
  const mapping = source.mapping(record.objectType, context);
  const table = mapping.table;
  if (table === undefined) throw new ProtocolError('OPERATION_NOT_ALLOWED', `object type ${mapping.name} is mapped to a query: read-only`, context);
  const driver = await source.driver();
  const index = await source.index(mapping, signal);
  const { dialect } = driver;
  const a = assignmentsOf(index, record, dialect, context);
  const statement = mainStatement(dialect, table, mapping.key, record, a);
  const children = record.op === 'delete' ? index.children().map(([, c]) => [c, []] as Assignments['children'][number]) : a.children;
  return withSession(driver, signal, async (session) => {
    await session.run({ text: 'BEGIN', values: [] });
    try {
      let action: string;
      if (record.op === 'delete') await replaceChildren(session, dialect, record.key, children);
      const r = statement === undefined ? undefined : await session.run(statement);
      if ((record.op === 'update' || record.op === 'delete') && r?.affectedRows === 0) throw new ProtocolError('NOT_FOUND', `no ${mapping.name} with key ${JSON.stringify(String(record.key))}`, context);
      if (record.op === 'upsert') {
        action = dialect.name === 'postgres' ? (r?.rows[0]?.['inserted'] === true ? 'inserted' : 'updated') : r?.affectedRows === 1 ? 'inserted' : r?.affectedRows === 2 ? 'updated' : 'unchanged';
      } else action = record.op === 'insert' ? 'inserted' : record.op === 'update' ? 'updated' : 'deleted';
      if (record.op !== 'delete') await replaceChildren(session, dialect, record.key, children);
      await session.run({ text: 'COMMIT', values: [] });
      return action;
    } catch (err) {
      await session.run({ text: 'ROLLBACK', values: [] }).catch(() => undefined);
      throw err;
    }
  });
}

export function sqlWriter(source: SqlSource): RecordWriter<SqlRecord> {
  const writes = new AbortController();
  return {
    decode: (input, context) => decodeRecord(input, context),
    checkScope: (record, context) => {
      const mapping = source.mapping(record.objectType, context);
      if (mapping.table === undefined) throw new ProtocolError('OPERATION_NOT_ALLOWED', `object type ${mapping.name} is mapped to a query: read-only`, context);
    },
    write: async (record, _index, ctx) => ({ action: await writeRecord(source, record, { requestId: ctx.requestId, dataSource: ctx.dataSource }, writes.signal) }),
    toProtocolError: (err, context) => source.errors.write(err, context),
    close: () => {
      writes.abort();
      return Promise.resolve();
    },
  };
}

export function exportRecords(source: SqlSource, records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
  return exportLoop(records$, () => sqlWriter(source), ctx);
}
