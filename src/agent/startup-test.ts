/**
 * `testOnStart` (on by default): each configured data source runs its `test` operation once
 * when the agent starts, beside the hub connections, so a wrong bind password or an unreachable
 * directory shows in the log at start — at warn, naming the data source — instead of at the
 * first request the cloud sends, maybe hours later.
 *
 * A failed test never stops the agent and is not retried here: the source stays configured and
 * every later request tries the upstream again (the directory may be up by then). The outcome
 * of each test is kept for `/readyz` (`detail.startupTests`); it does not change readiness,
 * which follows the hub sessions.
 *
 * The test runs on the served (guarded) adapter, so a test that throws is recorded as a fault
 * of the source like any other. It is bounded by {@link STARTUP_TEST_TIMEOUT_MS} (the classic
 * product's timeout for admin calls such as test connection) or `maxRequestTimeout` if lower,
 * and cancelled (unsubscribed, which releases its upstream connection) when the agent stops.
 * The `test` operation need not be in the source's `operations` allow-list: that list says
 * what the hub may ask for; this test is the operator's own, read-only by contract.
 */
import { EMPTY, catchError, defer, map, merge, of, take, throwIfEmpty, timeout, type Observable, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import { adoptProtocolError, isProtocolError, ProtocolError } from '../protocol/index.js';
import type { ServedDataSource } from '../pipeline/run-request.js';

/** Upper bound of one start-up test (as the classic product's admin-call timeout, 30 s). */
export const STARTUP_TEST_TIMEOUT_MS = 30_000;

export type StartupTestRecord =
  | { readonly status: 'running'; readonly since: string }
  | { readonly status: 'ok'; readonly at: string; readonly answer: Readonly<Record<string, string | number>> }
  | { readonly status: 'failed'; readonly at: string; readonly code: string; readonly message: string; readonly retryable: boolean };

export interface StartupTestOptions {
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly scheduler?: SchedulerLike;
  readonly now?: () => Date;
}

/** The request id the start-up tests run under (in the adapters' log lines). */
export const STARTUP_TEST_REQUEST_ID = 'startup-test';

/** What the log line and `/readyz` show of a test's answer: where it went and who answered. */
const SHOWN = ['target', 'url', 'server', 'vendorName', 'vendorVersion', 'boundAs', 'latencyMs'] as const;

function shownOf(result: unknown): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (typeof result !== 'object' || result === null) return out;
  for (const key of SHOWN) {
    const v = (result as Record<string, unknown>)[key];
    if ((typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v))) out[key] = v;
  }
  return out;
}

/**
 * Tests every source once, all at once; emits each source's outcome as it is known (after a
 * `running` record per source, synchronously at subscription) and completes when all are.
 * Logs each outcome: ok at info, a failure at warn with its code and (already scrubbed) message.
 */
export function testSourcesOnStart(
  sources: ReadonlyMap<string, ServedDataSource>,
  options: StartupTestOptions,
): Observable<{ readonly dataSource: string; readonly record: StartupTestRecord }> {
  const now = options.now ?? (() => new Date());
  const tests = [...sources].map(([dataSource, { adapter }]) => {
    const log = options.log.child({ dataSource, requestId: STARTUP_TEST_REQUEST_ID });
    const outcome$ = defer(() => adapter.test({ requestId: STARTUP_TEST_REQUEST_ID, dataSource, log })).pipe(
      take(1),
      throwIfEmpty(() => new ProtocolError('INTERNAL', `${adapter.type} test produced no result`)),
      timeout({
        first: options.timeoutMs,
        ...(options.scheduler ? { scheduler: options.scheduler } : {}),
        with: () => {
          throw new ProtocolError('TIMEOUT', `test did not finish within ${options.timeoutMs} ms`);
        },
      }),
      map((result): StartupTestRecord => {
        const shown = shownOf(result);
        log.info(shown, `data source ${dataSource} tested at start-up: ok`);
        return { status: 'ok', at: now().toISOString(), answer: shown };
      }),
      catchError((err: unknown) => {
        const pe = protocolErrorOf(err);
        log.warn(
          { code: pe.code, reason: pe.message, retryable: pe.retryable },
          `data source ${dataSource} failed its start-up test: ${pe.code}: ${pe.message} (the agent keeps running; requests will try it again)`,
        );
        return of<StartupTestRecord>({ status: 'failed', at: now().toISOString(), code: pe.code, message: pe.message, retryable: pe.retryable });
      }),
      map((record) => ({ dataSource, record })),
    );
    const running: StartupTestRecord = { status: 'running', since: now().toISOString() };
    return merge(of({ dataSource, record: running }), outcome$);
  });
  return tests.length === 0 ? EMPTY : merge(...tests);
}

/** A coded error as is; anything else (a bug of the adapter, caught by its guard as well) is INTERNAL with no message of its own. */
function protocolErrorOf(err: unknown): ProtocolError {
  const adopted = isProtocolError(err) ? adoptProtocolError(err) : undefined;
  return adopted ?? new ProtocolError('INTERNAL', 'the adapter failed unexpectedly (see the error logged for this data source)');
}
