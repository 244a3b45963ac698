/**
 * The health of each data source as seen from its adapter's behaviour — not its upstream's: a
 * directory that is down answers coded errors (`UPSTREAM_UNAVAILABLE`) and the source stays
 * healthy. A source is **unhealthy** after a fault of its adapter:
 *
 * - `internal_error`: an operation failed with something that is not a coded protocol error
 *   (or with `INTERNAL`): a throw, a rejected promise, a malformed page — a bug;
 * - `unhandled_rejection`: a promise the adapter created was rejected and nobody handled it
 *   (found through the async context, process-guard.ts);
 * - `worker_crash`: with `isolation: worker`, the adapter's worker thread died.
 *
 * It is **healthy** again after its next request that succeeds (a result, a search's last page,
 * an export's end). Shown in `/readyz`'s body under `dataSources` and in the metrics; it never
 * changes readiness itself: restarting the agent for one broken source would take every other
 * source and every hub session down with it.
 */
import { ProtocolError } from '../protocol/index.js';

import { FAULT_KINDS, type FaultKind, type SourceHealthListener } from '../metrics/data-source-faults.js';

export { FAULT_KINDS, type FaultKind, type SourceHealthListener };

export interface SourceProblem {
  readonly kind: FaultKind;
  /** The protocol code the caller got (`INTERNAL`), when the fault failed a request. */
  readonly code?: string;
  /** What went wrong, without the adapter's own message (it may quote secrets): the error's class, the operation. */
  readonly message: string;
  /** ISO 8601. */
  readonly at: string;
  readonly requestId?: string;
}

export interface SourceHealthRecord {
  readonly status: 'healthy' | 'unhealthy';
  readonly lastProblem?: SourceProblem;
  readonly internalErrors: number;
  readonly unhandledRejections: number;
  readonly workerCrashes: number;
}

/** Told of every change (the metrics). */

export interface FaultReport {
  readonly kind: FaultKind;
  /** The operation or place it happened (`search`, `close`, …). */
  readonly where?: string;
  readonly error?: unknown;
  readonly code?: string;
  readonly requestId?: string;
}

interface Entry {
  healthy: boolean;
  lastProblem: SourceProblem | undefined;
  counts: Record<FaultKind, number>;
}

/** A short description of an error that carries none of its message (which may hold secrets). */
export function describeFault(report: FaultReport): string {
  const err = report.error;
  const what =
    err instanceof ProtocolError
      ? `${err.code} error`
      : err instanceof Error
        ? `${err.name || 'Error'} thrown`
        : err === undefined
          ? 'failure'
          : `${typeof err} value thrown`;
  switch (report.kind) {
    case 'internal_error':
      return `${what} in ${report.where ?? 'an operation'}`;
    case 'unhandled_rejection':
      return `unhandled promise rejection (${what})`;
    case 'worker_crash':
      return `worker thread died (${what})`;
  }
}

export class SourceHealth {
  private readonly entries = new Map<string, Entry>();

  constructor(
    dataSources: readonly string[],
    private readonly listener?: SourceHealthListener,
    private readonly now: () => Date = () => new Date(),
  ) {
    for (const name of dataSources) {
      this.entries.set(name, { healthy: true, lastProblem: undefined, counts: { internal_error: 0, unhandled_rejection: 0, worker_crash: 0 } });
    }
  }

  /** Whether `name` is a data source followed here (a stray rejection may name another agent's). */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** An adapter fault: the source becomes unhealthy. Unknown names are ignored. */
  fault(dataSource: string, report: FaultReport): void {
    const entry = this.entries.get(dataSource);
    if (entry === undefined) return;
    entry.counts[report.kind] += 1;
    entry.lastProblem = {
      kind: report.kind,
      ...(report.code === undefined ? {} : { code: report.code }),
      message: describeFault(report),
      at: this.now().toISOString(),
      ...(report.requestId === undefined ? {} : { requestId: report.requestId }),
    };
    this.listener?.fault(dataSource, report.kind);
    if (entry.healthy) {
      entry.healthy = false;
      this.listener?.healthChanged(dataSource, false);
    }
  }

  /** A request of the source succeeded: healthy again (the last problem stays on record). */
  succeeded(dataSource: string): void {
    const entry = this.entries.get(dataSource);
    if (entry === undefined || entry.healthy) return;
    entry.healthy = true;
    this.listener?.healthChanged(dataSource, true);
  }

  healthy(dataSource: string): boolean | undefined {
    return this.entries.get(dataSource)?.healthy;
  }

  record(dataSource: string): SourceHealthRecord | undefined {
    const entry = this.entries.get(dataSource);
    if (entry === undefined) return undefined;
    return {
      status: entry.healthy ? 'healthy' : 'unhealthy',
      ...(entry.lastProblem === undefined ? {} : { lastProblem: entry.lastProblem }),
      internalErrors: entry.counts.internal_error,
      unhandledRejections: entry.counts.unhandled_rejection,
      workerCrashes: entry.counts.worker_crash,
    };
  }

  /** Every source's record, by name (the `/readyz` body's `dataSources`). */
  snapshot(): Record<string, SourceHealthRecord> {
    const out: Record<string, SourceHealthRecord> = {};
    for (const name of this.entries.keys()) out[name] = this.record(name) as SourceHealthRecord;
    return out;
  }
}
