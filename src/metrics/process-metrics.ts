/**
 * Node's default process metrics (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`,
 * `nodejs_eventloop_lag_seconds`, …), under their standard names so stock dashboards work.
 *
 * Collected once per process into a registry of their own and merged into each component's
 * registry: every `collectDefaultMetrics` call starts an event-loop-delay monitor and a GC
 * observer that are never stopped, so one per Agent or Hub instance would pile up in a process
 * that creates many (tests, embedding). They describe the process, not an instance, anyway.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

let shared: Registry | undefined;

function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}

/** A new registry holding `own`'s metrics and the process metrics (register yours in `own` first). */
export function withProcessMetrics(own: Registry): Registry {
  return Registry.merge([own, processRegistry()]);
}
