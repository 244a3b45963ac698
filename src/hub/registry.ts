/**
 * Which agents are registered for which tenant, with their data sources. One entry per
 * (tenant, agent id): a new registration of the same id replaces the old one (the stale socket
 * is closed with 4002), so a reconnecting agent never shows twice.
 */
import { Subject, type Observable } from 'rxjs';
import type { AgentLink } from './agent-link.js';

export type RegistryEvent =
  | { readonly type: 'registered'; readonly tenantId: string; readonly agentId: string; readonly link: AgentLink }
  | { readonly type: 'replaced'; readonly tenantId: string; readonly agentId: string; readonly link: AgentLink }
  | { readonly type: 'unregistered'; readonly tenantId: string; readonly agentId: string; readonly link: AgentLink };

export class AgentRegistry {
  private readonly tenants = new Map<string, Map<string, AgentLink>>();
  private readonly eventsSubject = new Subject<RegistryEvent>();
  private cursor = 0;
  readonly events$: Observable<RegistryEvent> = this.eventsSubject.asObservable();

  /** Adds `link`; returns the link it replaced, if any (the caller closes it). */
  register(tenantId: string, agentId: string, link: AgentLink): AgentLink | undefined {
    let agents = this.tenants.get(tenantId);
    if (!agents) {
      agents = new Map();
      this.tenants.set(tenantId, agents);
    }
    const previous = agents.get(agentId);
    agents.set(agentId, link);
    if (previous && previous !== link) this.eventsSubject.next({ type: 'replaced', tenantId, agentId, link: previous });
    this.eventsSubject.next({ type: 'registered', tenantId, agentId, link });
    return previous === link ? undefined : previous;
  }

  /** Removes `link` if it is still the current one for its id (a replaced link is already gone). */
  unregister(tenantId: string, agentId: string, link: AgentLink): void {
    const agents = this.tenants.get(tenantId);
    if (agents?.get(agentId) !== link) return;
    agents.delete(agentId);
    if (agents.size === 0) this.tenants.delete(tenantId);
    this.eventsSubject.next({ type: 'unregistered', tenantId, agentId, link });
  }

  agents(tenantId: string): AgentLink[] {
    return [...(this.tenants.get(tenantId)?.values() ?? [])];
  }

  get(tenantId: string, agentId: string): AgentLink | undefined {
    return this.tenants.get(tenantId)?.get(agentId);
  }

  all(): AgentLink[] {
    return [...this.tenants.values()].flatMap((m) => [...m.values()]);
  }

  /**
   * An agent of `tenantId` offering `dataSource` for `op` (and passing `also`): the least busy, ties broken round
   * robin so load spreads over equally idle agents.
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
