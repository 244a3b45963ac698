/**
 * The kinds of data-source faults the agent counts (src/agent/source-health.ts decides them), and
 * what the metrics listen to. Here, in metrics, so the metrics the hub shares load no agent code.
 */
export type FaultKind = 'internal_error' | 'unhandled_rejection' | 'worker_crash';
export const FAULT_KINDS: readonly FaultKind[] = ['internal_error', 'unhandled_rejection', 'worker_crash'];

/** Told when a data source's health changes and at every fault. */
export interface SourceHealthListener {
  healthChanged(dataSource: string, healthy: boolean): void;
  fault(dataSource: string, kind: FaultKind): void;
}
