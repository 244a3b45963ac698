/**
 * Key and trust store problems found while loading the agent configuration: exact
 * `FILE:LINE:COL: path: message` lines. The stores are generated at test time (bad-files.test.ts
 * only reads static fixtures), so each case writes its configuration into a temp dir next to
 * `certs/` and names the stores relative to it.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, formatProblem, loadAgentConfig } from '../../../src/config/index.js';
import { makeTestPki, type TestPki } from '../../helpers/certs.js';

const AGENT = 'agent:\n  urls: wss://idm.example.com/agent\n  tenantId: acme\n';
const WRONG_PASSWORD = 'Not-The-Pa55word';

let dir: string;
let certs: string;
let pki: TestPki;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-store-checks-'));
  certs = join(dir, 'certs');
  pki = makeTestPki(certs);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `text` as `<dir>/<name>` and returns every problem of loading it, formatted. */
function problemsOf(name: string, text: string, env: NodeJS.ProcessEnv = {}): string[] {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    loadAgentConfig(file, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map(formatProblem);
  }
  throw new Error('expected a ConfigError');
}

describe('key and trust store problems in the agent configuration', () => {
  it('quotes paths with spaces in the suggested conversion command', () => {
    const spaced = join(dir, 'my certs');
    mkdirSync(spaced, { recursive: true });
    copyFileSync(pki.jksFile, join(spaced, 'key store.jks'));
    const problems = problemsOf('jks-spaced.yaml', `${AGENT}  keyStore: './my certs/key store.jks'\n`);
    expect(problems[0]).toContain(`-srckeystore '${join(spaced, 'key store.jks')}' -srcstoretype JKS -destkeystore '${join(spaced, 'key store.p12')}'`);
  });

  it('every problem is a single line', () => {
    const problems = problemsOf('jks-one-line.yaml', `${AGENT}  keyStore: ./certs/keystore.jks\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).not.toContain('\n');
  });

  it('a JKS keyStore: located at the key, with the keytool conversion command', () => {
    const problems = problemsOf('jks.yaml', `${AGENT}  keyStore: ./certs/keystore.jks\n  keyStorePassword: changeit\n`);
    const jks = join(certs, 'keystore.jks');
    const p12 = join(certs, 'keystore.p12');
    expect(problems).toEqual([
      `${join(dir, 'jks.yaml')}:4:13: agent.keyStore: keyStore ${jks} is a Java JKS key store, which Node.js cannot read. Convert it to PKCS#12: ` +
        `keytool -importkeystore -srckeystore ${jks} -srcstoretype JKS -destkeystore ${p12} -deststoretype PKCS12 ` +
        `and point keyStore at ${p12} (keep the same password for the store and the key).`,
    ]);
  });

  it('a wrong keyStorePassword for a .p12: says so, without the password', () => {
    const text = `${AGENT}  keyStore: ./certs/client.p12\n  keyStorePassword: \${KEYSTORE_PASSWORD}\n`;
    const problems = problemsOf('wrong-password.yaml', text, { KEYSTORE_PASSWORD: WRONG_PASSWORD });
    expect(problems).toEqual([
      `${join(dir, 'wrong-password.yaml')}:5:21: agent.keyStorePassword: keyStore ${pki.client.p12File}: keyStorePassword is wrong (PKCS#12 MAC verification failed).`,
    ]);
    expect(problems.join('\n')).not.toContain(WRONG_PASSWORD);
    expect(problems.join('\n')).not.toContain(pki.client.p12Password);
  });

  it('a password-protected .p12 without keyStorePassword: says that none is configured', () => {
    expect(problemsOf('no-password.yaml', `${AGENT}  keyStore: ./certs/client.p12\n`)).toEqual([
      `${join(dir, 'no-password.yaml')}:4:13: agent.keyStore: keyStore ${pki.client.p12File}: no keyStorePassword is configured (PKCS#12 MAC verification failed).`,
    ]);
  });

  it('a missing trustStore file', () => {
    const missing = join(certs, 'missing-ca.pem');
    expect(problemsOf('missing-trust-store.yaml', `${AGENT}  trustStore: certs/missing-ca.pem\n`)).toEqual([
      `${join(dir, 'missing-trust-store.yaml')}:4:15: agent.trustStore: trustStore ${missing} cannot be read: ENOENT: no such file or directory, open '${missing}'`,
    ]);
  });

  it('a legacy PKCS#12 keyStore: the openssl re-export advice', () => {
    const text = `${AGENT}  keyStore: ./certs/client-legacy.p12\n  keyStorePassword: ${pki.client.p12Password}\n`;
    const legacy = pki.legacyP12File;
    expect(problemsOf('legacy-p12.yaml', text)).toEqual([
      `${join(dir, 'legacy-p12.yaml')}:4:13: agent.keyStore: keyStore ${legacy} uses legacy PKCS#12 encryption (e.g. RC2-40 or DES) ` +
        `that Node.js (OpenSSL 3) no longer supports ("Unsupported PKCS12 PFX data"). Re-export it with modern (AES) encryption: ` +
        `openssl pkcs12 -legacy -in ${legacy} -nodes | openssl pkcs12 -export -out ${join(certs, 'client-legacy.new.p12')} ` +
        `and point keyStore at the new file.`,
    ]);
  });

  it('a bad keyStore and a bad trustStore: both reported, sorted by line', () => {
    const text = `${AGENT}  keyStore: ./certs/keystore.jks\n  trustStore: ./certs/missing-ca.pem\n`;
    const problems = problemsOf('both-stores.yaml', text);
    expect(problems.map((p) => p.split(': ').slice(0, 2).join(': '))).toEqual([
      `${join(dir, 'both-stores.yaml')}:4:13: agent.keyStore`,
      `${join(dir, 'both-stores.yaml')}:5:15: agent.trustStore`,
    ]);
  });

  it('a JKS keyStore and a wrong-typed reconnectDelay: only the decode problem', () => {
    // Documented loader behaviour (decodeYaml in src/config/load.ts): the stores are checked only
    // once the whole file decodes, so this run reports the reconnectDelay problem alone; the JKS
    // keyStore surfaces on the next run, after reconnectDelay is fixed.
    const text = `${AGENT}  keyStore: ./certs/keystore.jks\nreconnectDelay: soon\n`;
    expect(problemsOf('jks-and-decode-problem.yaml', text)).toEqual([
      `${join(dir, 'jks-and-decode-problem.yaml')}:5:17: reconnectDelay: expected duration in ms (integer 0..2147483647), got "soon"`,
    ]);
    expect(problemsOf('jks-and-decode-problem.yaml', text.replace('soon', '2000'))).toEqual([
      expect.stringMatching(/jks-and-decode-problem\.yaml:4:13: agent\.keyStore: keyStore .*keystore\.jks is a Java JKS key store/),
    ]);
  });
});
