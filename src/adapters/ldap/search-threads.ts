/**
 * `search` in worker threads: the main thread's side. Most of a search's CPU is in reading
 * BER and writing entry JSON (the transcoder); a few worker threads per data source
 * (`searchWorkers`) do that while the main thread only frames and sends the `JsonBatch` pages
 * they hand back (memory transferred, not copied), so a relayed search is not bound by one core.
 *
 * The contract does not move: a stream asks its worker for the next page only from
 * `pull()` — that is, only when the pipeline holds credit to send it — and the worker makes at
 * most one page request per pull. `close()` makes the worker abandon the search and close its
 * connection. The main thread still reserves each stream's slot in the data source's pool, so
 * `maxStreams` (BUSY) counts threaded and in-thread streams alike.
 *
 * Workers start on the first search (~50 ms), are reused by later streams (the least busy one,
 * a new one while fewer than `size` run), serve several streams at once, and exit after
 * `idleMs` without streams (a worker's heap is tens of MB). A worker that dies
 * fails every stream it served with INTERNAL (retryable: a new stream gets a new worker); one that
 * dies before it is ready disables the threads, and searches run in-thread from then on.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { concatMap, defer, from, of, throwError, type Observable } from 'rxjs';
import type { BatchPageSource, OperationContext } from '../../adapter-kit/adapter.js';
import { JsonBatch } from '../../adapter-kit/json-batch.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { ClientPoolOptions, LdapClientPool, Lease } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { toProtocolError } from '../directory/errors.js';
import { fromErrorData, fromWorker, type FromWorker, type SearchWorkerData, type ToWorker } from './search-messages.js';
import { pagedSearch, planOrError, type BatchPage, type PagedSearch, type SearchDeps, type SearchPlan } from './search.js';

const WORKER_FILE = 'search-worker.js';

/**
 * The worker script: next to this module when running the build; when running the TypeScript
 * sources (vitest cannot start a `.ts` worker), the built one under the package's `dist/`.
 * `undefined` when neither exists.
 */
export function searchWorkerScript(): URL | undefined {
  const sibling = new URL(`./${WORKER_FILE}`, import.meta.url);
  if (existsSync(sibling)) return sibling;
  for (let dir = new URL('.', import.meta.url); ; ) {
    if (existsSync(new URL('package.json', dir))) {
      const built = new URL(`dist/src/adapters/ldap/${WORKER_FILE}`, dir);
      return existsSync(built) ? built : undefined;
    }
    const up = new URL('..', dir);
    if (up.href === dir.href) return undefined;
    dir = up;
  }
}

export interface SearchThreadsOptions {
  /** Most worker threads. Integer >= 1. */
  readonly size: number;
  /** Options of each worker's connection pool (its `maxStreams` is not enforced there: the main thread's pool does). */
  readonly pool?: ClientPoolOptions;
  /** The worker script. Default: {@link searchWorkerScript}. */
  readonly script?: URL;
  /** How long `close()` lets workers unbind before terminating them (ms). Default 2000. */
  readonly closeGraceMs?: number;
  /**
   * A worker without streams for this long (ms) unbinds and exits, giving its memory back; the
   * next search starts a new one. Default 60 000.
   */
  readonly idleMs?: number;
}

const DEFAULT_CLOSE_GRACE_MS = 2000;
const DEFAULT_IDLE_MS = 60_000;

/** One page as a worker sends it. */
interface WorkerPage {
  readonly batch: JsonBatch;
  readonly last: boolean;
  readonly truncated: boolean;
}

/** A search stream on a worker. */
interface WorkerStream {
  /** Asks the worker for one page. At most one at a time. */
  pull(): Promise<WorkerPage>;
  /** Abandons the search (idempotent; nothing to do after the last page or a failure). */
  close(): void;
}

interface StreamEnd {
  page(p: WorkerPage): void;
  fail(e: ProtocolError): void;
  readonly log: Logger;
}

