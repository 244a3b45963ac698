/**
 * Secrets never appear in logs, errors or what the hub learns. Distinctive secrets are
 * configured everywhere a secret can be — agent password, key-store and trust-store passwords,
 * proxy credentials, LDAP bind passwords, SCIM bearer token, OAuth client secret, SCIM Basic
 * password, the hub's API token — then every scenario runs at `trace` level: registration
 * through an authenticating proxy, a refused agent password, a client-certificate agent,
 * successful and failing data-source calls through the HTTP API, a wrong API token, and bad
 * configuration files. All hub and agent log output, every HTTP response, the hub's view of the
 * agent and every configuration error message are scanned for each secret.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { Agent as UndiciAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { ConfigError, decodeAgentConfig, hashPassword, loadAgentConfig, loadHubConfig } from '../../src/config/index.js';
import { Hub } from '../../src/hub/hub.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { isState, makeEnv, recordStatuses, type Env } from '../helpers/relay-env.js';
import { startScimServer, type ScimServer } from '../helpers/scim-server.js';
import { startSlapd, type Slapd } from '../helpers/slapd.js';

const S = {
  agentPassword: 'AgentPw-7f3c9e1d-SECRET',
  wrongAgentPassword: 'WrongAgentPw-55aa01-SECRET',
  proxyPassword: 'ProxyPw-c0ffee42-SECRET',
  ldapBadPassword: 'LdapBadPw-8d8d8d-SECRET',
  scimToken: 'ScimBearer-1a2b3c4d5e-SECRET',
  oauthSecret: 'OauthClientSecret-9e9e9e-SECRET',
  scimBasicPassword: 'ScimBasicPw-4242-SECRET',
  apiToken: 'ApiToken-d00dfeed77-SECRET',
  wrongApiToken: 'WrongApiToken-abcabc-SECRET',
};

let env: Env;
let slapd: Slapd;
let scim: ScimServer;
let proxy: ConnectProxy;
let hub: Hub;
let hubLogs: LogCapture;
let hubPort: number;
const agentLogs: LogCapture[] = [];
const agents: Agent[] = [];
const responses: string[] = [];
let dispatcher: UndiciAgent;

/** Secrets of the fixtures themselves (not chosen here, but secrets all the same). */
const fixtureSecrets = (): string[] => [env.pki.client.p12Password, env.pki.trustP12Password, slapd.readerPassword];

beforeAll(async () => {
  env = makeEnv();
  [slapd, scim, proxy] = await Promise.all([
    startSlapd({ entries: 200 }),
    startScimServer({ users: 50, token: S.scimToken, oauth: { clientId: 'sync-client', clientSecret: S.oauthSecret }, basic: { userName: 'scim-basic', password: 'the-right-one' } }),
    startConnectProxy({ auth: { username: 'proxy-user', password: S.proxyPassword } }),
  ]);
  const [agentHash, tokenHash] = await Promise.all([hashPassword(S.agentPassword), hashPassword(S.apiToken)]);
  const hubFile = join(env.dir, 'hub.yaml');
  writeFileSync(
    hubFile,
    `logging: { level: trace }
listen: { host: 127.0.0.1, port: 0 }
tls: { cert: ${env.pki.server.certFile}, key: ${env.pki.server.keyFile}, clientCa: ${env.pki.ca.file} }
tenants:
  sec:
    agents:
      - userName: sec-agent
        passwordHash: ${agentHash}
      - certificateSubject: site-a-1
    apiTokens: ['${tokenHash}']
`,
  );
  hubLogs = captureLogs('trace');
  hub = new Hub(loadHubConfig(hubFile, {}), hubLogs.logger);
  hubPort = (await hub.listen()).port;
  dispatcher = new UndiciAgent({ connect: { ca: readFileSync(env.pki.ca.file) } });
});

afterAll(async () => {
  for (const a of agents) await a.close();
  await hub?.close();
  await Promise.all([slapd?.stop(), scim?.close(), proxy?.close(), dispatcher?.close()]);
  env?.cleanup();
});

function agentYaml(id: string, auth: string): string {
  return `logging: { level: trace }
agent:
  id: ${id}
  urls: [wss://127.0.0.1:${hubPort}/agent]
  tenantId: sec
${auth}
  trustStore: ${env.pki.trustP12File}
  trustStorePassword: ${env.pki.trustP12Password}
  proxy: ${proxy.authUrl}
reconnectDelay: 300
maxReconnectDelay: 1000
dataSources:
  ldap-good:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.readerDN}
    bindPassword: ${slapd.readerPassword}
    baseDN: ${slapd.baseDN}
    operations: [test, get, search, export]
  ldap-bad:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.readerDN}
    bindPassword: ${S.ldapBadPassword}
    baseDN: ${slapd.baseDN}
  scim-bearer:
    type: scim
    baseUrl: ${scim.url}
    bearerToken: ${S.scimToken}
  scim-oauth:
    type: scim
    baseUrl: ${scim.url}
    tokenUrl: ${scim.tokenUrl}
    clientId: sync-client
    clientSecret: ${S.oauthSecret}
  scim-basic-wrong:
    type: scim
    baseUrl: ${scim.url}
    userName: scim-basic
    password: ${S.scimBasicPassword}
`;
}

