/**
 * `isolation: worker`: a data source whose adapter runs in a worker thread of its own. This is
 * the agent's side — a `DataSourceAdapter` that forwards every operation to the worker
 * (adapter-worker.ts) and turns its answers back into Observables — so the pipeline serves it
 * like any other source.
 *
 * Why: a synchronous throw outside any chain (in a timer, an event handler) or an unhandled
 * rejection ends the thread it happens in. In the agent's thread that is the whole agent
 * (process-guard.ts); in a worker it is that worker only. The requests it was serving fail with
 * `INTERNAL` (retryable, "worker restarted"), the source's health records a `worker_crash`, and
 * the next request starts a new worker — at once after a first crash, then with a backoff of
 * 1 s doubling to 30 s while it keeps crashing without answering anything.
 *
 * The worker imports the module the data source's type was registered from (a plugin's, or a
 * built-in's definition module — from `dist/` when the agent runs from its TypeScript sources)
 * and builds the adapter from the definition it exports. Search pages cross as `JsonBatch`
 * bytes (the worker serialises each item once, its memory transferred), so the pipeline sends
 * them exactly as it would the in-thread adapter's. `supports` is the configured allow-list:
 * the worker answers `OPERATION_NOT_ALLOWED` for what its adapter does not implement.
 * Exports with an idempotency key are refused: the journal lives in the agent's thread.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Observable, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { BatchPageSource, DataSourceAdapter, ExportResult, OperationContext } from '../adapter-kit/adapter.js';
import { JsonBatch } from '../adapter-kit/json-batch.js';
import { dataSourceOrigin } from '../adapter-kit/registry.js';
import type { DataSourceConfig } from '../config/data-source-registry.js';
import { ERROR_CODES, type ErrorCode } from '../protocol/error-codes.js';
import { isProtocolError, ProtocolError, type Operation } from '../protocol/index.js';
import { markRecorded } from './guarded-adapter.js';

// ---------------------------------------------------------------------------------------------
// Messages (both ends are this package; the worker checks what it gets).

export interface AdapterWorkerData {
  readonly dataSource: string;
  readonly type: string;
  /** The module (file: URL) exporting the type's definition. */
  readonly module: string;
  readonly config: DataSourceConfig;
  /** pino level of the agent's logger: records below it are not even sent. */
  readonly logLevel: string;
}

export type SingleOp = 'test' | 'schema' | 'attributes' | 'resourceTypes' | 'get';

/** agent → worker */
export type ToAdapterWorker =
  | { readonly type: 'call'; readonly id: number; readonly op: SingleOp; readonly params: Record<string, unknown>; readonly requestId: string }
  | { readonly type: 'open'; readonly id: number; readonly params: Record<string, unknown>; readonly requestId: string }
  | { readonly type: 'pull'; readonly id: number }
  | { readonly type: 'export'; readonly id: number; readonly requestId: string }
  | { readonly type: 'record'; readonly id: number; readonly record: unknown }
  | { readonly type: 'records-end'; readonly id: number }
  /** Unsubscribed (a single op or an export) or closed (a search). */
  | { readonly type: 'cancel'; readonly id: number }
  /** Close the adapter, then exit. */
  | { readonly type: 'shutdown' };

/** A coded error as it crosses threads. */
export interface WorkerError {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;
}

/** worker → agent */
export type FromAdapterWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'value'; readonly id: number; readonly value: unknown }
  | { readonly type: 'page'; readonly id: number; readonly bytes: Uint8Array; readonly ends: Uint32Array; readonly last: boolean; readonly truncated: boolean; readonly total?: number }
  | { readonly type: 'result'; readonly id: number; readonly result: ExportResult }
  | { readonly type: 'complete'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly error: WorkerError }
  | { readonly type: 'closed' }
  | { readonly type: 'log'; readonly line: string };

export function toWorkerError(err: unknown): WorkerError {
  if (isProtocolError(err) && Object.hasOwn(ERROR_CODES, err.code)) {
    const details = err.context?.details;
    return { code: err.code, message: String(err.message), retryable: err.retryable, ...(details === undefined ? {} : { details }) };
  }
  return { code: 'INTERNAL', message: 'internal error in the data source worker', retryable: false };
}

