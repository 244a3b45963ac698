import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  decodeAgentConfig,
  loadAgentConfig,
  summarizeAgentConfig,
} from '../../../src/config/index.js';
import type { AgentConfig } from '../../../src/config/index.js';
import type { LdapDataSourceConfig } from '../../../src/adapters/ldap/config.js';
import type { ScimDataSourceConfig } from '../../../src/adapters/scim/config.js';
import { makeTestPki, type TestPki } from '../../helpers/certs.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/config');
const ENV = { DATASYNC_PASSWORD: 's3cr3t: #not yaml', LDAP_PASSWORD: 'ldap-pw', HR_TOKEN: 'hr-token' };
const MINIMAL = 'agent:\n  urls: wss://idm.example.com/agent\n  tenantId: acme\n';

/**
 * The loader checks the key and trust stores, so agent-good.yaml is loaded from a temp dir as
 * `<dir>/application.yaml` next to a PKI generated at test time in `<dir>/certs/` (its relative
 * store paths resolve there); nothing binary is checked in.
 */
let dir: string;
let pki: TestPki;
let file: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-agent-config-'));
  const certs = join(dir, 'certs');
  pki = makeTestPki(certs); // writes certs/ca.pem, the trustStore of agent-good.yaml
  copyFileSync(pki.client.pemBundleFile, join(certs, 'agent.pem'));
  // dataSources.corp-ldap.tls.ca is not checked at load time; it exists anyway, as in a real install.
  copyFileSync(pki.ca.file, join(certs, 'corp-ca.pem'));
  file = join(dir, 'application.yaml');
  copyFileSync(join(FIXTURES, 'agent-good.yaml'), file);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    decodeAgentConfig(text, 'agent.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.line}:${p.col}: ${p.path.join('.')}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('agent configuration', () => {
  it('decodes a complete file, filling in defaults', () => {
    const cfg = loadAgentConfig(file, ENV);
    expect(cfg).toMatchObject({
      logging: { level: 'debug' },
      agent: {
        id: 'site-a-1',
        urls: ['wss://idm.example.com/agent', 'wss://idm-admin.example.com/agent'],
        tenantId: '1',
        userName: 'agent',
        proxy: 'http://proxy.corp:3128',
      },
      reconnectDelay: 15000,
      maxReconnectDelay: 300000,
      reconnectResetAfter: 60000,
      keepAliveInterval: 10000,
      keepAliveTimeout: 10000,
      maxFrameBytes: 1048576,
    });
    const ldap = cfg.dataSources['corp-ldap'] as unknown as LdapDataSourceConfig;
    expect(ldap).toMatchObject({
      type: 'ldap',
      urls: ['ldaps://dc1.corp.example:636'],
      bindPassword: 'ldap-pw',
      startTLS: false,
      pageSize: 500,
      timeoutMs: 30000,
      operations: ['test', 'attributes', 'get', 'search', 'export'],
    });
    expect(ldap).not.toHaveProperty('url');
    const scim = cfg.dataSources['hr-scim'] as unknown as ScimDataSourceConfig;
    expect(scim).toEqual({
      type: 'scim',
      baseUrl: 'https://hr.corp.example/scim/v2',
      bearerToken: 'hr-token',
      timeoutMs: 30000,
      pageSize: 100,
      operations: ['test', 'attributes', 'schema', 'get', 'search'],
    });
  });

  it('interpolates env values as plain strings, uses defaults and allows empty secrets', () => {
    const cfg = loadAgentConfig(file, ENV);
    // YAML syntax inside a secret does not change the structure of the file.
    expect(cfg.agent.password).toBe('s3cr3t: #not yaml');
    // `${KEYSTORE_PASSWORD:-}`: unset → the (empty) default.
    expect(cfg.agent.keyStorePassword).toBe('');
    expect(loadAgentConfig(file, { ...ENV, KEYSTORE_PASSWORD: 'ks' }).agent.keyStorePassword).toBe('ks');
  });

  it('names every missing variable with the line:col of its value', () => {
    expect(problems(readFileSync(file, 'utf8'), { LDAP_PASSWORD: 'x' })).toEqual([
      "10:13: agent.password: environment variable 'DATASYNC_PASSWORD' is not set (give a default with ${DATASYNC_PASSWORD:-value})",
      "30:18: dataSources.hr-scim.bearerToken: environment variable 'HR_TOKEN' is not set (give a default with ${HR_TOKEN:-value})",
    ]);
  });

  it('resolves relative file names against the directory of the configuration file', () => {
    const cfg = loadAgentConfig(file, ENV);
    expect(cfg.logging.file).toBe(join(dir, 'logs/agent.log'));
    expect(cfg.agent.keyStore).toBe(join(dir, 'certs/agent.pem'));
    expect(cfg.agent.trustStore).toBe(join(dir, 'certs/ca.pem'));
    expect((cfg.dataSources['corp-ldap'] as unknown as LdapDataSourceConfig).tls?.ca).toBe(join(dir, 'certs/corp-ca.pem'));
    // The configuration text need not be a file: its name alone anchors relative paths.
    const absolute = decodeAgentConfig(`${MINIMAL}  trustStore: ${pki.ca.file}\n`, join(dir, 'srv/agent/agent.yaml'), {});
    expect(absolute.agent.trustStore).toBe(pki.ca.file);
    const relative = decodeAgentConfig(`${MINIMAL}  trustStore: ca.pem\n`, join(dir, 'certs/agent.yaml'), {});
    expect(relative.agent.trustStore).toBe(join(dir, 'certs/ca.pem'));
  });

  it('loads PKCS#12 key and trust stores named relative to the configuration file', () => {
    copyFileSync(pki.client.p12File, join(dir, 'certs/agent.p12'));
    const text =
      `${MINIMAL}  keyStore: ./certs/agent.p12\n  keyStorePassword: \${KEYSTORE_PASSWORD}\n` +
      `  trustStore: certs/truststore.p12\n  trustStorePassword: \${TRUSTSTORE_PASSWORD}\n`;
    const env = { KEYSTORE_PASSWORD: pki.client.p12Password, TRUSTSTORE_PASSWORD: pki.trustP12Password };
    // The working directory is not `dir`: only resolution against the configuration finds the stores.
    expect(process.cwd()).not.toBe(dir);
    const cfg = decodeAgentConfig(text, file, env);
    expect(cfg.agent).toMatchObject({
      keyStore: join(dir, 'certs/agent.p12'),
      keyStorePassword: pki.client.p12Password,
      trustStore: pki.trustP12File,
      trustStorePassword: pki.trustP12Password,
    });
  });

  it('fills every default for a minimal file and omits absent optional keys', () => {
    const cfg: AgentConfig = loadAgentConfig(join(FIXTURES, 'agent-minimal.yaml'), {});
    expect(cfg).toEqual({
      logging: { level: 'info', format: 'auto', progressInterval: 10000 },
      agent: { id: hostname(), urls: ['wss://idm.example.com/agent'], tenantId: 'acme' },
      reconnectDelay: 15000,
      maxReconnectDelay: 300000,
      reconnectResetAfter: 60000,
      keepAliveInterval: 10000,
      keepAliveTimeout: 10000,
      maxFrameBytes: 1048576,
      maxConcurrentRequests: 16,
      maxQueuedRequests: 64,
      maxConcurrentStreams: 8,
      maxChunkItems: 500,
      maxRequestTimeout: 3600000,
      streamWindow: 4,
      shutdownGracePeriod: 30000,
      testOnStart: true,
      dataSources: {},
    });
    expect(Object.keys(cfg.agent)).toEqual(['id', 'urls', 'tenantId']);
  });

  it('refuses a hub URL listed twice, also as https:// beside the wss:// it is dialled as', () => {
    const text = 'agent:\n  urls:\n    - https://h:18443/idm\n    - wss://h:18443/idm-admin\n    - wss://h:18443/idm\n  tenantId: 1\n';
    expect(problems(text)).toEqual(['5:7: agent.urls.2: expected each hub URL once, got wss://h:18443/idm again (as urls.0); list it once']);
  });

  it('tests the data sources at start-up unless testOnStart is false; a non-boolean is a problem at its line', () => {
    expect(decodeAgentConfig(`${MINIMAL}testOnStart: false\n`, 'a.yaml', {}).testOnStart).toBe(false);
    expect(problems(`${MINIMAL}testOnStart: sometimes\n`)).toEqual([expect.stringMatching(/^4:14: testOnStart: expected .*got "sometimes"/)]);
  });

  it.each([
    ['tenantId: 42', '42'],
    ["tenantId: '42'", '42'],
    ['tenantId: acme', 'acme'],
  ])('accepts %s as tenant %s', (line, tenant) => {
    const cfg = decodeAgentConfig(`agent:\n  urls: wss://h/a\n  ${line}\n`, 'a.yaml', {});
    expect(cfg.agent.tenantId).toBe(tenant);
  });

  it('rejects a tenant that is neither a string nor an integer', () => {
    expect(problems('agent:\n  urls: wss://h/a\n  tenantId: 1.5\n')).toEqual([
      '3:13: agent.tenantId: expected tenant id (string or integer), got 1.5',
    ]);
  });

  it('takes numbers from env references (which are strings)', () => {
    const text = `${MINIMAL}reconnectDelay: \${DELAY:-2000}\nmaxFrameBytes: "\${MAX_FRAME}"\n`;
    const cfg = decodeAgentConfig(text, 'a.yaml', { MAX_FRAME: '65536' });
    expect(cfg.reconnectDelay).toBe(2000);
    expect(cfg.maxFrameBytes).toBe(65536);
  });

  it('treats an empty section like an absent one', () => {
    const cfg = decodeAgentConfig(`logging:\n${MINIMAL}dataSources:\n`, 'a.yaml', {});
    expect(cfg.logging).toEqual({ level: 'info', format: 'auto', progressInterval: 10000 });
    expect(cfg.dataSources).toEqual({});
  });

  it('reports a default maxReconnectDelay below reconnectDelay at reconnectDelay', () => {
    expect(problems(`${MINIMAL}reconnectDelay: 400000\n`)).toEqual([
      '4:17: reconnectDelay: expected <= maxReconnectDelay (300000, the default), got 400000',
    ]);
  });

  it('checks the scim authentication methods and their pairs', () => {
    const text = `${MINIMAL}dataSources:\n  hr:\n    type: scim\n    baseUrl: https://hr/scim\n    bearerToken: t\n    clientId: c\n`;
    expect(problems(text)).toEqual([
      "6:5: dataSources.hr: missing required key 'tokenUrl' (OAuth client credentials need tokenUrl, clientId and clientSecret)",
      "6:5: dataSources.hr: missing required key 'clientSecret' (OAuth client credentials need tokenUrl, clientId and clientSecret)",
      '6:5: dataSources.hr: expected at most one authentication method, got bearerToken and tokenUrl/clientId/clientSecret',
    ]);
  });

  it('keeps a data source named __proto__ a plain key', () => {
    const text = `${MINIMAL}dataSources:\n  __proto__: {type: ldap, url: ldap://x, baseDN: x}\n`;
    const cfg = decodeAgentConfig(text, 'a.yaml', {});
    expect(Object.keys(cfg.dataSources)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(cfg.dataSources)).toBe(Object.prototype);
  });

  it('never prints a secret, not even inside an object', () => {
    const text = `${MINIMAL}dataSources:\n  hr: [{type: scim, bearerToken: TOPSECRET}]\n  db:\n    type: ldap\n    url: ldap://db\n    baseDN: ''\n    bindDN: cn=x\n    bindPassword: 12345\n`;
    const all = problems(text).join('\n');
    expect(all).toContain('dataSources.hr: expected data source mapping, got [{"type":"scim","bearerToken":"<redacted>"}]');
    expect(all).toContain('dataSources.db.bindPassword: expected string, got <redacted number>');
    expect(all).not.toContain('TOPSECRET');
    expect(all).not.toContain('12345');
  });
});

