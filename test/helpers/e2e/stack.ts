/**
 * The product as an operator runs it, for the e2e tests: `datasync-hub` and `datasync-agent`
 * spawned from `dist/` (test/helpers/cli.ts `startDaemon`) with YAML files written here, a TLS
 * hub with a hashed API token, agents with Basic credentials, secrets passed through the
 * environment (`${…}` in the YAML) so they never sit in a file. Call these inside a test:
 * `startDaemon` prints a daemon's log when that test fails.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../../../src/config/index.js';
import { Agent } from 'undici';
import { HubClient } from '../../../src/hub/client.js';
import type { TestPki } from '../certs.js';
import { AGENT_BIN, HUB_BIN, startDaemon, type Daemon } from '../cli.js';
import { withContract } from './openapi-contract.js';

export const TENANT = 'acme';
export const API_TOKEN = 'e2e-api-token-0123456789abcdef';
export const AGENT_USER = 'site';
export const AGENT_PASSWORD = 'e2e-agent-secret-42';

let hashes: Promise<{ token: string; agent: string }> | undefined;
/** scrypt hashes of the API token and the agent password (slow on purpose: once per process). */
export function secretHashes(): Promise<{ token: string; agent: string }> {
  hashes ??= Promise.all([hashPassword(API_TOKEN), hashPassword(AGENT_PASSWORD)]).then(([token, agent]) => ({ token, agent }));
  return hashes;
}

export interface StackEnv {
  /** Directory for config files. */
  readonly dir: string;
  readonly pki: TestPki;
}

export interface HubProcess {
  readonly daemon: Daemon;
  readonly port: number;
  /** `wss://127.0.0.1:PORT/agent` */
  readonly agentUrl: string;
  /** `https://127.0.0.1:PORT` */
  readonly apiUrl: string;
  /** The config file, to start the hub again on the same port. */
  readonly file: string;
}

let serial = 0;
const fileName = (env: StackEnv, kind: string): string => join(env.dir, `${kind}-${process.pid}-${++serial}.yaml`);

/** Writes a TLS hub config for tenant `acme` (API token + Basic agent credentials). */
export async function writeHubConfig(env: StackEnv, opts: { port?: number; status?: boolean; logging?: string } = {}): Promise<string> {
  const h = await secretHashes();
  const file = fileName(env, 'hub');
  writeFileSync(
    file,
    `logging: ${opts.logging ?? '{ level: info }'}
listen: { host: 127.0.0.1, port: ${opts.port ?? 0}, path: /agent }
tls: { cert: ${env.pki.server.certFile}, key: ${env.pki.server.keyFile} }
${opts.status ? 'status: { listen: "127.0.0.1:0" }\n' : ''}keepAliveInterval: 1000
keepAliveTimeout: 3000
tenants:
  ${TENANT}:
    apiTokens: ['${h.token}']
    agents:
      - userName: ${AGENT_USER}
        passwordHash: ${h.agent}
`,
  );
  return file;
}

/** Starts `datasync-hub` on `file` and waits until it listens. */
export async function startHubProcess(file: string): Promise<HubProcess> {
  const daemon = startDaemon(HUB_BIN, ['--config', file]);
  const listening = await daemon.waitForLog((r) => r['msg'] === 'hub listening', 30_000);
  const port = listening['port'] as number;
  return { daemon, port, agentUrl: `wss://127.0.0.1:${port}/agent`, apiUrl: `https://127.0.0.1:${port}`, file };
}

export interface AgentSetup {
  readonly id: string;
  readonly hubs: readonly HubProcess[] | readonly string[];
  /** The `dataSources:` mapping body (indented 2), see `ldapSource` / `scimSource`. */
  readonly dataSources: string;
  /** Extra top-level YAML (e.g. `shutdownGracePeriod: 20000`). */
  readonly extra?: string;
  /** Environment for `${…}` in the data sources (secrets). */
  readonly env?: NodeJS.ProcessEnv;
  /** The `logging:` value (default `{ level: debug }`). */
  readonly logging?: string;
  /** Wait for registration (default true). */
  readonly waitRegistered?: boolean;
}

