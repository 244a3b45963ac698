import { hostname } from 'node:os';
import type { AgentConfig } from '../config/index.js';
import { PROTOCOL_VERSION, positiveInt, type Hello } from '../protocol/index.js';
import { VERSION } from '../version.js';

/** The registration frame: who we are and what we offer — never any secret (DESIGN §7). */
export function buildHello(config: AgentConfig): Hello {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    agent: { id: config.agent.id, version: VERSION, hostname: hostname() },
    tenantId: config.agent.tenantId,
    dataSources: Object.entries(config.dataSources).map(([name, ds]) => ({
      name,
      type: ds.type,
      operations: [...ds.operations],
    })),
    limits: { maxChunkItems: positiveInt(config.maxChunkItems), maxConcurrentStreams: positiveInt(config.maxConcurrentStreams) },
  };
}