function fromWorkerError(e: WorkerError, dataSource: string, requestId: string): ProtocolError {
  const code = (Object.hasOwn(ERROR_CODES, e.code) ? e.code : 'INTERNAL') as ErrorCode;
  return new ProtocolError(code, e.message, { dataSource, requestId, ...(e.details === undefined ? {} : { details: e.details }) }, { retryable: e.retryable });
}

// ---------------------------------------------------------------------------------------------
// Where the worker's code is.

const WORKER_FILE = 'adapter-worker.js';

/** The package root above `file` (the directory holding package.json), if any. */
function packageRoot(file: string): string | undefined {
  for (let dir = dirname(file); ; ) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * A module as the worker can import it: itself when it is JavaScript; for a TypeScript source of
 * this package (the agent run from its sources, as in tests) the build of it under `dist/`.
 */
export function runnableModule(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const file = fileURLToPath(url);
  if (/\.[cm]?js$/.test(file) && existsSync(file)) return url;
  const root = packageRoot(file);
  if (root === undefined) return undefined;
  const built = join(root, 'dist', relative(root, file)).replace(/\.[cm]?ts$/, '.js');
  return existsSync(built) ? pathToFileURL(built).href : undefined;
}

/** The worker script: next to this module in the build, or the built one when running the sources. */
export function adapterWorkerScript(): URL | undefined {
  const found = runnableModule(new URL(`./${WORKER_FILE}`, import.meta.url).href) ?? runnableModule(new URL('./adapter-worker.ts', import.meta.url).href);
  return found === undefined ? undefined : new URL(found);
}

// ---------------------------------------------------------------------------------------------

const LEVELS: Readonly<Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const CLOSE_GRACE_MS = 2000;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/** Delay before starting a worker after `crashes` crashes in a row without an answer in between. */
export function restartDelay(crashes: number): number {
  return crashes <= 1 ? 0 : Math.min(FIRST_BACKOFF_MS * 2 ** (crashes - 2), MAX_BACKOFF_MS);
}

export interface WorkerAdapterHooks {
  /** The worker died (recorded as the source's `worker_crash`). */
  crashed(err: unknown): void;
  /** A worker was started again after one died. */
  restarted(): void;
}

/** One operation in flight on the worker. */
interface Call {
  readonly requestId: string;
  onMessage(m: FromAdapterWorker): void;
  /** The worker died: fail with `err`. */
  onCrash(err: ProtocolError): void;
}

export class WorkerAdapter implements DataSourceAdapter {
  readonly type: string;
  readonly supports: readonly Operation[];
  private readonly script: URL;
  private readonly module: string;
  private worker: Worker | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private readonly queue: ToAdapterWorker[] = [];
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private starts = 0;
  /** Crashes since the last answer. */
  private crashes = 0;
  private lastError: unknown;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly name: string,
    private readonly config: DataSourceConfig,
    private readonly log: Logger,
    private readonly hooks: WorkerAdapterHooks,
  ) {
    this.type = config.type;
    this.supports = [...config.operations];
    const script = adapterWorkerScript();
    if (script === undefined) throw new Error(`data source ${name}: isolation: worker needs the built worker (${WORKER_FILE}): run \`npm run build\``);
    const origin = dataSourceOrigin(config.type);
    const module = origin === undefined ? undefined : runnableModule(origin);
    if (module === undefined) {
      throw new Error(
        `data source ${name}: isolation: worker needs the module of type '${config.type}' as JavaScript the worker can import (registered from ${origin ?? 'nowhere'}); list it under plugins: or register it with registerDataSource(definition, import.meta.url)`,
      );
    }
    this.script = script;
    this.module = module;
  }

  /** Workers started so far (the first one included). */
  get workerStarts(): number {
    return this.starts;
  }

  test(ctx: OperationContext): Observable<unknown> {
    return this.single('test', {}, ctx);
  }
  schema(ctx: OperationContext): Observable<unknown> {
    return this.single('schema', {}, ctx);
  }
  attributes(ctx: OperationContext): Observable<unknown> {
    return this.single('attributes', {}, ctx);
  }
  resourceTypes(ctx: OperationContext): Observable<unknown> {
    return this.single('resourceTypes', {}, ctx);
  }
  get(params: Record<string, unknown>, ctx: OperationContext): Observable<unknown> {
    return this.single('get', params, ctx);
  }

  private single(op: SingleOp, params: Record<string, unknown>, ctx: OperationContext): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      const id = this.nextId++;
      this.calls.set(id, {
        requestId: ctx.requestId,
        onMessage: (m) => {
          if (m.type === 'value') {
            this.answered(id);
            subscriber.next(m.value);
            subscriber.complete();
          } else if (m.type === 'error') {
            this.calls.delete(id);
            subscriber.error(fromWorkerError(m.error, this.name, ctx.requestId));
          }
        },
        onCrash: (err) => subscriber.error(err),
      });
      this.send({ type: 'call', id, op, params, requestId: ctx.requestId });
      return () => this.cancel(id);
    });
  }

  search(params: Record<string, unknown>, ctx: OperationContext): BatchPageSource {
    const id = this.nextId++;
    type PageMessage = Extract<FromAdapterWorker, { type: 'page' }>;
    let waiting: { next: (m: PageMessage) => void; fail: (err: ProtocolError) => void } | undefined;
    let failed: ProtocolError | undefined;
    let closed = false;
    this.calls.set(id, {
      requestId: ctx.requestId,
      onMessage: (m) => {
        const w = waiting;
        waiting = undefined;
        if (m.type === 'page') {
          this.crashes = 0;
          if (m.last) this.calls.delete(id);
          w?.next(m);
        } else if (m.type === 'error') {
          this.calls.delete(id);
          failed = fromWorkerError(m.error, this.name, ctx.requestId);
          w?.fail(failed);
        }
      },
      onCrash: (err) => {
        failed = err;
        const w = waiting;
        waiting = undefined;
        w?.fail(err);
      },
    });
    this.send({ type: 'open', id, params, requestId: ctx.requestId });
    return {
      itemFormat: 'json-batch',
      pull: () =>
        new Observable((subscriber) => {
          if (failed !== undefined) return subscriber.error(failed);
          if (closed) return subscriber.error(new ProtocolError('CANCELLED', 'search was closed'));
          const mine: typeof waiting = {
            next: (m) => {
              const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
              subscriber.next({ items: new JsonBatch(bytes, m.ends), last: m.last, ...(m.truncated ? { truncated: true } : {}), ...(m.total === undefined ? {} : { total: m.total }) });
              subscriber.complete();
            },
            fail: (err) => subscriber.error(err),
          };
          waiting = mine;
          this.send({ type: 'pull', id });
          return () => {
            if (waiting === mine) waiting = undefined;
          };
        }),
      close: () => {
        if (closed) return;
        closed = true;
        this.cancel(id);
      },
    };
  }

  export(records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
    return new Observable<ExportResult>((subscriber) => {
      if (ctx.exportJournal !== undefined) {
        subscriber.error(
          new ProtocolError('OPERATION_NOT_ALLOWED', `data source ${this.name} runs with isolation: worker, which keeps no export journal: send the export without an idempotency key`),
        );
        return undefined;
      }
      const id = this.nextId++;
      this.calls.set(id, {
        requestId: ctx.requestId,
        onMessage: (m) => {
          if (m.type === 'result') {
            this.crashes = 0;
            subscriber.next(m.result);
          } else if (m.type === 'complete') {
            this.calls.delete(id);
            subscriber.complete();
          } else if (m.type === 'error') {
            this.calls.delete(id);
            subscriber.error(fromWorkerError(m.error, this.name, ctx.requestId));
          }
        },
        onCrash: (err) => subscriber.error(err),
      });
      this.send({ type: 'export', id, requestId: ctx.requestId });
      const records: Subscription = records$.subscribe({
        next: (record) => this.send({ type: 'record', id, record }),
        complete: () => this.send({ type: 'records-end', id }),
        error: (err: unknown) => {
          this.cancel(id);
          subscriber.error(err);
        },
      });
      return () => {
        records.unsubscribe();
        this.cancel(id);
      };
    });
  }

  /** Asks the worker to close its adapter and exit; terminates it after a grace period. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.startTimer);
    this.startTimer = undefined;
    this.queue.length = 0;
    const worker = this.worker;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'shutdown' } satisfies ToAdapterWorker);
    const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  /** A successful answer: the worker works, a later crash starts without backoff. */
  private answered(id: number): void {
    this.calls.delete(id);
    this.crashes = 0;
  }

  private cancel(id: number): void {
    if (!this.calls.delete(id)) return;
    // A worker that died took the operation with it: nothing to cancel.
    if (this.worker !== undefined) this.worker.postMessage({ type: 'cancel', id } satisfies ToAdapterWorker);
    else this.dropQueued(id);
  }

  /** Forgets what was queued for an operation cancelled before its worker started. */
  private dropQueued(id: number): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const m = this.queue[i] as ToAdapterWorker;
      if ('id' in m && m.id === id) this.queue.splice(i, 1);
    }
  }

  private send(message: ToAdapterWorker): void {
    if (this.closing !== undefined) {
      const call = 'id' in message ? this.calls.get(message.id) : undefined;
      if (call !== undefined) {
        this.calls.delete((message as { id: number }).id);
        call.onCrash(new ProtocolError('CANCELLED', `data source ${this.name} is closed`, { dataSource: this.name, requestId: call.requestId }, { retryable: true }));
      }
      return;
    }
    if (this.worker !== undefined) {
      this.worker.postMessage(message);
      return;
    }
    this.queue.push(message);
    this.startSoon();
  }

  private startSoon(): void {
    if (this.startTimer !== undefined) return;
    const delay = restartDelay(this.crashes);
    if (delay === 0) return this.spawn();
    this.log.warn({ delayMs: delay, crashes: this.crashes }, 'data source worker keeps crashing: waiting before starting it again');
    this.startTimer = setTimeout(() => {
      this.startTimer = undefined;
      this.spawn();
    }, delay);
  }

  private spawn(): void {
    const data: AdapterWorkerData = { dataSource: this.name, type: this.type, module: this.module, config: this.config, logLevel: this.log.level };
    const worker = new Worker(this.script, { workerData: data });
    // Requests in flight hold the process open; an idle worker does not.
    worker.unref();
    this.worker = worker;
    this.lastError = undefined;
    this.starts += 1;
    if (this.starts > 1) {
      this.hooks.restarted();
      this.log.warn({ starts: this.starts }, 'data source worker restarted');
    } else {
      this.log.debug('data source worker started');
    }
    worker.on('message', (m: FromAdapterWorker) => this.onMessage(m));
    worker.on('error', (err) => (this.lastError = err));
    worker.on('exit', (code) => this.onExit(worker, code));
    for (const m of this.queue.splice(0)) worker.postMessage(m);
  }

  private onMessage(m: FromAdapterWorker): void {
    if (m.type === 'log') return this.relayLog(m.line);
    if (m.type === 'ready' || m.type === 'closed') return;
    this.calls.get(m.id)?.onMessage(m);
  }

  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    if (this.closing !== undefined) return;
    const err = this.lastError ?? new Error(`data source worker exited with code ${code}`);
    this.crashes += 1;
    this.hooks.crashed(err);
    const failed = [...this.calls.entries()];
    this.calls.clear();
    this.log.error({ err, requestsFailed: failed.length }, 'data source worker died: its requests failed (retryable); a new worker starts for the next request');
    for (const [, call] of failed) {
      const restarted = new ProtocolError('INTERNAL', `data source ${this.name} failed: worker restarted (retry the request)`, { dataSource: this.name, requestId: call.requestId }, { retryable: true });
      call.onCrash(markRecorded(restarted));
    }
    // Messages queued meanwhile (none normally: sends go to the live worker) start the next one.
    if (this.queue.length > 0) this.startSoon();
  }

  /** A worker's log record, logged by the data source's logger. */
  private relayLog(line: string): void {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof record !== 'object' || record === null) return;
    const { level, msg, ...fields } = record as Record<string, unknown>;
    const method = typeof level === 'number' ? LEVELS[level] : undefined;
    if (method === undefined) return;
    this.log[method]({ ...fields, thread: 'worker' }, typeof msg === 'string' ? msg : '');
  }
}