/** Failures of a worker that died before it was ready (the stream may run in-thread instead). */
const startFailures = new WeakSet<ProtocolError>();

/** pino's numeric levels → method names. */
const LEVELS: Readonly<Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** One worker thread and the streams it serves. */
class Thread {
  readonly worker: Worker;
  readonly streams = new Map<number, StreamEnd>();
  /** LDAP connections the worker reports open. */
  openConnections = 0;
  ready = false;
  exited = false;
  /** Asked to exit (idle or closing): takes no new streams. */
  stopping = false;
  private crash: unknown;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    script: URL,
    data: SearchWorkerData,
    private readonly log: Logger,
    private readonly onExit: (t: Thread, error: ProtocolError) => void,
    private readonly closing: () => boolean,
    private readonly idleMs: number,
  ) {
    this.worker = new Worker(script, { workerData: data, name: `ldap-search ${data.dataSource}` });
    this.worker.unref(); // only streams keep the process alive (see open/drop)
    this.worker.on('message', (raw: unknown) => this.receive(raw));
    this.worker.on('error', (err) => {
      this.crash = err;
      this.log.error({ err }, 'LDAP search worker thread failed');
    });
    this.worker.on('messageerror', (err) => {
      this.crash = err;
      void this.worker.terminate();
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      clearTimeout(this.idleTimer);
      this.openConnections = 0; // a thread's sockets close with it
      const why = this.crash instanceof Error ? `: ${this.crash.message}` : '';
      const error = this.closing()
        ? new ProtocolError('UPSTREAM_UNAVAILABLE', 'LDAP data source is closing', {}, { retryable: false })
        : new ProtocolError('INTERNAL', `LDAP search worker thread ${this.ready ? 'stopped' : 'failed to start'} (exit code ${code})${why}`, {}, { retryable: true, cause: this.crash });
      if (!this.ready) startFailures.add(error);
      for (const [id, end] of [...this.streams]) {
        this.drop(id);
        end.fail(error);
      }
      this.onExit(this, error);
    });
  }

  private post(message: ToWorker): void {
    if (!this.exited) this.worker.postMessage(message);
  }

  private receive(raw: unknown): void {
    const m: FromWorker | undefined = fromWorker(raw);
    if (m === undefined) {
      // The worker does not speak our protocol (a mismatched build?): a bug, fail its streams.
      this.crash = new Error('unexpected message from the worker');
      void this.worker.terminate();
      return;
    }
    switch (m.type) {
      case 'ready':
        this.ready = true;
        return;
      case 'page':
        this.streams.get(m.stream)?.page({ batch: JsonBatch.fromParts(m.bytes, m.ends), last: m.last, truncated: m.truncated });
        return;
      case 'error':
        this.streams.get(m.stream)?.fail(fromErrorData(m.error));
        return;
      case 'connections':
        this.openConnections = m.open;
        return;
      case 'log':
        this.relayLog(m.line);
        return;
    }
  }

  /** A worker's log record, logged by the stream's logger (or the data source's). */
  private relayLog(line: string): void {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof record !== 'object' || record === null) return;
    const { level, msg, stream, ...fields } = record as Record<string, unknown>;
    const method = typeof level === 'number' ? LEVELS[level] : undefined;
    if (method === undefined) return;
    const log = (typeof stream === 'number' ? this.streams.get(stream)?.log : undefined) ?? this.log;
    log[method](fields, typeof msg === 'string' ? msg : '');
  }

  private drop(id: number): void {
    if (!this.streams.delete(id)) return;
    if (this.streams.size > 0) return;
    this.worker.unref();
    if (this.exited || this.stopping) return;
    this.idleTimer = setTimeout(() => void this.stop(DEFAULT_CLOSE_GRACE_MS), this.idleMs);
    this.idleTimer.unref();
  }

  open(id: number, plan: SearchPlan, ctx: OperationContext): WorkerStream {
    let pending: { resolve: (p: WorkerPage) => void; reject: (e: ProtocolError) => void } | undefined;
    let failed: ProtocolError | undefined;
    let done = false;
    const settle = (): typeof pending => {
      const p = pending;
      pending = undefined;
      return p;
    };
    this.streams.set(id, {
      log: ctx.log,
      page: (p) => {
        if (p.last) {
          done = true;
          this.drop(id);
        }
        settle()?.resolve(p);
      },
      fail: (e) => {
        done = true;
        failed = e;
        this.drop(id);
        settle()?.reject(e);
      },
    });
    if (this.streams.size === 1) {
      clearTimeout(this.idleTimer);
      this.worker.ref();
    }
    this.post({ type: 'open', stream: id, plan, requestId: ctx.requestId });
    return {
      pull: () => {
        if (failed !== undefined) return Promise.reject(failed);
        if (done) return Promise.resolve({ batch: JsonBatch.EMPTY, last: true, truncated: false });
        return new Promise<WorkerPage>((resolve, reject) => {
          pending = { resolve, reject };
          this.post({ type: 'pull', stream: id });
        });
      },
      close: () => {
        if (done) return;
        done = true;
        failed = new ProtocolError('CANCELLED', 'search was closed');
        this.drop(id);
        this.post({ type: 'close', stream: id });
      },
    };
  }

  /** Asks the worker to unbind and exit; terminates it if it has not within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (this.exited) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.post({ type: 'shutdown' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([exited, late]);
    clearTimeout(timer);
    if (!this.exited) await this.worker.terminate();
  }
}

/** The search worker threads of one LDAP data source. */
export class SearchThreads {
  private readonly threads: Thread[] = [];
  private readonly data: SearchWorkerData;
  private readonly script: URL;
  private nextStream = 1;
  private closing = false;
  private broken = false;