export interface AgentProcess {
  readonly daemon: Daemon;
  readonly id: string;
  /** Port of the agent's status listener (/healthz, /readyz, /metrics). */
  readonly statusPort: number;
}

/** Starts `datasync-agent` (debug log, status listener on a free port, quick reconnects). */
export async function startAgentProcess(env: StackEnv, setup: AgentSetup): Promise<AgentProcess> {
  const urls = setup.hubs.map((h) => (typeof h === 'string' ? h : h.agentUrl));
  const file = fileName(env, `agent-${setup.id}`);
  writeFileSync(
    file,
    `logging: ${setup.logging ?? '{ level: debug }'}
agent:
  id: ${setup.id}
  urls: [${urls.join(', ')}]
  tenantId: ${TENANT}
  userName: ${AGENT_USER}
  password: \${E2E_AGENT_PASSWORD}
  trustStore: ${env.pki.ca.file}
reconnectDelay: 200
maxReconnectDelay: 1000
keepAliveInterval: 1000
keepAliveTimeout: 3000
status: { listen: "127.0.0.1:0" }
${/^testOnStart:/m.test(setup.extra ?? '') ? '' : 'testOnStart: false # the suites count what their upstreams see\n'}${setup.extra ?? ''}
dataSources:
${setup.dataSources}`,
  );
  const daemon = startDaemon(AGENT_BIN, ['--config', file], { E2E_AGENT_PASSWORD: AGENT_PASSWORD, ...setup.env });
  const status = await daemon.waitForLog((r) => typeof r['msg'] === 'string' && r['msg'].startsWith('status listener up'), 30_000);
  if (setup.waitRegistered ?? true) await daemon.waitForLog((r) => r['msg'] === 'registered with hub', 30_000);
  return { daemon, id: setup.id, statusPort: status['port'] as number };
}

/** An LDAP data source entry for `dataSources:` (bind password from `$E2E_LDAP_PASSWORD`). */
export function ldapSource(name: string, ldap: { url: string; adminDN: string; baseDN: string }, pageSize: number): string {
  return `  ${name}:
    type: ldap
    url: ${ldap.url}
    bindDN: ${ldap.adminDN}
    bindPassword: \${E2E_LDAP_PASSWORD}
    baseDN: ${ldap.baseDN}
    pageSize: ${pageSize}
    operations: [test, schema, attributes, get, search, export]
`;
}

/** A SCIM data source entry for `dataSources:` (bearer token from `$E2E_SCIM_TOKEN`). */
export function scimSource(name: string, baseUrl: string, pageSize: number): string {
  return `  ${name}:
    type: scim
    baseUrl: ${baseUrl}
    bearerToken: \${E2E_SCIM_TOKEN}
    pageSize: ${pageSize}
    operations: [test, resourceTypes, schema, attributes, get, search, export]
`;
}

/**
 * A HubClient for tenant `acme` trusting the test CA, every answer checked against the hub's
 * OpenAPI document (openapi-contract.ts); `close()` closes its connections as the client's own.
 */
export function hubClient(hub: HubProcess, pki: TestPki): HubClient {
  const agent = new Agent({ connect: { ca: pki.ca.certPem }, headersTimeout: 60_000, bodyTimeout: 0 });
  return new CheckedHubClient(hub.apiUrl, agent);
}

class CheckedHubClient extends HubClient {
  constructor(
    url: string,
    private readonly agent: Agent,
  ) {
    super({ url, token: API_TOKEN, dispatcher: withContract(agent) });
  }

  override async close(): Promise<void> {
    await super.close();
    await this.agent.destroy();
  }
}

/** Debug/info log records of `daemon` about request `requestId`. */
export function requestLogs(daemon: Daemon, requestId: string): Array<Record<string, unknown>> {
  return daemon.logs.filter((r) => r['requestId'] === requestId);
}
