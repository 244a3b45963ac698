/**
 * The `jsonl` adapter: a data source over one JSON-lines file. Nothing is kept in memory
 * between requests — every operation streams the file (file-records.ts), so an edit of the file
 * is seen by the next request, and memory per request is one line (search: one page).
 *
 * Entries, in `get` and `search` answers: `{ "key": "<the key attribute's value, as a string>",
 * "attributes": { …the record as it is in the file, the key attribute included… } }`.
 */
import { stat } from 'node:fs/promises';
import {
  fromCancellable,
  pageSourceFromAsyncIterator,
  ProtocolError,
  testResult,
  type DataSourceAdapter,
  type Operation,
  type OperationContext,
  type PageSource,
  type ProtocolErrorContext,
} from 'datasync-agent/adapter-kit';
import { AttributeSurvey } from './attributes.js';
import { settingsOf, type JsonlConfig } from './config.js';
import { toProtocolError } from './errors.js';
import { exportRecords } from './export-writer.js';
import { readRecords, type FileRecord } from './file-records.js';
import { getParams, matches, searchParams, type Filter } from './params.js';

/** An entry as `get` and `search` answer it. */
export interface JsonlEntry {
  readonly key: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

const READS: readonly Operation[] = ['test', 'attributes', 'get', 'search'];

const entryOf = (record: FileRecord): JsonlEntry => ({ key: record.key, attributes: record.attributes });

const contextOf = (ctx: OperationContext): ProtocolErrorContext => ({ requestId: ctx.requestId, dataSource: ctx.dataSource });

export function createJsonlAdapter(name: string, config: JsonlConfig, log: OperationContext['log']): DataSourceAdapter {
  const settings = settingsOf(config);
  const { file, key } = settings;
  log.debug({ file, key, pageSize: settings.pageSize, writable: settings.writable }, `jsonl data source ${name} ready`);

  /** Every record, read to the end unless `signal` aborts. */
  const scan = async (signal: AbortSignal, context: ProtocolErrorContext, each: (record: FileRecord) => void): Promise<void> => {
    for await (const record of readRecords(file, key, context)) {
      if (signal.aborted) return;
      each(record);
    }
  };

  /** The records matching a filter, as entries (a generator: its `finally` closes the file). */
  async function* matching(filter: Filter | undefined, context: ProtocolErrorContext): AsyncGenerator<JsonlEntry> {
    for await (const record of readRecords(file, key, context)) {
      if (matches(record.attributes, filter)) yield entryOf(record);
    }
  }

  return {
    type: 'jsonl',
    supports: settings.writable ? [...READS, 'export'] : READS,

    // Reads the whole file: a readable file of well-formed records answers ok.
    test: (ctx) =>
      fromCancellable(async (signal) => {
        const startedAt = performance.now();
        const context = contextOf(ctx);
        const bytes = await stat(file).then(
          (s) => s.size,
          (err: unknown) => {
            throw toProtocolError(err, context);
          },
        );
        let records = 0;
        await scan(signal, context, () => (records += 1));
        return testResult({ target: file, startedAt, records, bytes, writable: settings.writable });
      }),

    attributes: (ctx) =>
      fromCancellable(async (signal) => {
        const survey = new AttributeSurvey();
        await scan(signal, contextOf(ctx), (record) => survey.add(record));
        return { derived: true, attributes: survey.result() };
      }),

    // Reads until the first record with the key: the loop's return closes the file.
    get: (params, ctx) =>
      fromCancellable(async (signal) => {
        const context = contextOf(ctx);
        const p = getParams(params, context);
        for await (const record of readRecords(file, key, context)) {
          if (signal.aborted) break;
          if (record.key === p.key) return entryOf(record);
        }
        throw new ProtocolError('NOT_FOUND', `no record with ${key} ${JSON.stringify(p.key)} in ${name}`, context);
      }),

    // Pulled page by page: the file is read only as far as the pages the caller took.
    search: (params, ctx): PageSource<JsonlEntry> => {
      const context = contextOf(ctx);
      const p = searchParams(params, context);
      return pageSourceFromAsyncIterator(() => matching(p.filter, context), { pageSize: settings.pageSize });
    },

    export: (records$, ctx) => exportRecords(settings, records$, ctx),

    close: () => Promise.resolve(),
  };
}
