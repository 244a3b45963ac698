/**
 * Everything that stands between a presented password or API token and scrypt: the source's
 * penalty window (failure-penalties.ts), the cache of known-wrong credentials
 * (negative-cache.ts) and the semaphore on hash work (hash-gate.ts). One instance per hub,
 * shared by agent upgrades and the HTTP API, so both draw on the same CPU budget.
 */
import type { HubAuthenticationConfig } from '../../config/hub-config.js';
import { FailurePenalties } from './failure-penalties.js';
import { HashBusyError, HashGate } from './hash-gate.js';
import { NegativeCache } from './negative-cache.js';

/** Why a credential was not checked, as an HTTP answer: 429 (penalty) or 503 (busy). */
export interface CheckRefusal {
  readonly status: 429 | 503;
  readonly retryAfterSeconds: number;
  readonly reason: string;
}

/** Who presented the credential: an agent upgrade or an HTTP API request. */
export type CheckVia = 'agent' | 'api';

/**
 * How one check ended: `ok`, `failed` (scrypt said no), `known_wrong` (refused from the cache of
 * wrong credentials, no scrypt), `penalty` (429) or `busy` (503).
 */
export type CheckOutcome = 'ok' | 'failed' | 'known_wrong' | 'penalty' | 'busy';

export type CheckResult<T> = { readonly ok: true; readonly value: T | undefined } | { readonly ok: false; readonly refusal: CheckRefusal };

export class CredentialChecks {
  readonly gate: HashGate;
  readonly penalties: FailurePenalties;
  readonly misses: NegativeCache;

  constructor(
    config: HubAuthenticationConfig,
    private readonly observe: (via: CheckVia, outcome: CheckOutcome) => void = () => undefined,
    now: () => number = Date.now,
  ) {
    this.gate = new HashGate({ maxConcurrent: config.maxConcurrentHashes, maxQueued: config.maxQueuedHashes });
    this.penalties = new FailurePenalties(config, now);
    this.misses = new NegativeCache(config.negativeCacheTtl, now);
  }

  /** The answer for a source in its penalty window, or undefined when it may try. */
  penaltyOf(source: string): CheckRefusal | undefined {
    const ms = this.penalties.retryAfterMs(source);
    if (ms <= 0) return undefined;
    const retryAfterSeconds = Math.max(1, Math.ceil(ms / 1000));
    return { status: 429, retryAfterSeconds, reason: `too many failed authentication attempts from this address: retry after ${retryAfterSeconds} s` };
  }

  /**
   * Checks a credential (`credential` are its parts, e.g. user name and password) with
   * `verify`, which runs scrypt and yields undefined for a wrong credential. A credential known
   * to be wrong is answered without `verify`. The source's failure count follows the outcome.
   */
  async check<T>(via: CheckVia, source: string, credential: readonly string[], verify: () => Promise<T | undefined>): Promise<CheckResult<T>> {
    const penalty = this.penaltyOf(source);
    if (penalty !== undefined) {
      this.observe(via, 'penalty');
      return { ok: false, refusal: penalty };
    }
    const key = this.misses.keyOf(via, ...credential);
    const knownWrong = this.misses.has(key);
    let value: T | undefined;
    if (!knownWrong) {
      try {
        value = await this.gate.run(source, this.penalties.isSuspect(source), verify);
      } catch (err) {
        if (!(err instanceof HashBusyError)) throw err;
        this.observe(via, 'busy');
        return { ok: false, refusal: { status: 503, retryAfterSeconds: err.retryAfterSeconds, reason: err.message } };
      }
    }
    if (value === undefined) {
      this.misses.add(key);
      this.penalties.failed(source);
      this.observe(via, knownWrong ? 'known_wrong' : 'failed');
    } else {
      this.penalties.succeeded(source);
      this.observe(via, 'ok');
    }
    return { ok: true, value };
  }
}
