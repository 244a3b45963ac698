/**
 * The worker thread of a data source with `isolation: worker` (worker-adapter.ts is the agent's
 * side). It imports the module the source's type was registered from, finds the definition of
 * that type among its exports (by brand, like plugin loading), builds the adapter and serves
 * the agent's messages with it — guarded like in the agent's thread (guarded-adapter.ts), so an
 * adapter's throw or rejected chain is a coded error of that request.
 *
 * What the guard cannot catch — a throw in a timer, an unhandled rejection — ends this thread
 * (Node's default in a worker), and only this thread: the agent fails the requests it was
 * serving and starts a new worker for the next one. A message it does not understand is a bug of
 * this package and ends it the same way.
 *
 * Search pages go back as `JsonBatch` parts (each item's JSON serialised here, once; the bytes
 * transferred, not copied); records of an export come in one at a time as the agent hands them
 * over and results go back in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino, type Logger } from 'pino';
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import type { DataSourceAdapter, OperationContext, SearchSource } from '../adapter-kit/adapter.js';
import { isBatchSource } from '../adapter-kit/adapter.js';
import { JsonBatch } from '../adapter-kit/json-batch.js';
import { isDataSourceDefinition, type DataSourceDefinition } from '../adapter-kit/define.js';
import { ProtocolError } from '../protocol/index.js';
import { guardAdapter } from './guarded-adapter.js';
import { toWorkerError, type AdapterWorkerData, type FromAdapterWorker, type ToAdapterWorker } from './worker-adapter.js';

if (parentPort === null) throw new Error('adapter-worker.js must run as a worker thread');
const port = parentPort;
const data = workerData as AdapterWorkerData;
const post = (message: FromAdapterWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

// Records go to the agent's logger, which owns the destination and the redaction paths.
const log: Logger = pino(
  { level: data.logLevel, base: null, timestamp: false, serializers: { err: pino.stdSerializers.err } },
  { write: (line: string) => post({ type: 'log', line }) },
);

/** The definition of `type` among a module's exports (default, named, or in lists). */
function definitionIn(module: Record<string, unknown>, type: string): DataSourceDefinition | undefined {
  for (const value of Object.values(module)) {
    for (const candidate of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (isDataSourceDefinition(candidate) && candidate.type === type) return candidate;
    }
  }
  return undefined;
}

async function createAdapter(): Promise<DataSourceAdapter> {
  const module = (await import(data.module)) as Record<string, unknown>;
  const definition = definitionIn(module, data.type);
  if (definition === undefined) throw new Error(`${data.module} exports no data source definition of type '${data.type}'`);
  const adapterLog = log.child({});
  const adapter = definition.create(data.dataSource, data.config, adapterLog);
  // The agent's guard records the faults (it sees INTERNAL come back); this one catches them here.
  return guardAdapter(adapter, { dataSource: data.dataSource, hooks: { fault: () => undefined, succeeded: () => undefined }, log: adapterLog });
}

/** Records of one export, handed to the adapter's records Observable as they arrive. */
class RecordFeed {
  private readonly queued: unknown[] = [];
  private ended = false;
  private subscriber: Subscriber<unknown> | undefined;
  readonly records$ = new Observable<unknown>((subscriber) => {
    this.subscriber = subscriber;
    for (const record of this.queued.splice(0)) subscriber.next(record);
    if (this.ended) subscriber.complete();
    return () => (this.subscriber = undefined);
  });
  next(record: unknown): void {
    if (this.subscriber === undefined) this.queued.push(record);
    else this.subscriber.next(record);
  }
  end(): void {
    this.ended = true;
    this.subscriber?.complete();
  }
}

interface Operation {
  subscription?: Subscription;
  search?: SearchSource;
  feed?: RecordFeed;
}
const operations = new Map<number, Operation>();

const contextOf = (requestId: string): OperationContext => ({ requestId, dataSource: data.dataSource, log: log.child({ requestId }) });
const fail = (id: number, err: unknown): void => {
  operations.delete(id);
  const error = toWorkerError(err);
  // The cause stays in this thread: log it here (the agent logs the coded error it gets).
  if (error.code === 'INTERNAL') log.error({ err: typeof err === 'object' && err !== null && 'cause' in err ? err.cause : err }, 'data source failed unexpectedly in its worker');
  post({ type: 'error', id, error });
};
const notSupported = (adapter: DataSourceAdapter, op: string): ProtocolError =>
  new ProtocolError('OPERATION_NOT_ALLOWED', `data source ${data.dataSource} does not allow ${op}: the ${adapter.type} adapter does not implement ${op}`);

