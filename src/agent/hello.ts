import { hostname } from 'node:os';
import type { AgentConfig } from '../config/index.js';
import { PROTOCOL_VERSION, positiveInt, type Hello } from '../protocol/index.js';
import { VERSION } from '../version.js';

/**
 * The registration frame: who we are and what we offer — never any secret. `exportKeys` are the
 * digests of the export journals this agent holds (a restarted hub routes their resends here);
 * with a `stateDir`, every data source that allows export is announced as journaled.
 */
export function buildHello(config: AgentConfig, exportKeys: readonly string[] = []): Hello {
  const journaled = config.stateDir !== undefined;
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    agent: { id: config.agent.id, version: VERSION, hostname: hostname() },
    tenantId: config.agent.tenantId,
    dataSources: Object.entries(config.dataSources).map(([name, ds]) => ({
      name,
      type: ds.type,
      operations: [...ds.operations],
      // A worker-isolated source refuses journaled exports: the journal lives in the agent's thread.
      ...(journaled && ds.operations.includes('export') && ds.isolation !== 'worker' ? { idempotentExport: true } : {}),
    })),
    ...(exportKeys.length > 0 ? { exportKeys: [...exportKeys] } : {}),
    limits: { maxChunkItems: positiveInt(config.maxChunkItems), maxConcurrentStreams: positiveInt(config.maxConcurrentStreams) },
  };
}
