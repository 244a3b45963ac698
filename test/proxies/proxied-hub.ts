/**
 * The hub as it runs behind a TLS-terminating reverse proxy: plain HTTP on 127.0.0.1 (the proxy
 * reaches it there), two tenants with the fixture credentials of test/helpers/relay-env.ts, and
 * optionally the proxy trusted for X-Forwarded-For (`trustedProxies`) and for the agents'
 * client certificates it forwards (`forwardedClientCertificate` + `tls.clientCa` without a
 * server certificate). Logs captured in memory, printed when a test fails.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFailed } from 'vitest';
import { loadHubConfig } from '../../src/config/index.js';
import { Hub } from '../../src/hub/hub.js';
import { captureLogs } from '../helpers/log-capture.js';
import { fixtureHashes, type Env, type RunningHub } from '../helpers/relay-env.js';

/** The header the documented configurations put the client certificate in. */
export const CLIENT_CERT_HEADER = 'X-Client-Cert';

export interface ProxiedHubOptions {
  /** `trustedProxies: [127.0.0.1]`: the proxies connect to the hub from 127.0.0.1. */
  readonly trustProxy?: boolean;
  /**
   * Certificate agents only (tenant 1's credential is `certificateSubject: site-a-1`, nothing
   * else), their certificates forwarded by the trusted proxy and verified against the test CA.
   */
  readonly forwardedCertificates?: boolean;
}

export interface ProxiedHub extends RunningHub {
  /** `127.0.0.1:PORT`, the proxies' upstream. */
  readonly upstream: string;
}

export async function startProxiedHub(env: Env, options: ProxiedHubOptions = {}): Promise<ProxiedHub> {
  const h = await fixtureHashes();
  const tenant1Agents = options.forwardedCertificates
    ? '      - certificateSubject: site-a-1'
    : `      - userName: agent
        passwordHash: ${h.agent}`;
  const yaml = `
logging: { level: trace }
listen: { host: 127.0.0.1, port: 0, path: /agent }
keepAliveInterval: 1000
keepAliveTimeout: 2000
registrationTimeout: 3000
${options.trustProxy || options.forwardedCertificates ? 'trustedProxies: [127.0.0.1]' : ''}
${options.forwardedCertificates ? `forwardedClientCertificate: { header: ${CLIENT_CERT_HEADER} }\ntls: { clientCa: ${env.pki.ca.file} }` : ''}
tenants:
  "1":
    apiTokens: ['${h.token1}']
    agents:
${tenant1Agents}
  "2":
    apiTokens: ['${h.token2}']
    agents:
      - userName: other
        passwordHash: ${h.other}
`;
  const file = join(env.dir, `hub-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const logs = captureLogs('trace');
  const hub = new Hub(loadHubConfig(file, {}), logs.logger);
  const address = await hub.listen();
  try {
    onTestFailed(() => console.error(`--- hub log (port ${address.port}) ---\n${logs.text()}`));
  } catch {
    // Called from a hook: the suite's own failure output applies.
  }
  return {
    hub,
    port: address.port,
    url: `ws://127.0.0.1:${address.port}/agent`,
    upstream: `127.0.0.1:${address.port}`,
    logs,
    close: () => hub.close(),
  };
}
