/**
 * Which agents are registered for which tenant, with their sessions. An agent may hold several
 * sessions at once — one per hub URL it dials (`hello.sessionKey`) — so the registry keys by
 * (tenant, agent id, session key): a new registration replaces only the session with the same
 * key (the stale socket is closed with 4002), so a reconnecting or restarted agent never shows
 * twice, and two URLs that reach this hub never replace each other. Events are per session.
 */
import { Subject, type Observable } from 'rxjs';
import type { AgentLink } from './agent-link.js';

export type RegistryEvent =
  | { readonly type: 'registered'; readonly tenantId: string; readonly agentId: string; readonly link: AgentLink }
  | { readonly type: 'replaced'; readonly tenantId: string; readonly agentId: string; readonly link: AgentLink }
  | { readonly type: 'unregistered'; readonly tenantId: string; readonly agentId: string; readonly link: AgentLink };

/** Sessions by session key. */
type Sessions = Map<string, AgentLink>;

export class AgentRegistry {
  private readonly tenants = new Map<string, Map<string, Sessions>>();
  private readonly eventsSubject = new Subject<RegistryEvent>();
  private cursor = 0;
  readonly events$: Observable<RegistryEvent> = this.eventsSubject.asObservable();

  /** Adds `link` under its `sessionKey`; returns the session it replaced, if any (the caller closes it). */
  register(tenantId: string, agentId: string, link: AgentLink): AgentLink | undefined {
    let agents = this.tenants.get(tenantId);
    if (!agents) {
      agents = new Map();
      this.tenants.set(tenantId, agents);
    }
    let sessions = agents.get(agentId);
    if (!sessions) {
      sessions = new Map();
      agents.set(agentId, sessions);
    }
    const previous = sessions.get(link.sessionKey);
    sessions.set(link.sessionKey, link);
    if (previous && previous !== link) this.eventsSubject.next({ type: 'replaced', tenantId, agentId, link: previous });
    this.eventsSubject.next({ type: 'registered', tenantId, agentId, link });
    return previous === link ? undefined : previous;
  }

  /** Removes `link` if it is still the current session for its key (a replaced link is already gone). */
  unregister(tenantId: string, agentId: string, link: AgentLink): void {
    const agents = this.tenants.get(tenantId);
    const sessions = agents?.get(agentId);
    if (agents === undefined || sessions?.get(link.sessionKey) !== link) return;
    sessions.delete(link.sessionKey);
    if (sessions.size === 0) agents.delete(agentId);
    if (agents.size === 0) this.tenants.delete(tenantId);
    this.eventsSubject.next({ type: 'unregistered', tenantId, agentId, link });
  }

  /** Every registered session of the tenant's agents (an agent with two sessions is here twice). */
  agents(tenantId: string): AgentLink[] {
    return [...(this.tenants.get(tenantId)?.values() ?? [])].flatMap((sessions) => [...sessions.values()]);
  }

  /** The sessions of one agent, oldest first. */
  sessionsOf(tenantId: string, agentId: string): AgentLink[] {
    const sessions = [...(this.tenants.get(tenantId)?.get(agentId)?.values() ?? [])];
    return sessions.sort((a, b) => a.connectedAt.getTime() - b.connectedAt.getTime());
  }

  /** One session of the agent (the oldest), or undefined when it has none. */
  get(tenantId: string, agentId: string): AgentLink | undefined {
    return this.sessionsOf(tenantId, agentId)[0];
  }

  all(): AgentLink[] {
    return [...this.tenants.values()].flatMap((agents) => [...agents.values()].flatMap((sessions) => [...sessions.values()]));
  }

  /**
   * A session of `tenantId` offering `dataSource` for `op` (and passing `also`): the least busy, ties broken round
   * robin so load spreads over equally idle agents and over the sessions of one agent.
   */
  pick(tenantId: string, dataSource: string, op: string, also: (link: AgentLink) => boolean = () => true): AgentLink | undefined {
    const candidates = this.agents(tenantId).filter((l) => l.offers(dataSource, op) && also(l));
    if (candidates.length === 0) return undefined;
    const least = Math.min(...candidates.map((l) => l.inFlight()));
    const idle = candidates.filter((l) => l.inFlight() === least);
    this.cursor = (this.cursor + 1) % Number.MAX_SAFE_INTEGER;
    return idle[this.cursor % idle.length];
  }

  complete(): void {
    this.eventsSubject.complete();
  }
}
