/**
 * Failed authentication counted per source address (see source-address.ts), never per user
 * name: an attacker who knows an agent's user name can slow or lock out only the addresses it
 * sends from, not the agent on its own address. After `freeFailures` failures each further
 * one opens a penalty window (`penaltyBase`, doubling, at most `penaltyMax`) in which the
 * source's credential checks are refused (429 with Retry-After) without hashing. A success from
 * the source clears it; failures are forgotten after `failureMemory` without a new one.
 */

export interface PenaltyOptions {
  readonly freeFailures: number;
  readonly penaltyBase: number;
  readonly penaltyMax: number;
  readonly failureMemory: number;
  /** Most sources remembered; the least recently failed are dropped first. */
  readonly maxSources?: number;
}

interface SourceRecord {
  failures: number;
  lastFailure: number;
  penaltyUntil: number;
}

const DEFAULT_MAX_SOURCES = 65_536;

export class FailurePenalties {
  private readonly sources = new Map<string, SourceRecord>();

  constructor(
    private readonly options: PenaltyOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds the source must still wait before its next credential check, or 0. */
  retryAfterMs(source: string): number {
    const rec = this.current(source);
    if (rec === undefined) return 0;
    return Math.max(0, rec.penaltyUntil - this.now());
  }

  /** Has the source failed lately (its checks queue behind those of sources that have not)? */
  isSuspect(source: string): boolean {
    return this.current(source) !== undefined;
  }

  /** Counts a failed check; returns the penalty window it opened (0 while failures are free). */
  failed(source: string): number {
    const now = this.now();
    const rec = this.current(source) ?? { failures: 0, lastFailure: now, penaltyUntil: 0 };
    rec.failures += 1;
    rec.lastFailure = now;
    const over = rec.failures - this.options.freeFailures;
    const window = over <= 0 ? 0 : Math.min(this.options.penaltyMax, this.options.penaltyBase * 2 ** Math.min(over - 1, 40));
    rec.penaltyUntil = now + window;
    this.sources.delete(source);
    this.sources.set(source, rec);
    this.evict();
    return window;
  }

  /** A successful check: the source starts afresh. */
  succeeded(source: string): void {
    this.sources.delete(source);
  }

  /** Sources remembered now (a metric and the tests). */
  size(): number {
    return this.sources.size;
  }

  private current(source: string): SourceRecord | undefined {
    const rec = this.sources.get(source);
    if (rec === undefined) return undefined;
    const now = this.now();
    if (now - rec.lastFailure >= this.options.failureMemory && rec.penaltyUntil <= now) {
      this.sources.delete(source);
      return undefined;
    }
    return rec;
  }

  private evict(): void {
    const max = this.options.maxSources ?? DEFAULT_MAX_SOURCES;
    while (this.sources.size > max) {
      const oldest = this.sources.keys().next().value;
      if (oldest === undefined) break;
      this.sources.delete(oldest);
    }
  }
}
