import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig, loadHubConfig, summarizeAgentConfig, summarizeHubConfig, verifyPassword } from '../../../src/config/index.js';

const CONFIG = join(import.meta.dirname, '../../../config');

describe('shipped example configuration', () => {
  it('config/application.yaml decodes without any environment variable', () => {
    const cfg = loadAgentConfig(join(CONFIG, 'application.yaml'), {});
    expect(cfg.agent).toMatchObject({ id: 'site-a-1', tenantId: '1', userName: 'agent', password: 'change-me' });
    expect(Object.keys(cfg.dataSources)).toEqual(['corp-ldap', 'hr-scim']);
    expect(summarizeAgentConfig(cfg)).not.toContain('change-me');
  });

  it('config/hub.yaml decodes without any environment variable', async () => {
    const cfg = loadHubConfig(join(CONFIG, 'hub.yaml'), {});
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 8443, path: '/agent' });
    expect(cfg.tls?.clientCa).toBe(join(CONFIG, 'certs/agents-ca.pem'));
    const [basic] = cfg.tenants['1']?.agents ?? [];
    expect(basic && 'passwordHash' in basic && (await verifyPassword('change-me', basic.passwordHash))).toBe(true);
    expect(summarizeHubConfig(cfg)).toContain('hub listening on wss://127.0.0.1:8443/agent');
  });

  it('config/application.yaml takes values from the environment when set', () => {
    const cfg = loadAgentConfig(join(CONFIG, 'application.yaml'), { DATASYNC_PASSWORD: 'real', DATASYNC_AGENT_ID: 'edge-7' });
    expect(cfg.agent.password).toBe('real');
    expect(cfg.agent.id).toBe('edge-7');
  });
});
