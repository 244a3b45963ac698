/**
 * The agent process's last line of defence against its data sources' bugs.
 *
 * - **Unhandled promise rejection** (`process.on('unhandledRejection')`): a promise an adapter
 *   created was rejected and nobody handled it — typically a cleanup that failed after the
 *   request was over (a pooled client released twice on cancel). Nothing is in an unknown state
 *   but that promise: it is logged at error with the data source that created it (found through
 *   its async context, source-context.ts; `dataSource: "unknown"` when none), the source's health
 *   records it, and the agent goes on serving every source and every hub session.
 * - **Uncaught exception** (`process.on('uncaughtException')`): a synchronous throw outside any
 *   chain the pipeline guards (in a timer or an event emitter's callback). It unwound a stack
 *   nobody expected to unwind, so what it left half done is unknown (a pool's counters, a lock,
 *   a socket's state): the process logs it at fatal, with the data source when known, and exits
 *   with 1 so the supervisor restarts it clean. A data source that can do this runs with
 *   `isolation: worker`, where only its worker is restarted.
 *
 * The agent CLI installs it (`agent.processGuard.install()`); an application embedding the
 * agent decides itself whether to.
 */
import type { Logger } from 'pino';
import { currentSource } from '../pipeline/source-context.js';
import type { SourceHealth } from './source-health.js';

export const UNKNOWN_SOURCE = 'unknown';

export interface ProcessGuardOptions {
  readonly log: Logger;
  readonly health: SourceHealth;
  /** Ends the process after an uncaught exception (default `process.exit`). */
  readonly exit?: (code: number) => void;
}

/** The process events the guard listens to (a `process`, or a stand-in in tests). */
export interface GuardedProcess {
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  on(event: 'uncaughtException', listener: (err: Error, origin: string) => void): unknown;
  off(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  off(event: 'uncaughtException', listener: (err: Error, origin: string) => void): unknown;
}

export class ProcessGuard {
  private readonly log: Logger;
  /** Stray rejections seen (any source, attributed or not). */
  private rejections = 0;

  constructor(private readonly options: ProcessGuardOptions) {
    this.log = options.log.child({ component: 'process-guard' });
  }

  get strayRejections(): number {
    return this.rejections;
  }

  /** An unhandled rejection: logged with its data source and recorded; the process goes on. */
  readonly onUnhandledRejection = (reason: unknown): void => {
    this.rejections += 1;
    const source = currentSource();
    const dataSource = source?.dataSource ?? UNKNOWN_SOURCE;
    this.log.error(
      { err: reason, dataSource, ...(source?.requestId === undefined ? {} : { requestId: source.requestId }) },
      'unhandled promise rejection (a bug, most likely in the data source adapter): the agent keeps running',
    );
    if (source !== undefined) {
      this.options.health.fault(source.dataSource, {
        kind: 'unhandled_rejection',
        error: reason,
        ...(source.requestId === undefined ? {} : { requestId: source.requestId }),
      });
    }
  };

  /** An uncaught exception: logged at fatal with its data source if known, then the process exits with 1. */
  readonly onUncaughtException = (err: unknown, origin?: string): void => {
    const dataSource = currentSource()?.dataSource ?? UNKNOWN_SOURCE;
    this.log.fatal(
      { err, dataSource, origin },
      'uncaught exception: the process state is unknown, exiting (run a data source that does this with isolation: worker)',
    );
    this.log.flush();
    (this.options.exit ?? ((code: number) => process.exit(code)))(1);
  };

  /** Listens to `proc`'s events; returns a function that stops listening. */
  install(proc: GuardedProcess = process): () => void {
    proc.on('unhandledRejection', this.onUnhandledRejection);
    proc.on('uncaughtException', this.onUncaughtException);
    return () => {
      proc.off('unhandledRejection', this.onUnhandledRejection);
      proc.off('uncaughtException', this.onUncaughtException);
    };
  }
}
