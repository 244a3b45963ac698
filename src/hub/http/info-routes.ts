/** What a tenant can see of itself: its agents (each once, with its sessions) and the data sources they offer. */
import type { FastifyInstance } from 'fastify';
import type { AgentLink } from '../agent-link.js';
import type { ApiContext } from './context.js';
import { ROUTE_SCHEMAS } from './schemas/routes.js';

export interface SessionView {
  readonly sessionId: string;
  readonly sessionKey: string;
  readonly connectedSince: string;
  readonly remoteAddress: string;
  readonly inFlight: number;
}

export interface AgentView {
  readonly id: string;
  readonly version: string;
  readonly hostname: string;
  /** Of the oldest session. */
  readonly sessionId: string;
  readonly connectedSince: string;
  readonly remoteAddress: string;
  /** Over all sessions. */
  readonly inFlight: number;
  readonly dataSources: readonly { name: string; type: string; operations: readonly string[] }[];
  readonly sessions: readonly SessionView[];
}

function sessionView(link: AgentLink): SessionView {
  return {
    sessionId: link.sessionId,
    sessionKey: link.sessionKey,
    connectedSince: link.connectedAt.toISOString(),
    remoteAddress: link.remoteAddress,
    inFlight: link.inFlight(),
  };
}

/** One agent from its sessions (at least one, oldest first): who it is from the oldest, counts over all. */
export function agentView(sessions: readonly [AgentLink, ...AgentLink[]]): AgentView {
  const [oldest] = sessions;
  const hello = oldest.hello;
  const views = sessions.map(sessionView);
  return {
    id: oldest.agentId ?? '?',
    version: hello?.agent.version ?? '?',
    hostname: hello?.agent.hostname ?? '?',
    sessionId: oldest.sessionId,
    connectedSince: oldest.connectedAt.toISOString(),
    remoteAddress: oldest.remoteAddress,
    inFlight: views.reduce((sum, s) => sum + s.inFlight, 0),
    dataSources: (hello?.dataSources ?? []).map((d) => ({ name: d.name, type: d.type, operations: [...d.operations] })),
    sessions: views,
  };
}

/** The tenant's agents, each once, in the order they first registered. */
export function agentViews(links: readonly AgentLink[]): AgentView[] {
  const byAgent = new Map<string, AgentLink[]>();
  const sorted = [...links].sort((a, b) => a.connectedAt.getTime() - b.connectedAt.getTime());
  for (const link of sorted) {
    const id = link.agentId ?? '?';
    byAgent.set(id, [...(byAgent.get(id) ?? []), link]);
  }
  return [...byAgent.values()].flatMap((sessions) => (sessions.length > 0 ? [agentView(sessions as [AgentLink, ...AgentLink[]])] : []));
}

export function registerInfoRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/agents', { schema: ROUTE_SCHEMAS.agents }, (req, reply) => reply.send({ agents: agentViews(ctx.hub.registry.agents(req.tenantId)) }));

  app.get('/v1/data-sources', { schema: ROUTE_SCHEMAS.dataSources }, (req, reply) => {
    const byName = new Map<string, { name: string; type: string; operations: Set<string>; agents: Set<string> }>();
    for (const link of ctx.hub.registry.agents(req.tenantId)) {
      for (const d of link.hello?.dataSources ?? []) {
        const entry = byName.get(d.name) ?? { name: d.name, type: d.type, operations: new Set<string>(), agents: new Set<string>() };
        for (const op of d.operations) entry.operations.add(op);
        // An agent with several sessions offers the source once.
        entry.agents.add(link.agentId ?? '?');
        byName.set(d.name, entry);
      }
    }
    const dataSources = [...byName.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((e) => ({ name: e.name, type: e.type, operations: [...e.operations].sort(), agents: [...e.agents].sort() }));
    return reply.send({ dataSources });
  });
}
