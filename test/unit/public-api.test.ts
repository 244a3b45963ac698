/** The package entry point exposes what README and docs/adapters.md tell developers to import. */
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

describe('public API (src/index.ts)', () => {
  it('exports the runtime classes, the client, config loaders, the adapter registry and operators', () => {
    for (const name of ['Agent', 'Hub', 'HubClient', 'HubApiError', 'ConfigError'] as const) expect(typeof api[name]).toBe('function');
    for (const name of ['loadAgentConfig', 'loadAgentConfigWithPlugins', 'loadPlugins', 'loadHubConfig', 'defineDataSource', 'registerDataSource', 'createAdapter', 'hashPassword', 'createLogger'] as const) {
      expect(typeof api[name]).toBe('function');
    }
    expect(typeof api.operators.creditStream).toBe('function');
    expect(typeof api.protocol.decodeFrame).toBe('function');
    expect(api.VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});
