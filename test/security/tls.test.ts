/**
 * TLS failures give a clear, specific error and no connection. A hub certificate for another
 * host name is refused by the agent (the certificate is otherwise valid and its CA trusted).
 * The untrusted hub certificate and the expired client certificate cases live with the other
 * registration tests (test/integration/registration.test.ts).
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub } from '../../src/hub/hub.js';
import { loadHubConfig } from '../../src/config/index.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { captureLogs } from '../helpers/log-capture.js';
import { basicAgentYaml, fixtureHashes, isState, makeEnv, startAgent, type Env } from '../helpers/relay-env.js';

let env: Env;
let otherHost: TestPki;
let hub: Hub;
let port: number;

beforeAll(async () => {
  env = makeEnv();
  // Same CA as the agent trusts, but the certificate names only hub.other.example.
  otherHost = makeTestPki(join(env.dir, 'other-host'), { serverNames: ['hub.other.example'] });
  const h = await fixtureHashes();
  const file = join(env.dir, 'hub-other-host.yaml');
  writeFileSync(
    file,
    `listen: { host: 127.0.0.1, port: 0 }
tls: { cert: ${otherHost.server.certFile}, key: ${otherHost.server.keyFile} }
tenants: { "1": { agents: [{ userName: agent, passwordHash: '${h.agent}' }] } }
`,
  );
  hub = new Hub(loadHubConfig(file, {}), captureLogs('trace').logger);
  port = (await hub.listen()).port;
});

afterAll(async () => {
  await hub.close();
  env.cleanup();
});

describe('TLS', () => {
  it('a hub certificate for another host name: TLS_FAILED naming the mismatch, no registration', async () => {
    const a = startAgent(env, basicAgentYaml(env, [`wss://127.0.0.1:${port}/agent`]).replace(env.pki.ca.file, otherHost.ca.file));
    try {
      const d = await a.statuses.next(isState('disconnected'));
      expect(d.status).toMatchObject({ code: 'TLS_FAILED' });
      const reason = d.status.state === 'disconnected' ? d.status.reason : '';
      expect(reason).toMatch(/127\.0\.0\.1/);
      expect(reason).toMatch(/hub\.other\.example/);
      expect(a.statuses.all.some((s) => s.status.state === 'registered')).toBe(false);
      expect(hub.registry.agents('1')).toHaveLength(0);
    } finally {
      a.stop();
    }
  });
});
