/**
 * Wrong credentials remembered for a short while, so presenting the same wrong password (or
 * API token) again costs a keyed SHA-256 instead of a scrypt. Entries are keyed by an HMAC of
 * the credential under a random key made at start, so the cache never holds a password, and
 * its keys are useless outside this process. Only misses are kept: a hit still costs its
 * scrypt (agents connect rarely; API tokens have their own cache of hits).
 */
import { createHmac, randomBytes } from 'node:crypto';

const DEFAULT_MAX_ENTRIES = 8192;

export class NegativeCache {
  private readonly key = randomBytes(32);
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  /** The cache key of a credential made of `parts` (e.g. user name and password). */
  keyOf(...parts: readonly string[]): string {
    const mac = createHmac('sha256', this.key);
    for (const part of parts) mac.update(`${Buffer.byteLength(part)}:`).update(part);
    return mac.digest('base64');
  }

  /** Is the credential known to be wrong? */
  has(key: string): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.until.delete(key);
    return false;
  }

  /** Remembers a wrong credential for the TTL. */
  add(key: string): void {
    if (this.ttlMs <= 0) return;
    this.until.delete(key);
    this.until.set(key, this.now() + this.ttlMs);
    while (this.until.size > this.maxEntries) {
      const oldest = this.until.keys().next().value;
      if (oldest === undefined) break;
      this.until.delete(oldest);
    }
  }

  size(): number {
    return this.until.size;
  }
}
