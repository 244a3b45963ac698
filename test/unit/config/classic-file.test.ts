/**
 * The classic agent's `application.yaml` decodes unchanged: http(s) hub URLs dialled as ws(s),
 * the tenant as a number, `logging.config` accepted with one warning; numbers where text is
 * expected get a "quote it" hint; the hub listens on several agent paths.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, decodeAgentConfig, decodeHubConfig } from '../../../src/config/index.js';
import { agentConfigWarnings, dialledHubUrl } from '../../../src/config/agent-config.js';
import { agentPaths } from '../../../src/config/hub-config.js';

const CLASSIC = join(import.meta.dirname, '../../fixtures/classic/application.yaml');

function problems(decode: () => unknown): string[] {
  try {
    decode();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.path.join('.')}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('the classic application.yaml', () => {
  it('decodes verbatim: https URLs dialled as wss on the same host, port and path; tenant 1; reconnectDelay kept', () => {
    const cfg = decodeAgentConfig(readFileSync(CLASSIC, 'utf8'), CLASSIC, {});
    expect(cfg.agent.urls).toEqual(['wss://localhost:18443/idm', 'wss://localhost:18443/idm-admin']);
    expect(cfg.agent).toMatchObject({ tenantId: '1', userName: 'admin', password: 'admin' });
    expect(cfg.reconnectDelay).toBe(15_000);
    expect(cfg['logging.config']).toBe('./log4j2.xml');
  });

  it('gives one warning for logging.config, naming the keys to use instead', () => {
    const cfg = decodeAgentConfig(readFileSync(CLASSIC, 'utf8'), CLASSIC, {});
    const warnings = agentConfigWarnings(cfg);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^logging\.config: "\.\/log4j2\.xml" is not read .*logging\.level, logging\.file and logging\.format/);
    const nested = decodeAgentConfig('logging: { config: log4j2.xml }\nagent: { urls: wss://h/agent, tenantId: 1 }\n', 'a.yaml', {});
    expect(agentConfigWarnings(nested)).toEqual([expect.stringMatching(/^logging: \{ config \}: "log4j2\.xml" is not read/)]);
    expect(agentConfigWarnings(decodeAgentConfig('agent: { urls: wss://h/agent, tenantId: 1 }\n', 'a.yaml', {}))).toEqual([]);
  });
});

describe('hub URLs', () => {
  it('http and https become ws and wss; only the scheme changes', () => {
    expect(dialledHubUrl('https://idm.example.com:18443/idm?x=1')).toBe('wss://idm.example.com:18443/idm?x=1');
    expect(dialledHubUrl('http://127.0.0.1/idm-admin')).toBe('ws://127.0.0.1/idm-admin');
    expect(dialledHubUrl('HTTPS://Host.Example/Path')).toBe('wss://Host.Example/Path');
    expect(dialledHubUrl('wss://h/agent')).toBe('wss://h/agent');
    expect(dialledHubUrl('ftp://h/agent')).toBeUndefined();
    expect(dialledHubUrl('not a url')).toBeUndefined();
  });

  it('refuses other schemes with the accepted ones named', () => {
    expect(problems(() => decodeAgentConfig('agent:\n  urls: [ftp://h/idm]\n  tenantId: 1\n', 'a.yaml', {}))).toEqual([
      'a.yaml:2:10: agent.urls.0: expected ws://, wss://, http:// or https:// URL, got "ftp://h/idm"',
    ]);
  });
});

describe('quote-it hints', () => {
  it('a number or boolean where text is expected says to quote it, with FILE:LINE:COL; a secret stays hidden', () => {
    const text = 'agent:\n  urls: https://h/idm\n  tenantId: 1\n  userName: 123\n  password: 1\n  noProxy: true\n';
    expect(problems(() => decodeAgentConfig(text, 'application.yaml', {}))).toEqual([
      'application.yaml:4:13: agent.userName: expected non-empty string, got 123 (a number): quote it, e.g. userName: "123"',
      'application.yaml:5:13: agent.password: expected string, got <redacted number>: quote it, e.g. password: "<the value as written>"',
      'application.yaml:6:12: agent.noProxy: expected string, got true (a boolean): quote it, e.g. noProxy: "true"',
    ]);
  });

  it('quoted, the same values decode', () => {
    const cfg = decodeAgentConfig('agent:\n  urls: https://h/idm\n  tenantId: 1\n  userName: "123"\n  password: "1"\n', 'a.yaml', {});
    expect(cfg.agent).toMatchObject({ userName: '123', password: '1' });
  });
});

describe('hub listen.paths', () => {
  const TENANTS = 'tenants: {"1": {agents: []}}\n';

  it('lists several agent endpoints; path is the first of them', () => {
    const cfg = decodeHubConfig(`listen: { port: 0, paths: [/idm, /idm-admin] }\n${TENANTS}`, 'hub.yaml', {});
    expect(agentPaths(cfg.listen)).toEqual(['/idm', '/idm-admin']);
    expect(cfg.listen.path).toBe('/idm');
  });

  it('defaults to path /agent alone', () => {
    expect(agentPaths(decodeHubConfig(TENANTS, 'hub.yaml', {}).listen)).toEqual(['/agent']);
    expect(agentPaths(decodeHubConfig(`listen: { path: /x }\n${TENANTS}`, 'hub.yaml', {}).listen)).toEqual(['/x']);
  });

  it('path and paths together, an empty list and a relative path are config errors', () => {
    expect(problems(() => decodeHubConfig(`listen: { path: /agent, paths: [/idm] }\n${TENANTS}`, 'hub.yaml', {}))).toEqual([
      'hub.yaml:1:32: listen.paths: expected listen.path (one agent endpoint) or listen.paths (several), got both',
    ]);
    expect(problems(() => decodeHubConfig(`listen: { paths: [] }\n${TENANTS}`, 'hub.yaml', {}))).toEqual([
      'hub.yaml:1:18: listen.paths: expected list of URL paths starting with /, got []',
    ]);
    expect(problems(() => decodeHubConfig(`listen: { paths: [idm] }\n${TENANTS}`, 'hub.yaml', {}))).toEqual([
      'hub.yaml:1:19: listen.paths.0: expected URL path starting with /, got "idm"',
    ]);
  });
});