function startAgent(id: string, auth: string): { agent: Agent; statuses: ReturnType<typeof recordStatuses> } {
  const file = join(env.dir, `${id}.yaml`);
  writeFileSync(file, agentYaml(id, auth));
  const logs = captureLogs('trace');
  agentLogs.push(logs);
  const agent = new Agent(loadAgentConfig(file, {}), logs.logger);
  agents.push(agent);
  const statuses = recordStatuses(agent);
  agent.start();
  return { agent, statuses };
}

async function api(method: 'GET' | 'POST', path: string, body?: string, token = S.apiToken, type = 'application/json'): Promise<number> {
  const r = await request(`https://127.0.0.1:${hubPort}${path}`, {
    method,
    dispatcher,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) },
    ...(body === undefined ? {} : { body }),
  });
  responses.push(`${r.statusCode} ${JSON.stringify(r.headers)} ${await r.body.text()}`);
  return r.statusCode;
}

describe('secrets never leak', () => {
  it('runs every scenario at trace level', async () => {
    // Registration through an authenticating proxy, Basic auth, PKCS#12 trust store.
    const basic = startAgent('sec-basic', `  userName: sec-agent\n  password: ${S.agentPassword}`);
    await basic.statuses.next(isState('registered'), 15_000);
    // A client-certificate agent (PKCS#12 key store with its password).
    const cert = startAgent('site-a-1', `  keyStore: ${env.pki.client.p12File}\n  keyStorePassword: ${env.pki.client.p12Password}`);
    await cert.statuses.next(isState('registered'), 15_000);
    // A refused password.
    const wrong = startAgent('sec-wrong', `  userName: sec-agent\n  password: ${S.wrongAgentPassword}`);
    await wrong.statuses.next(isState('rejected'), 15_000);
    wrong.agent.stop();

    expect(await api('GET', '/v1/agents')).toBe(200);
    expect(await api('GET', '/v1/data-sources')).toBe(200);
    // Successful and failing calls on every data source.
    const codes: Record<string, number> = {};
    for (const ds of ['ldap-good', 'ldap-bad', 'scim-bearer', 'scim-oauth', 'scim-basic-wrong']) {
      codes[ds] = await api('POST', `/v1/data-sources/${ds}/test`);
      await api('POST', `/v1/data-sources/${ds}/search`, ds.startsWith('ldap') ? '{"filter":"(uid=*)"}' : '{"resourceType":"/Users"}');
    }
    expect(codes).toEqual({ 'ldap-good': 200, 'ldap-bad': 502, 'scim-bearer': 200, 'scim-oauth': 200, 'scim-basic-wrong': 502 });
    // An export the read-only LDAP account is not allowed to apply (an upstream refusal per record).
    await api('POST', '/v1/data-sources/ldap-good/export', `{"op":"delete","dn":"uid=nobody,ou=people,${slapd.baseDN}"}\n`, S.apiToken, 'application/x-ndjson');
    // A wrong API token, and the right one in a malformed header.
    expect(await api('GET', '/v1/agents', undefined, S.wrongApiToken)).toBe(401);
    expect(await api('GET', '/v1/agents', undefined, `${S.apiToken} extra`)).toBe(401);
  });

  it('bad configuration files name the key, never the secret value', () => {
    const bad = [
      `agent: { urls: [wss://h/agent], tenantId: t, userName: u, password: [${S.agentPassword}] }\n`,
      `agent: { urls: [wss://h/agent], tenantId: t }\ndataSources: { x: { type: ldap, url: 'ldap://h', baseDN: 'dc=x', bindPassword: { v: ${S.ldapBadPassword} } } }\n`,
      `agent: { urls: [wss://h/agent], tenantId: t }\ndataSources: { x: { type: scim, baseUrl: 'https://h', bearerToken: [${S.scimToken}], clientSecret: ${S.oauthSecret} } }\n`,
      `agent: { urls: [wss://h/agent], tenantId: t, proxy: 'ftp://u:${S.proxyPassword}@h' }\n`,
    ];
    for (const yaml of bad) {
      let message = '';
      try {
        decodeAgentConfig(yaml, 'application.yaml', {});
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      expect(message).toMatch(/application\.yaml:\d+:\d+/);
      responses.push(message);
    }
  });

  it('no secret appears in any log line, response, error message, or in what the hub knows of the agents', () => {
    const haystacks: Array<[string, string]> = [
      ['hub log', hubLogs.text()],
      ...agentLogs.map((l, i): [string, string] => [`agent log ${i}`, l.text()]),
      ['HTTP responses and config errors', responses.join('\n')],
      ['hub registry (hello frames)', JSON.stringify(hub.registry.all().map((l) => l.hello))],
    ];
    const lines = haystacks.reduce((n, [, text]) => n + text.split('\n').length, 0);
    // The scan is only meaningful if the scenarios really logged at trace level.
    expect(lines).toBeGreaterThan(200);
    expect(agentLogs.some((l) => l.text().includes('"level":20'))).toBe(true);
    const secrets = [...Object.values(S), ...fixtureSecrets(), encodeURIComponent(S.proxyPassword), Buffer.from(`sec-agent:${S.agentPassword}`).toString('base64')];
    const found = haystacks.flatMap(([where, text]) => secrets.filter((s) => text.includes(s)).map((s) => `${where}: ${s}`));
    expect(found).toEqual([]);
    console.log(`FIGURE secrets-scan: ${secrets.length} secrets, ${lines} lines of logs/responses/errors scanned at trace level, leaks 0`);
  });
});
