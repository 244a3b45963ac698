/**
 * How the agent section of the config becomes what a hub connection presents: the TLS stores
 * (client certificate, trust store) and the Basic header. One place for the rule that a client
 * certificate wins over Basic credentials, used by the agent and by `check`.
 */
import type { AgentSection } from '../config/index.js';
import { loadClientTls, type ClientTlsOptions } from '../support/tls-stores.js';

/** Opens the configured key and trust stores; throws `TlsStoreError`. */
export function agentTls(agent: AgentSection): ClientTlsOptions {
  return loadClientTls({
    ...(agent.keyStore ? { keyStore: agent.keyStore } : {}),
    ...(agent.keyStorePassword !== undefined ? { keyStorePassword: agent.keyStorePassword } : {}),
    ...(agent.privateKey ? { privateKey: agent.privateKey } : {}),
    ...(agent.trustStore ? { trustStore: agent.trustStore } : {}),
    ...(agent.trustStorePassword !== undefined ? { trustStorePassword: agent.trustStorePassword } : {}),
  });
}

/** True when the upgrade carries Basic credentials (no key store configured, a user name set). */
export function usesBasicAuth(agent: AgentSection): boolean {
  return !agent.keyStore && agent.userName !== undefined;
}

/** The upgrade's headers: `Authorization: Basic …` unless a client certificate is used. */
export function agentAuthHeaders(agent: AgentSection): Record<string, string> {
  return usesBasicAuth(agent) ? { Authorization: `Basic ${Buffer.from(`${agent.userName}:${agent.password ?? ''}`).toString('base64')}` } : {};
}
