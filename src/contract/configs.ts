/**
 * The hub's and the agent's configurations of the contract environment, decoded by the product's
 * own codecs — the fixture's settings go through `DataSourceConfigCodec` (the registered type's
 * codec, `operations` and `isolation`) exactly as a `dataSources` entry of application.yaml does,
 * so a setting the codec refuses fails `setup` with the codec's own message.
 */
import { resolve } from 'node:path';
import { isLeft } from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { AgentConfigCodec, type AgentConfig } from '../config/agent-config.js';
import { resolveDataSourcePaths } from '../config/data-source-registry.js';
import { HubConfigCodec, type HubConfig } from '../config/hub-config.js';
import { reportErrors } from '../support/io-ts-report.js';

/** The tenant and the agent credential of the environment (Basic auth over plain ws on 127.0.0.1). */
export const CONTRACT_TENANT = 'contract';
export const CONTRACT_AGENT = { id: 'contract-agent', userName: 'contract-agent' } as const;

function decode<A>(codec: t.Decoder<unknown, A>, input: unknown, what: string): A {
  const result = codec.decode(input);
  if (!isLeft(result)) return result.right;
  const problems = reportErrors(result.left).map((p) => `  ${p.path.join('.') || '(top)'}: ${p.message}`);
  throw new Error(`contract suite: the ${what} does not decode:\n${problems.join('\n')}`);
}

/** A hub on 127.0.0.1, any free port, one tenant whose agent logs in with `passwordHash`'s password. */
export function contractHubConfig(passwordHash: string): HubConfig {
  return decode(
    HubConfigCodec,
    {
      listen: { host: '127.0.0.1', port: 0, path: '/agent' },
      tenants: { [CONTRACT_TENANT]: { agents: [{ userName: CONTRACT_AGENT.userName, passwordHash }] } },
    },
    'hub configuration',
  );
}

/**
 * An agent connecting to `hubUrl` and serving `dataSources` (name → settings as a
 * `dataSources` entry). Relative file names in the settings are resolved against the working
 * directory, as the type's `resolvePaths` does against a configuration file's directory.
 */
export function contractAgentConfig(hubUrl: string, password: string, dataSources: Record<string, Record<string, unknown>>): AgentConfig {
  const config = decode(
    AgentConfigCodec,
    {
      agent: { id: CONTRACT_AGENT.id, urls: [hubUrl], tenantId: CONTRACT_TENANT, userName: CONTRACT_AGENT.userName, password },
      // Reconnect soon after a lost connection (the disconnect check waits for it).
      reconnectDelay: 100,
      maxReconnectDelay: 1000,
      // The checks count what the adapter is asked to do; `test` has a check of its own.
      testOnStart: false,
      dataSources,
    },
    'agent configuration built from the fixture settings',
  );
  const base = process.cwd();
  const resolved = Object.fromEntries(Object.entries(config.dataSources).map(([name, ds]) => [name, resolveDataSourcePaths(ds, (file) => resolve(base, file))]));
  return { ...config, dataSources: resolved };
}