/** The JSON texts of a page's items as one batch (bytes of its own, so they can be transferred). */
function pageBatch(source: SearchSource, items: unknown): { bytes: Uint8Array; ends: Uint32Array } {
  if (isBatchSource(source)) {
    const batch = items as JsonBatch;
    return { bytes: new Uint8Array(batch.bytes), ends: new Uint32Array(batch.ends) };
  }
  const list = items as readonly unknown[];
  const texts = source.itemFormat === 'json' ? (list as readonly string[]) : list.map((item) => JSON.stringify(item) ?? 'null');
  if (texts.length === 0) return { bytes: new Uint8Array(0), ends: new Uint32Array(0) };
  const batch = JsonBatch.fromTexts([...texts]);
  return { bytes: new Uint8Array(batch.bytes), ends: new Uint32Array(batch.ends) };
}

function handle(adapter: DataSourceAdapter, m: ToAdapterWorker): void {
  switch (m.type) {
    case 'call': {
      const method = m.op === 'get' ? adapter.get?.bind(adapter, m.params) : m.op === 'test' ? adapter.test.bind(adapter) : adapter[m.op]?.bind(adapter);
      if (method === undefined || !adapter.supports.includes(m.op)) return fail(m.id, notSupported(adapter, m.op));
      const op: Operation = {};
      operations.set(m.id, op);
      op.subscription = method(contextOf(m.requestId)).subscribe({
        next: (value) => {
          if (!operations.delete(m.id)) return;
          post({ type: 'value', id: m.id, value });
          op.subscription?.unsubscribe();
        },
        error: (err: unknown) => fail(m.id, err),
      });
      return;
    }
    case 'open': {
      if (adapter.search === undefined || !adapter.supports.includes('search')) return fail(m.id, notSupported(adapter, 'search'));
      try {
        operations.set(m.id, { search: adapter.search(m.params, contextOf(m.requestId)) });
      } catch (err) {
        fail(m.id, err);
      }
      return;
    }
    case 'pull': {
      const op = operations.get(m.id);
      const source = op?.search;
      if (op === undefined || source === undefined) return fail(m.id, new ProtocolError('CANCELLED', 'search was closed'));
      const pulled$ = source.pull() as Observable<{ items: unknown; last: boolean; truncated?: boolean; total?: number }>;
      op.subscription = pulled$.subscribe({
        next: (page) => {
          const { bytes, ends } = pageBatch(source, page.items);
          post(
            { type: 'page', id: m.id, bytes, ends, last: page.last, truncated: page.truncated === true, ...(page.total === undefined ? {} : { total: page.total }) },
            [bytes.buffer as ArrayBuffer, ends.buffer as ArrayBuffer],
          );
          if (page.last) {
            operations.delete(m.id);
            source.close();
          }
        },
        error: (err: unknown) => {
          source.close();
          fail(m.id, err);
        },
      });
      return;
    }
    case 'export': {
      if (adapter.export === undefined || !adapter.supports.includes('export')) return fail(m.id, notSupported(adapter, 'export'));
      const feed = new RecordFeed();
      const op: Operation = { feed };
      operations.set(m.id, op);
      op.subscription = adapter.export(feed.records$, contextOf(m.requestId)).subscribe({
        next: (result) => post({ type: 'result', id: m.id, result }),
        error: (err: unknown) => fail(m.id, err),
        complete: () => {
          operations.delete(m.id);
          post({ type: 'complete', id: m.id });
        },
      });
      return;
    }
    case 'record':
      operations.get(m.id)?.feed?.next(m.record);
      return;
    case 'records-end':
      operations.get(m.id)?.feed?.end();
      return;
    case 'cancel': {
      const op = operations.get(m.id);
      operations.delete(m.id);
      op?.subscription?.unsubscribe();
      op?.search?.close();
      return;
    }
    case 'shutdown': {
      for (const [id, op] of [...operations]) {
        operations.delete(id);
        op.subscription?.unsubscribe();
        op.search?.close();
      }
      void adapter.close().finally(() => {
        post({ type: 'closed' });
        process.exit(0);
      });
      return;
    }
  }
}

// Messages that arrive while the module loads wait for the adapter.
const early: ToAdapterWorker[] = [];
let adapter: DataSourceAdapter | undefined;
port.on('message', (m: ToAdapterWorker) => {
  if (typeof m !== 'object' || m === null || typeof m.type !== 'string') throw new Error(`adapter worker: not a message: ${JSON.stringify(m)}`);
  if (adapter === undefined) early.push(m);
  else handle(adapter, m);
});

// A module that cannot be loaded or a definition that cannot create its adapter: the thread
// ends with the error, and the agent fails the requests waiting (and backs off restarting).
adapter = await createAdapter();
post({ type: 'ready' });
for (const m of early.splice(0)) handle(adapter, m);
