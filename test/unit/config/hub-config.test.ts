import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeHubConfig, loadHubConfig, summarizeHubConfig, verifyPassword } from '../../../src/config/index.js';
import type { HubConfig } from '../../../src/config/index.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/config');

describe('hub configuration', () => {
  it('decodes a complete file with credentials of every kind', async () => {
    const cfg = loadHubConfig(join(FIXTURES, 'hub-good.yaml'), {});
    expect(cfg.listen).toEqual({ host: '0.0.0.0', port: 9443, path: '/agents' });
    expect(cfg.tls).toEqual({
      cert: join(FIXTURES, 'certs/hub.pem'),
      key: join(FIXTURES, 'certs/hub-key.pem'),
      clientCa: join(FIXTURES, 'certs/agents-ca.pem'),
    });
    expect(cfg.timeouts).toEqual({ test: 30000, schema: 60000, get: 30000, search: 120000, export: 3600000 });
    expect(Object.keys(cfg.tenants)).toEqual(['1', 'globex']);
    const [password, subject] = cfg.tenants['1']?.agents ?? [];
    expect(subject).toEqual({ certificateSubject: 'CN=site-b.acme.example' });
    expect(password && 'passwordHash' in password && (await verifyPassword('agent-secret', password.passwordHash))).toBe(true);
    const [token] = cfg.tenants['1']?.apiTokens ?? [];
    expect(await verifyPassword('api-token-1', token ?? '')).toBe(true);
    expect(cfg.tenants['globex']).toEqual({ agents: [{ certificateSan: 'agent.globex.example' }], apiTokens: [] });
  });

  it('fills every default for a minimal file', () => {
    const cfg: HubConfig = loadHubConfig(join(FIXTURES, 'hub-minimal.yaml'), {});
    expect(cfg).toEqual({
      logging: { level: 'info', format: 'auto', progressInterval: 10000 },
      listen: { host: '127.0.0.1', port: 8443, path: '/agent' },
      keepAliveInterval: 10000,
      keepAliveTimeout: 10000,
      maxFrameBytes: 1048576,
      registrationTimeout: 10000,
      timeouts: { test: 30000, schema: 60000, get: 30000, search: 600000, export: 3600000 },
      api: { maxBodyBytes: 1048576, maxLineBytes: 1048576, maxExportBytes: 10737418240, maxInFlightPerTenant: 256 },
      connections: { headersTimeout: 10000, upgradeTimeout: 10000, maxPending: 1024, maxPendingPerAddress: 64, maxSessionsPerTenant: 256 },
      trustedProxies: [],
      authentication: {
        maxConcurrentHashes: 2,
        maxQueuedHashes: 32,
        freeFailures: 3,
        penaltyBase: 1000,
        penaltyMax: 300000,
        failureMemory: 900000,
        negativeCacheTtl: 60000,
      },
      tenants: { '1': { agents: [], apiTokens: [] } },
    });
    expect(cfg).not.toHaveProperty('tls');
    expect(cfg).not.toHaveProperty('status');
  });

  it('reads the status listener as host:port, IPv6 in brackets, and names a bad one', () => {
    const base = 'tenants: {t: {agents: []}}\n';
    expect(decodeHubConfig(`${base}status: {listen: '127.0.0.1:9465'}\n`, 'hub.yaml', {}).status).toEqual({ listen: { host: '127.0.0.1', port: 9465 } });
    expect(decodeHubConfig(`${base}status: {listen: '[::1]:9465'}\n`, 'hub.yaml', {}).status).toEqual({ listen: { host: '::1', port: 9465 } });
    expect(() => decodeHubConfig(`${base}status: {listen: '127.0.0.1'}\n`, 'hub.yaml', {})).toThrow(
      'hub.yaml:2:18: status.listen: expected host:port (e.g. 127.0.0.1:9464), got "127.0.0.1"',
    );
  });

  it('requires at least one tenant', () => {
    expect(() => decodeHubConfig('listen: {port: 1}\n', 'hub.yaml', {})).toThrow(
      "hub.yaml:1:1: missing required key 'tenants'",
    );
  });

  it('takes the port from the environment', () => {
    const cfg = decodeHubConfig('listen: {port: "${HUB_PORT:-9000}"}\ntenants: {a: {agents: []}}\n', 'hub.yaml', {});
    expect(cfg.listen.port).toBe(9000);
  });
});

describe('summarizeHubConfig', () => {
  it('lists address, TLS, client-CA auth and tenants with credential counts', () => {
    const summary = summarizeHubConfig(loadHubConfig(join(FIXTURES, 'hub-good.yaml'), {}));
    expect(summary.split('\n')).toEqual(
      expect.arrayContaining([
        'hub listening on wss://0.0.0.0:9443/agents',
        `TLS: on (cert ${join(FIXTURES, 'certs/hub.pem')}, key ${join(FIXTURES, 'certs/hub-key.pem')})`,
        `client-certificate auth: on (CAs ${join(FIXTURES, 'certs/agents-ca.pem')})`,
        '  1: 2 agent credentials (1 password, 1 certificate), 1 API token',
        '  globex: 1 agent credential (0 password, 1 certificate), 0 API tokens',
      ]),
    );
    expect(summary).not.toContain('scrypt$');
  });

  it('warns when TLS is off', () => {
    const summary = summarizeHubConfig(loadHubConfig(join(FIXTURES, 'hub-minimal.yaml'), {}));
    expect(summary).toContain('hub listening on ws://127.0.0.1:8443/agent');
    expect(summary).toContain('HTTP API: on the same listener, /v1 (JSON body ≤ 1048576 bytes, export line ≤ 1048576 bytes, 256 requests in flight per tenant)');
    expect(summary).toContain('status listener: off');
    const withStatus = decodeHubConfig('tenants: {t: {agents: []}}\nstatus: {listen: "[::1]:9465"}\n', 'hub.yaml', {});
    expect(summarizeHubConfig(withStatus)).toContain('status listener: http://[::1]:9465 (/healthz, /readyz, /metrics)');
    expect(summary).toMatch(/TLS: off — WARNING/);
    expect(summary).toContain('client-certificate auth: off');
  });
});