  constructor(
    dataSource: string,
    config: LdapDataSourceConfig,
    private readonly log: Logger,
    private readonly options: SearchThreadsOptions,
  ) {
    if (!Number.isSafeInteger(options.size) || options.size < 1) {
      throw new RangeError(`search worker threads: size must be an integer >= 1, got ${String(options.size)}`);
    }
    const script = options.script ?? searchWorkerScript();
    if (script === undefined) throw new Error(`the LDAP search worker script (${WORKER_FILE}) was not found: run \`npm run build\``);
    this.script = script;
    // The worker's pool may open as many streams as the main thread lets through.
    this.data = { dataSource, config, pool: { ...options.pool, maxStreams: Number.MAX_SAFE_INTEGER }, logLevel: log.level };
  }

  /** False once a worker failed to start: searches then run in-thread. */
  get usable(): boolean {
    return !this.broken && !this.closing;
  }

  /** Worker threads running. */
  get size(): number {
    return this.threads.length;
  }

  /** LDAP connections open in the workers. */
  get openConnections(): number {
    return this.threads.reduce((n, t) => n + t.openConnections, 0);
  }

  /** The running workers (for diagnostics and tests). */
  get workers(): readonly Worker[] {
    return this.threads.map((t) => t.worker);
  }

  private thread(): Thread {
    let best: Thread | undefined;
    let running = 0;
    for (const t of this.threads) {
      if (t.stopping) continue;
      running++;
      if (best === undefined || t.streams.size < best.streams.size) best = t;
    }
    if (best !== undefined && (best.streams.size === 0 || running >= this.options.size)) return best;
    let t: Thread;
    try {
      t = new Thread(this.script, this.data, this.log, (gone, error) => this.exited(gone, error), () => this.closing, this.options.idleMs ?? DEFAULT_IDLE_MS);
    } catch (err) {
      const error = new ProtocolError('INTERNAL', `LDAP search worker thread failed to start: ${err instanceof Error ? err.message : String(err)}`, {}, { retryable: true, cause: err });
      startFailures.add(error);
      this.disable(error);
      throw error;
    }
    this.threads.push(t);
    return t;
  }