describe('summarizeAgentConfig', () => {
  it('says what will run without any secret', () => {
    const summary = summarizeAgentConfig(loadAgentConfig(file, ENV));
    expect(summary).toContain('agent site-a-1, tenant 1');
    expect(summary).toContain('  wss://idm.example.com/agent\n  wss://idm-admin.example.com/agent');
    expect(summary).toContain(`auth: client certificate (keyStore ${join(dir, 'certs/agent.pem')})`);
    expect(summary).toContain('userName agent is ignored: the client certificate wins');
    expect(summary).toContain('proxy: http://proxy.corp:3128');
    expect(summary).toContain('reconnect: backoff from 15000 ms up to 300000 ms, reset after 60000 ms registered');
    expect(summary).toContain('keep-alive: ping every 10000 ms, drop after 10000 ms without pong');
    expect(summary).toContain('corp-ldap: ldap ldaps://dc1.corp.example:636');
    expect(summary).toContain('operations test, attributes, get, search, export');
    expect(summary).toContain('data sources: 2, each tested once at start-up');
    expect(summary).toContain('hr-scim: scim https://hr.corp.example/scim/v2, bearer token');
    for (const secret of Object.values(ENV)) expect(summary).not.toContain(secret);
  });

  it('shows basic auth, masks a proxy password and warns about insecureSkipVerify', () => {
    const text = `${MINIMAL}  userName: bob\n  password: pw\n  proxy: http://u:proxypw@proxy:3128\ndataSources:\n  x:\n    type: ldap\n    url: ldap://x\n    baseDN: dc=x\n    tls: {insecureSkipVerify: true}\n`;
    const summary = summarizeAgentConfig(decodeAgentConfig(text, 'a.yaml', {}));
    expect(summary).toContain('auth: basic (userName bob)');
    expect(summary).toContain('proxy: http://u:***@proxy:3128');
    expect(summary).toContain('WARNING: x: TLS certificate verification is disabled');
    expect(summary).not.toContain('proxypw');
  });
});
