/**
 * A tiny in-memory data source (`type: contract-memory`) for testing the contract suite itself:
 * N numbered items served in pages, with its page reads counted as its upstream requests. With
 * `leak: true` its search is broken the way a careless adapter is: a background reader reads
 * page after page ahead of the pulls and `close()` does not stop it, so a cancelled or dropped
 * search goes on reading its upstream. Everything else is correct.
 */
import { concatMap, defer, filter, first, map, of, Subject, throwError, type Observable } from 'rxjs';
import {
  attributeList,
  Bool,
  defineDataSource,
  NonEmptyString,
  PositiveInt,
  ProtocolError,
  strictObject,
  t,
  testResult,
  type DataSourceAdapter,
  type DataSourceConfigBase,
  type ExportResult,
  type Page,
  type PageSource,
} from '../../../src/adapter-kit/index.js';

export interface MemorySourceConfig extends DataSourceConfigBase {
  readonly type: 'contract-memory';
  readonly items: number;
  readonly pageSize: number;
  readonly password: string;
  readonly reachable?: boolean;
  readonly leak?: boolean;
}

/** The password the "upstream" accepts. */
export const MEMORY_PASSWORD = 'memory-secret';

let pageReads = 0;
/** Pages read from the "upstream" by every contract-memory source so far. */
export const memoryPageReads = (): number => pageReads;

interface Entry {
  readonly key: string;
  readonly attributes: { readonly name: string; readonly index: number };
}

const entry = (i: number): Entry => ({ key: `i${i}`, attributes: { name: `item ${i}`, index: i } });

/** One page read from the "upstream": counted. */
function readPage(config: MemorySourceConfig, page: number): Page<Entry> {
  pageReads += 1;
  const start = page * config.pageSize;
  const end = Math.min(start + config.pageSize, config.items);
  return { items: Array.from({ length: Math.max(0, end - start) }, (_, k) => entry(start + k)), last: end >= config.items };
}

/** Reads one page per pull, and no more; close ends it. */
function soundPages(config: MemorySourceConfig): PageSource<Entry> {
  let page = 0;
  let closed = false;
  return {
    pull: () => defer(() => (closed ? of({ items: [], last: true }) : of(readPage(config, page++)))),
    close: () => void (closed = true),
  };
}

/** Reads every page in the background from the first pull on, one per turn of the event loop; close does not stop it. */
function leakyPages(config: MemorySourceConfig): PageSource<Entry> {
  const read: Array<Page<Entry>> = [];
  const arrived = new Subject<void>();
  let started = false;
  let taken = 0;
  const readAhead = (page: number): void => {
    const p = readPage(config, page);
    read.push(p);
    arrived.next();
    if (!p.last) setImmediate(() => readAhead(page + 1));
  };
  const next = (): Observable<Page<Entry>> =>
    defer(() => {
      if (!started) {
        started = true;
        setImmediate(() => readAhead(0));
      }
      const index = taken++;
      const now = read[index];
      return now !== undefined
        ? of(now)
        : arrived.pipe(
            map(() => read[index]),
            filter((p): p is Page<Entry> => p !== undefined),
            first(),
          );
    });
  return { pull: next, close: () => undefined };
}

function unavailable(config: MemorySourceConfig): ProtocolError | undefined {
  if (config.reachable === false) return new ProtocolError('UPSTREAM_UNAVAILABLE', 'the memory upstream is switched off');
  if (config.password !== MEMORY_PASSWORD) return new ProtocolError('UPSTREAM_AUTH_FAILED', 'the memory upstream refused the password');
  return undefined;
}

function createMemoryAdapter(config: MemorySourceConfig): DataSourceAdapter {
  const guard = <T>(answer: () => T): Observable<T> =>
    defer(() => {
      const refused = unavailable(config);
      return refused ? throwError(() => refused) : of(answer());
    });
  return {
    type: 'contract-memory',
    supports: ['test', 'attributes', 'get', 'search', 'export'],
    test: () => guard(() => testResult({ target: 'memory', startedAt: performance.now(), items: config.items })),
    attributes: () =>
      guard(() =>
        attributeList([
          { name: 'index', singleValue: true, syntax: 'integer', desc: 'the position of the item' },
          { name: 'name', singleValue: true, syntax: 'string', desc: 'the name of the item' },
        ]),
      ),
    get: (params) =>
      guard(() => {
        const i = Number(params['index']);
        if (!Number.isInteger(i) || i < 0 || i >= config.items) throw new ProtocolError('NOT_FOUND', `no item ${String(params['index'])}`);
        return entry(i);
      }),
    search: () => (config.leak === true ? leakyPages(config) : soundPages(config)),
    export: (records$): Observable<ExportResult> => {
      let index = 0;
      return records$.pipe(
        concatMap((record): Observable<ExportResult> => {
          const i = index++;
          const refused = (record as { refuse?: unknown }).refuse === true;
          return of(refused ? { index: i, ok: false, code: 'CONSTRAINT_VIOLATION', message: `record ${i} refused`, retryable: false } : { index: i, ok: true });
        }),
      );
    },
    close: () => Promise.resolve(),
  };
}

export const memorySource = defineDataSource<MemorySourceConfig>({
  type: 'contract-memory',
  config: strictObject(
    { type: t.literal('contract-memory'), items: PositiveInt, pageSize: PositiveInt, password: NonEmptyString },
    { reachable: Bool, leak: Bool },
    { name: 'contract-memory data source mapping' },
  ),
  secretKeys: ['password'],
  create: (_name, config) => createMemoryAdapter(config),
});
