/**
 * Which agent holds the journal of an export's idempotency key. A resend of a keyed export must
 * reach the agent that ran it — only that agent's journal knows which records were already
 * written — so the hub pins a key to the agent that first ran it, and routes a resend there or
 * nowhere (a retryable AGENT_DISCONNECTED while it is away, never another agent).
 *
 * Pins live in the hub's memory. A restarted hub learns them again from the agents: each agent
 * announces the digests of the journals it holds in `hello` (`exportKeys`). Keys are known by
 * their digest (`exportKeyDigest`), which includes the data source.
 */
export interface ExportPinOptions {
  /** Pins kept at most (oldest forgotten first). Default 100,000. */
  readonly maxPins?: number;
  /** A pin unused this long is forgotten (the agent prunes its journals too). Default 7 days. */
  readonly ttlMs?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

interface Pin {
  readonly agentId: string;
  at: number;
}

export class ExportPins {
  private readonly pins = new Map<string, Pin>();
  private readonly maxPins: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: ExportPinOptions = {}) {
    this.maxPins = options.maxPins ?? 100_000;
    this.ttlMs = options.ttlMs ?? 7 * 24 * 3_600_000;
    this.now = options.now ?? Date.now;
  }

  /** The agent a key is pinned to, if any (a lookup keeps the pin fresh). */
  agentFor(tenantId: string, digest: string): string | undefined {
    const k = key(tenantId, digest);
    const pin = this.pins.get(k);
    if (pin === undefined) return undefined;
    if (this.now() - pin.at > this.ttlMs) {
      this.pins.delete(k);
      return undefined;
    }
    this.touch(k, pin);
    return pin.agentId;
  }

  /** Pins a key to the agent that runs it now (an existing pin to another agent is kept: the caller checked it first). */
  pin(tenantId: string, digest: string, agentId: string): void {
    const k = key(tenantId, digest);
    const pin = this.pins.get(k);
    if (pin !== undefined && pin.agentId !== agentId) return;
    this.touch(k, pin ?? { agentId, at: 0 });
  }

  /** Pins the keys an agent announced in its hello, where no other agent holds them already. */
  learn(tenantId: string, agentId: string, digests: readonly string[]): void {
    for (const d of digests) if (this.agentFor(tenantId, d) === undefined) this.pin(tenantId, d, agentId);
  }

  get size(): number {
    return this.pins.size;
  }

  private touch(k: string, pin: Pin): void {
    pin.at = this.now();
    // Re-inserting moves the pin to the end: the map's order is least recently used first.
    this.pins.delete(k);
    this.pins.set(k, pin);
    while (this.pins.size > this.maxPins) {
      const oldest = this.pins.keys().next().value;
      if (oldest === undefined) break;
      this.pins.delete(oldest);
    }
  }
}

function key(tenantId: string, digest: string): string {
  return `${tenantId}\u0000${digest}`;
}
