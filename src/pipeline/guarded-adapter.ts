/**
 * The guard around every adapter the agent serves: a data source's bug fails that source's
 * request, never the agent. The adapter interface is a promise about behaviour (cold
 * Observables, coded errors, pages of the right shape) that a plugin may break; this wrapper
 * makes each break a coded `INTERNAL` error of the request it happened in, records the fault
 * (source-health.ts, through `GuardHooks`) and leaves the rest of the agent alone:
 *
 * - every call into the adapter runs in try/catch: a synchronous throw becomes the request's
 *   error instead of escaping into the pipeline's operators;
 * - everything it returns goes through `from()` inside `defer`: an Observable of another rxjs
 *   copy (a plugin's own, interoperating through `Symbol.observable`), a promise, or nothing
 *   at all (`TypeError` → INTERNAL); a `subscribe` that throws errors the request;
 * - an error that is not a coded protocol error (of any copy of the package), or is `INTERNAL`,
 *   is a fault: the caller gets `INTERNAL` naming the data source and the operation only (the
 *   adapter's message may hold internals or secrets; its stack is logged by the pipeline);
 * - a page source's `pull()` and `close()` are guarded the same way, pages are checked for
 *   their shape, and a throwing `close()` is logged and recorded instead of surfacing from a
 *   finaliser as an uncaught exception;
 * - all of this runs inside the data source's async context (source-context.ts), so a promise
 *   the adapter leaks is attributed to it by the process guard.
 *
 * A request that succeeds (a result, a search's last page, an export's end) is reported too:
 * it makes an unhealthy source healthy again.
 */
import { catchError, defer, from, tap, throwError, Observable, type ObservableInput } from 'rxjs';
import type { Logger } from 'pino';
import type { DataSourceAdapter, ExportResult, OperationContext, Page, SearchSource } from '../adapter-kit/adapter.js';
import { adoptProtocolError, isProtocolError, ProtocolError, type Operation } from '../protocol/index.js';
import { deliverInSource, runInSource, subscribeInSource, type SourceContext } from './source-context.js';

/** A fault of the adapter (a bug), for the source's health record. */
export interface AdapterFault {
  /** The operation or the call: `test`, `search`, `search close`, `close`, … */
  readonly where: string;
  readonly error: unknown;
  readonly requestId?: string;
}

export interface GuardHooks {
  fault(fault: AdapterFault): void;
  succeeded(): void;
}

export interface GuardOptions {
  /** The configured data-source name. */
  readonly dataSource: string;
  readonly hooks: GuardHooks;
  /** The data source's logger (faults outside a request — `close()` — are logged here). */
  readonly log: Logger;
}

/** Errors whose fault was recorded where they were made (a worker crash): not counted again. */
const recorded = new WeakSet<object>();

/** Marks an error as recorded already (e.g. as a `worker_crash`): the guard passes it on without counting it. */
export function markRecorded<E extends object>(err: E): E {
  recorded.add(err);
  return err;
}

/** Whether an error is an adapter fault (a bug) rather than a coded answer. */
export function isFault(err: unknown): boolean {
  if (isProtocolError(err)) {
    const adopted = adoptProtocolError(err);
    return adopted === undefined || adopted.code === 'INTERNAL';
  }
  // A size limit the pipeline maps to its own code (failures.ts), not a bug.
  return !(err instanceof Error && (err as { code?: unknown }).code === 'SIZE_LIMIT_EXCEEDED');
}

const isFunction = (f: unknown): f is (...args: never[]) => unknown => typeof f === 'function';

