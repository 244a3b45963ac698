/**
 * API-token checks: the synchronous `cached` hot path answers only what a verification has
 * settled (hits and misses alike, until they expire), and never runs scrypt itself.
 */
import { describe, expect, it } from 'vitest';
import { hashToken } from '../../../src/config/index.js';
import type { HubConfig } from '../../../src/config/index.js';
import { ApiTokens } from '../../../src/hub/http/api-tokens.js';

async function tenants(): Promise<HubConfig['tenants']> {
  return {
    acme: { agents: [], apiTokens: [await hashToken('acme-token')] },
    globex: { agents: [], apiTokens: [await hashToken('globex-token')] },
  };
}

describe('ApiTokens', () => {
  it('answers from the cache only after a verification, for valid and invalid tokens', async () => {
    let now = 0;
    const tokens = new ApiTokens(await tenants(), () => now);
    expect(tokens.cached('globex-token')).toBeUndefined();
    expect(await tokens.tenantOf('globex-token')).toBe('globex');
    expect(tokens.cached('globex-token')).toMatchObject({ tenantId: 'globex' });
    expect(tokens.cached('wrong')).toBeUndefined();
    expect(await tokens.tenantOf('wrong')).toBeUndefined();
    expect(tokens.cached('wrong')).toMatchObject({ tenantId: undefined });
    // A miss is forgotten after a minute, a hit after an hour.
    now = 61_000;
    expect(tokens.cached('wrong')).toBeUndefined();
    expect(tokens.cached('globex-token')).toMatchObject({ tenantId: 'globex' });
    now = 3_601_000;
    expect(tokens.cached('globex-token')).toBeUndefined();
    expect(await tokens.tenantOf('globex-token')).toBe('globex');
  });

  it('shares one verification between concurrent first uses', async () => {
    const tokens = new ApiTokens(await tenants());
    const [a, b] = [tokens.tenantOf('acme-token'), tokens.tenantOf('acme-token')];
    expect(await a).toBe('acme');
    expect(await b).toBe('acme');
    expect(tokens.cached('acme-token')).toMatchObject({ tenantId: 'acme' });
  });

  it('reads a Bearer header strictly', () => {
    expect(ApiTokens.bearer('Bearer abc')).toBe('abc');
    expect(ApiTokens.bearer('bearer  abc ')).toBe('abc');
    expect(ApiTokens.bearer('Basic abc')).toBeUndefined();
    expect(ApiTokens.bearer(`Bearer ${'x'.repeat(513)}`)).toBeUndefined();
    expect(ApiTokens.bearer(undefined)).toBeUndefined();
  });
});
