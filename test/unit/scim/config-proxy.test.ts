/**
 * A SCIM source's `proxy` is checked like `agent.proxy` (ProxyUrl): a password with an
 * unencoded `/ ? #` is a config error at its line and column, with the password masked — not a
 * failure at the first request.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../../src/config/agent-config.js';
import { ConfigError } from '../../../src/config/problems.js';

const dir = mkdtempSync(join(tmpdir(), 'scim-proxy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(proxy: string): unknown {
  const file = join(dir, `a-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `agent:\n  urls: wss://hub.example/agent\n  tenantId: t\n  userName: a\n  password: b\ndataSources:\n  hr:\n    type: scim\n    baseUrl: https://hr.example/scim/v2\n    bearerToken: x\n    proxy: ${JSON.stringify(proxy)}\n`,
  );
  try {
    return loadAgentConfig(file, {});
  } catch (err) {
    return err;
  }
}

describe('scim proxy URL', () => {
  it('a percent-encoded password is accepted', () => {
    expect(load('http://user:se%2Fcret@proxy.example:3128')).not.toBeInstanceOf(Error);
  });

  it('an unencoded / in the password: the line and column, the password masked', () => {
    const err = load('http://user:se/cret-Pw9@proxy.example:3128');
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).message;
    expect(text).toMatch(/:11:\d+: dataSources\.hr\.proxy: expected http:\/\/ or https:\/\/ proxy URL/);
    expect(text).not.toContain('cret-Pw9');
  });
});