export function guardAdapter(adapter: DataSourceAdapter, options: GuardOptions): DataSourceAdapter {
  const { dataSource, hooks, log } = options;
  const type = typeof adapter.type === 'string' ? adapter.type : 'unknown';
  const supports: Operation[] = Array.isArray(adapter.supports) ? [...(adapter.supports as readonly Operation[])] : [];

  /** The error the caller gets for `err` in `where` (recording it when it is a fault). */
  const classify = (err: unknown, where: string, requestId: string | undefined): unknown => {
    if (!isFault(err)) return err;
    if (typeof err === 'object' && err !== null && recorded.has(err)) return err;
    hooks.fault({ where, error: err, ...(requestId === undefined ? {} : { requestId }) });
    if (isProtocolError(err) && adoptProtocolError(err) !== undefined) return err; // a coded INTERNAL: as the adapter said it
    const internal = new ProtocolError('INTERNAL', `data source ${dataSource} failed unexpectedly (${where})`, {
      dataSource,
      ...(requestId === undefined ? {} : { requestId }),
    }, { cause: err });
    return markRecorded(internal);
  };

  const contextOf = (ctx: OperationContext | undefined): SourceContext => (ctx === undefined ? { dataSource } : { dataSource, requestId: ctx.requestId });

  /** One call into the adapter and what it returned, guarded. */
  const guarded = <T>(where: string, ctx: OperationContext, call: () => ObservableInput<T>): Observable<T> =>
    defer(() => {
      const sctx = contextOf(ctx);
      let result$: Observable<T>;
      try {
        result$ = from(runInSource(sctx, call));
      } catch (err) {
        return throwError(() => classify(err, where, ctx.requestId));
      }
      return subscribeInSource(sctx, result$).pipe(catchError((err: unknown) => throwError(() => classify(err, where, ctx.requestId))));
    });

  /** A single-value operation: its first value is the answer, no value at all is a bug. */
  const single = (op: string, ctx: OperationContext, call: () => ObservableInput<unknown>): Observable<unknown> => {
    const answer$ = guarded(op, ctx, call);
    return new Observable<unknown>((subscriber) => {
      let answered = false;
      return answer$.subscribe({
        next: (value) => {
          if (!answered) hooks.succeeded();
          answered = true;
          subscriber.next(value);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          if (answered) return subscriber.complete();
          subscriber.error(classify(new Error(`${type} ${op} completed without a result`), op, ctx.requestId));
        },
      });
    });
  };

  const guardedAdapter: DataSourceAdapter = {
    type,
    supports,
    test: (ctx) => single('test', ctx, () => adapter.test(ctx) as ObservableInput<unknown>),
    close: async () => {
      try {
        await runInSource({ dataSource }, () => adapter.close());
      } catch (err) {
        hooks.fault({ where: 'close', error: err });
        log.error({ err, dataSource }, 'data source adapter failed to close');
      }
    },
  };
  for (const op of ['schema', 'attributes', 'resourceTypes'] as const) {
    if (typeof adapter[op] === 'function') guardedAdapter[op] = (ctx) => single(op, ctx, () => adapter[op]?.(ctx) as ObservableInput<unknown>);
  }
  if (typeof adapter.get === 'function') guardedAdapter.get = (params, ctx) => single('get', ctx, () => adapter.get?.(params, ctx) as ObservableInput<unknown>);

  if (typeof adapter.search === 'function') {
    guardedAdapter.search = (params, ctx) => {
      let source: SearchSource | undefined;
      try {
        source = runInSource(contextOf(ctx), () => adapter.search?.(params, ctx));
        const shape = source as { pull?: unknown; close?: unknown } | null | undefined;
        if (typeof shape !== 'object' || shape === null || !isFunction(shape.pull) || !isFunction(shape.close)) {
          throw new TypeError('search returned no page source (an object with pull() and close())');
        }
      } catch (err) {
        // Thrown inside the pipeline's `defer`: the request fails with it.
        throw classify(err, 'search', ctx.requestId);
      }
      return guardPageSource(source as SearchSource, ctx);
    };
  }

  const guardPageSource = (source: SearchSource, ctx: OperationContext): SearchSource => {
    const batch = source.itemFormat === 'json-batch';
    let closed = false;
    const checkPage = (page: unknown): void => {
      const p = page as Partial<Page<unknown>> | null;
      const items: unknown = p?.items;
      const itemsOk = batch ? typeof items === 'object' && items !== null && 'ends' in items && 'bytes' in items : Array.isArray(items);
      if (typeof p !== 'object' || p === null || typeof p.last !== 'boolean' || !itemsOk) {
        throw new TypeError(`search pulled a malformed page (expected {items: ${batch ? 'JsonBatch' : 'array'}, last: boolean})`);
      }
    };
    return {
      ...(source.itemFormat === undefined ? {} : { itemFormat: source.itemFormat }),
      pull: () =>
        guarded('search', ctx, () => source.pull() as ObservableInput<Page<unknown>>).pipe(
          tap((page) => checkPage(page)),
          catchError((err: unknown) => throwError(() => classify(err, 'search', ctx.requestId))),
          tap((page) => {
            if (page.last) hooks.succeeded();
          }),
        ),
      close: () => {
        if (closed) return;
        closed = true;
        try {
          runInSource(contextOf(ctx), () => source.close());
        } catch (err) {
          hooks.fault({ where: 'search close', error: err, requestId: ctx.requestId });
          ctx.log.error({ err, dataSource }, 'data source adapter failed to close a search');
        }
      },
    } as SearchSource;
  };

  if (typeof adapter.export === 'function') {
    guardedAdapter.export = (records$, ctx) =>
      guarded('export', ctx, () => adapter.export?.(deliverInSource(contextOf(ctx), records$), ctx) as ObservableInput<ExportResult>).pipe(
        tap({
          next: (result) => {
            // The shared export loop turns a record's unexpected failure into an INTERNAL result.
            if (typeof result === 'object' && result !== null && !result.ok && result.code === 'INTERNAL') {
              hooks.fault({ where: `export record ${result.index}`, error: new ProtocolError('INTERNAL', result.message), requestId: ctx.requestId });
            }
          },
          complete: () => hooks.succeeded(),
        }),
      );
  }
  return guardedAdapter;
}