  private exited(gone: Thread, error: ProtocolError): void {
    const i = this.threads.indexOf(gone);
    if (i !== -1) this.threads.splice(i, 1);
    if (!gone.ready && !this.closing) this.disable(error);
  }

  private disable(error: ProtocolError): void {
    if (this.broken) return;
    this.broken = true;
    this.log.error({ err: error.message }, 'LDAP search worker threads cannot start: searches run in the main thread from now on');
  }

  /** A search stream on the least busy worker (starting one if allowed). */
  open(plan: SearchPlan, ctx: OperationContext): WorkerStream {
    if (this.closing) throw new ProtocolError('UPSTREAM_UNAVAILABLE', 'LDAP data source is closing', {}, { retryable: false });
    return this.thread().open(this.nextStream++, plan, ctx);
  }

  /** Stops every worker (each unbinds its connections first, within the grace period). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.threads.map((t) => t.stop(this.options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS)));
  }
}

export interface ThreadedSearchDeps extends SearchDeps {
  /** Also reserves each threaded stream's slot (`maxStreams`); connects nothing for it. */
  readonly pool: LdapClientPool;
  readonly threads: SearchThreads;
}

/**
 * A `search` whose pages are fetched and written by a worker thread: a `BatchPageSource`
 * (`itemFormat: 'json-batch'`) with the same pages, limits and errors as `searchSource`. If the
 * worker fails to start before the first page, the stream runs in this thread instead.
 */
export function threadedSearchSource(deps: ThreadedSearchDeps, params: unknown, ctx: OperationContext): BatchPageSource {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  const plan = planOrError(params, deps.config, context);
  let slot: Lease | undefined;
  let stream: WorkerStream | undefined;
  let inThread: PagedSearch | undefined;
  let delivered = false;
  let finished = false;
  let closed = false;

  const release = (): void => {
    const s = slot;
    slot = undefined;
    if (s !== undefined) void s.release();
  };

  const open = (p: SearchPlan): WorkerStream => {
    if (stream !== undefined) return stream;
    slot = deps.pool.lease();
    stream = deps.threads.open(p, ctx);
    return stream;
  };

  const nextPage = async (p: SearchPlan): Promise<BatchPage> => {
    const page = await open(p).pull();
    delivered = true;
    if (page.last) {
      finished = true;
      release();
    }
    return page.truncated ? { items: page.batch, last: page.last, truncated: true } : { items: page.batch, last: page.last };
  };

  /** The same search in this thread (a worker that cannot start). */
  const pullInThread = (p: SearchPlan): Observable<BatchPage> => {
    inThread ??= pagedSearch(deps, p, ctx);
    return inThread.pull();
  };

  const pull = (): Observable<BatchPage> =>
    defer(() => {
      if (plan instanceof ProtocolError) return throwError(() => plan);
      if (closed) return throwError(() => new ProtocolError('CANCELLED', 'search was closed', context));
      const p = plan;
      if (inThread !== undefined) return pullInThread(p);
      if (finished) return of<BatchPage>({ items: JsonBatch.EMPTY, last: true });
      return from(
        nextPage(p).catch((err: unknown) => {
          release();
          if (err instanceof ProtocolError && startFailures.has(err) && !delivered) return undefined;
          finished = true;
          const e = toProtocolError(err, context);
          // The worker's errors carry the request's context already; a crash's does not.
          throw e.context.requestId === undefined ? new ProtocolError(e.code, e.message, { ...e.context, ...context }, { retryable: e.retryable, cause: e.cause }) : e;
        }),
      ).pipe(concatMap((page) => (page === undefined ? pullInThread(p) : of(page))));
    });

  const close = (): void => {
    if (closed) return;
    closed = true;
    stream?.close();
    inThread?.close();
    release();
  };

  return { pull, close, itemFormat: 'json-batch' };
}
