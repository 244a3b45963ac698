/**
 * The pipeline's metric hooks. The pipeline only calls these; the Prometheus side lives in
 * `src/metrics/agent-metrics.ts`, so the pipeline (and its marble tests) do not depend on
 * prom-client. Without `RequestDeps.metrics` every hook is a no-op.
 */
import type { Operation } from '../protocol/index.js';

/** One running request's hooks; the pipeline calls `firstResult` and `finished` at most once. */
export interface RequestMeter {
  /**
   * The upstream produced its first result (single operations), page (search) or write result
   * (export: so its latency includes the wait for the hub's first records).
   */
  firstResult(): void;
  /** A stream chunk of `items` items, `bytes` bytes of JSON, was handed to the socket writer. */
  chunkSent(items: number, bytes: number): void;
  /** The stream had a chunk ready and no credit to send it (once per stall, not per wake-up). */
  creditStalled(): void;
  /**
   * The request ended: `'OK'`, the code of the `error` frame sent, or `'CANCELLED'` (the hub
   * cancelled it, or its connection closed first).
   */
  finished(code: string): void;
}

export interface PipelineMetrics {
  /** A request starts running (admitted, past the queue); the meter follows it to its end. */
  requestStarted(op: Operation, dataSource: string): RequestMeter;
  /** A request was answered with an error without running (BUSY, duplicate id, unknown data source, …). */
  requestRefused(op: Operation, dataSource: string, code: string): void;
}

export const NO_METER: RequestMeter = {
  firstResult: () => undefined,
  chunkSent: () => undefined,
  creditStalled: () => undefined,
  finished: () => undefined,
};
