/**
 * API-token authentication: `Authorization: Bearer TOKEN` is checked against every tenant's
 * scrypt-hashed `apiTokens` in hub.yaml. scrypt is slow on purpose, so an outcome is cached by
 * the token's SHA-256 (never the token itself): hits for a day-long session of a cloud app,
 * misses for a minute so a guessing client cannot make the hub burn CPU. Concurrent first
 * uses of one token share one verification.
 *
 * Given the hub's `CredentialChecks`, a token not in the cache is checked through them: a
 * source address in its penalty window is refused with 429 (`TOO_MANY_REQUESTS`), a full queue
 * of hash work with 503 (`BUSY`), both retryable with Retry-After; misses count against the
 * source, a valid token clears it.
 */
import * as crypto from 'node:crypto';
import { verifyToken } from '../../config/password-hash.js';
import type { HubConfig } from '../../config/index.js';
import { ProtocolError } from '../../protocol/index.js';
import type { CredentialChecks } from '../admission/credential-checks.js';
import { sourceOf } from '../admission/source-address.js';
import { ApiError } from './errors.js';

const MAX_CACHED = 1024;
const HIT_TTL_MS = 3_600_000;
const MISS_TTL_MS = 60_000;
/** Longest token looked at: anything longer is refused without hashing. */
const MAX_TOKEN_CHARS = 512;

/** The cache key of a token: its SHA-256, so the cache never holds a token. */
const keyOf: (token: string) => string =
  // One-shot `crypto.hash` (Node ≥ 20.12) skips the Hash object of `createHash` on every request.
  typeof crypto.hash === 'function'
    ? (token) => crypto.hash('sha256', token, 'hex')
    : (token) => crypto.createHash('sha256').update(token).digest('hex');

interface Cached {
  readonly tenantId: string | undefined;
  readonly until: number;
}

export class ApiTokens {
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly tenants: HubConfig['tenants'],
    private readonly now: () => number = Date.now,
    private readonly checks?: CredentialChecks,
  ) {}

  /** The token from an Authorization header, or undefined when there is none or it is malformed. */
  static bearer(header: string | undefined): string | undefined {
    const m = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header ?? '');
    const token = m?.[1];
    return token !== undefined && token.length <= MAX_TOKEN_CHARS ? token : undefined;
  }

  /**
   * The tenant the token belongs to, or undefined. `remoteAddress` is the client's: with
   * credential checks, a refusal (penalty window, busy) rejects with a retryable coded error.
   */
  async tenantOf(token: string, remoteAddress?: string): Promise<string | undefined> {
    const key = keyOf(token);
    const hit = this.lookup(key);
    return hit === undefined ? this.verifyOnce(key, token, sourceOf(remoteAddress)) : hit.tenantId;
  }

  /**
   * The cached outcome for the token, without waiting: `{tenantId}` (undefined for a token
   * known to be invalid), or undefined when it must be verified (`tenantOf`). The hot path of
   * every API request: one SHA-256, one map lookup, no promise.
   */
  cached(token: string): { readonly tenantId: string | undefined } | undefined {
    return this.lookup(keyOf(token));
  }

  private lookup(key: string): Cached | undefined {
    const hit = this.cache.get(key);
    if (hit === undefined || hit.until <= this.now()) return undefined;
    // Refresh recency (Map keeps insertion order: the oldest entry is evicted first).
    this.cache.delete(key);
    this.cache.set(key, hit);
    return hit;
  }

  private verifyOnce(key: string, token: string, source: string): Promise<string | undefined> {
    let running = this.pending.get(key);
    if (!running) {
      running = this.checked(token, source).finally(() => this.pending.delete(key));
      this.pending.set(key, running);
      running.then(
        (tenantId) => this.remember(key, tenantId),
        () => undefined, // refused before hashing: nothing learnt about the token
      );
    }
    return running;
  }

  private async checked(token: string, source: string): Promise<string | undefined> {
    if (this.checks === undefined) return this.verify(token);
    const result = await this.checks.check('api', source, [token], () => this.verify(token));
    if (result.ok) return result.value;
    const { status, reason, retryAfterSeconds } = result.refusal;
    throw status === 429 ? new ApiError('TOO_MANY_REQUESTS', reason, retryAfterSeconds) : new ProtocolError('BUSY', reason);
  }

  private async verify(token: string): Promise<string | undefined> {
    for (const [tenantId, tenant] of Object.entries(this.tenants)) {
      for (const hash of tenant.apiTokens) {
        if (await verifyToken(token, hash)) return tenantId;
      }
    }
    return undefined;
  }

  private remember(key: string, tenantId: string | undefined): void {
    this.cache.delete(key);
    this.cache.set(key, { tenantId, until: this.now() + (tenantId === undefined ? MISS_TTL_MS : HIT_TTL_MS) });
    while (this.cache.size > MAX_CACHED) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}
