/** What a tenant can see of itself: its agents and the data sources they offer. */
import type { FastifyInstance } from 'fastify';
import type { AgentLink } from '../agent-link.js';
import type { ApiContext } from './context.js';
import { ROUTE_SCHEMAS } from './schemas/routes.js';

export interface AgentView {
  readonly id: string;
  readonly version: string;
  readonly hostname: string;
  readonly sessionId: string;
  readonly connectedSince: string;
  readonly remoteAddress: string;
  readonly inFlight: number;
  readonly dataSources: readonly { name: string; type: string; operations: readonly string[] }[];
}

export function agentView(link: AgentLink): AgentView {
  const hello = link.hello;
  return {
    id: link.agentId ?? '?',
    version: hello?.agent.version ?? '?',
    hostname: hello?.agent.hostname ?? '?',
    sessionId: link.sessionId,
    connectedSince: link.connectedAt.toISOString(),
    remoteAddress: link.remoteAddress,
    inFlight: link.inFlight(),
    dataSources: (hello?.dataSources ?? []).map((d) => ({ name: d.name, type: d.type, operations: [...d.operations] })),
  };
}

export function registerInfoRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/agents', { schema: ROUTE_SCHEMAS.agents }, (req, reply) => reply.send({ agents: ctx.hub.registry.agents(req.tenantId).map(agentView) }));

  app.get('/v1/data-sources', { schema: ROUTE_SCHEMAS.dataSources }, (req, reply) => {
    const byName = new Map<string, { name: string; type: string; operations: Set<string>; agents: string[] }>();
    for (const link of ctx.hub.registry.agents(req.tenantId)) {
      for (const d of link.hello?.dataSources ?? []) {
        const entry = byName.get(d.name) ?? { name: d.name, type: d.type, operations: new Set<string>(), agents: [] };
        for (const op of d.operations) entry.operations.add(op);
        entry.agents.push(link.agentId ?? '?');
        byName.set(d.name, entry);
      }
    }
    const dataSources = [...byName.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((e) => ({ name: e.name, type: e.type, operations: [...e.operations].sort(), agents: e.agents.sort() }));
    return reply.send({ dataSources });
  });
}
