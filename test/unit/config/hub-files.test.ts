/**
 * The hub's TLS files checked while its configuration is loaded (src/config/hub-files.ts): real
 * certificates and keys from the test PKI, a clock moved instead of certificates forged.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkHubFiles, EXPIRY_WARNING_DAYS, loadCheckedHubConfig } from '../../../src/config/hub-files.js';
import { ConfigError } from '../../../src/config/index.js';
import { makeTestPki } from '../../helpers/certs.js';
import { ROOT } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hub-files-'));
const pki = makeTestPki(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DAY = 86_400_000;
const serverCert = new X509Certificate(pki.server.certPem);
const notAfter = Date.parse(serverCert.validTo);
/** The test PKI's server certificate lives 31 days: an hour after it starts, 30 are left. */
const fresh = Date.parse(serverCert.validFrom) + 3_600_000;
const pair = { cert: pki.server.certFile, key: pki.server.keyFile, clientCa: pki.ca.file };
const write = (name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe('checkHubFiles', () => {
  it('a matching, valid pair and a CA bundle: nothing to report', () => {
    expect(checkHubFiles(pair, fresh)).toEqual({ errors: [], warnings: [] });
    expect(checkHubFiles(undefined)).toEqual({ errors: [], warnings: [] });
  });

  it('a missing certificate file is an error at tls.cert naming the file and ENOENT', () => {
    const missing = join(dir, 'nope.pem');
    const { errors } = checkHubFiles({ ...pair, cert: missing });
    expect(errors).toEqual([{ path: ['tls', 'cert'], message: `cannot read ${missing}: no such file (ENOENT)` }]);
  });

  it('an unreadable key is an error at tls.key: permission denied', () => {
    const key = write('unreadable-key.pem', pki.server.keyPem);
    chmodSync(key, 0o000);
    const expected = [{ path: ['tls', 'key'], message: expect.stringMatching(/permission denied .*\(EACCES\)$/) as unknown }];
    if (process.getuid?.() !== 0) {
      expect(checkHubFiles({ ...pair, key }).errors).toEqual(expected);
      return;
    }
    // Root reads any file: the check runs as `nobody`, like a hub started by its service user.
    chmodSync(dir, 0o755);
    const module = pathToFileURL(join(ROOT, 'dist', 'src', 'config', 'hub-files.js')).href;
    const script = `import(${JSON.stringify(module)}).then((m) => process.stdout.write(JSON.stringify(m.checkHubFiles(${JSON.stringify({ ...pair, key })}).errors)))`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expected);
  });

  it('a key that is not the certificate\'s is an error at tls.key', () => {
    const { errors } = checkHubFiles({ ...pair, key: pki.client.keyFile });
    expect(errors).toEqual([{ path: ['tls', 'key'], message: `private key in ${pki.client.keyFile} does not belong to the certificate in ${pki.server.certFile} (not a matching pair)` }]);
  });

  it('files without PEM blocks: a key file as cert, a cert file as key', () => {
    const { errors } = checkHubFiles({ cert: pki.server.keyFile, key: pki.server.certFile });
    expect(errors.map((e) => [e.path.join('.'), e.message])).toEqual([
      ['tls.cert', expect.stringMatching(/holds no PEM certificate/) as unknown],
      ['tls.key', expect.stringMatching(/holds no PEM private key/) as unknown],
    ]);
  });

  it('expired is an error; expiring within 30 days a warning; later nothing', () => {
    const expired = checkHubFiles(pair, notAfter + DAY);
    expect(expired.errors).toEqual([{ path: ['tls', 'cert'], message: expect.stringMatching(/^certificate in .*server\.pem expired on \d{4}-\d\d-\d\d \(CN=.*\): renew it$/) as unknown }]);
    const soon = checkHubFiles({ cert: pair.cert, key: pair.key }, notAfter - 10 * DAY - 1000);
    expect(soon.errors).toEqual([]);
    expect(soon.warnings).toEqual([{ path: ['tls', 'cert'], message: expect.stringMatching(/^warning: certificate in .* expires in 10 days, on /) as unknown }]);
    expect(Math.floor((notAfter - fresh) / DAY)).toBe(EXPIRY_WARNING_DAYS);
    expect(checkHubFiles({ cert: pair.cert, key: pair.key }, fresh)).toEqual({ errors: [], warnings: [] });
    const early = checkHubFiles({ cert: pair.cert, key: pair.key }, Date.parse(serverCert.validFrom) - DAY);
    expect(early.warnings).toEqual([{ path: ['tls', 'cert'], message: expect.stringMatching(/^warning: certificate in .* is not valid before .*clock/) as unknown }]);
  });

  it('the pair of an expired client certificate is refused as a server certificate too', () => {
    const { errors } = checkHubFiles({ cert: pki.expiredClient.certFile, key: pki.expiredClient.keyFile });
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/expired on/) as unknown]);
  });

  it('clientCa: a bundle without a CA certificate, an empty file, a missing file', () => {
    const notCa = checkHubFiles({ clientCa: pki.server.certFile });
    expect(notCa.errors).toEqual([{ path: ['tls', 'clientCa'], message: expect.stringMatching(/holds no CA certificate \(1 certificate, none with CA:TRUE\)/) as unknown }]);
    const empty = checkHubFiles({ clientCa: write('empty-ca.pem', '\n') });
    expect(empty.errors).toEqual([{ path: ['tls', 'clientCa'], message: expect.stringMatching(/holds no PEM certificate/) as unknown }]);
    expect(checkHubFiles({ clientCa: join(dir, 'no-ca.pem') }).errors[0]?.message).toMatch(/no such file \(ENOENT\)$/);
    // A bundle of a CA and a leaf is fine: at least one CA.
    expect(checkHubFiles({ clientCa: write('mixed-ca.pem', pki.server.certPem + pki.ca.certPem) }).errors).toEqual([]);
  });
});

describe('loadCheckedHubConfig', () => {
  const hubYaml = (tls: string): string =>
    write(
      `hub-${Math.random().toString(36).slice(2)}.yaml`,
      `listen: { port: 0 }
tls:
${tls}
tenants:
  "1":
    agents:
      - certificateSubject: site-a-1
`,
    );

  it('every file problem as FILE:LINE:COL: tls.key: … in one ConfigError', () => {
    const file = hubYaml(`  cert: nope.pem\n  key: ${pki.client.keyFile}\n  clientCa: ${pki.server.certFile}`);
    let caught: unknown;
    try {
      loadCheckedHubConfig(file, {});
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const lines = (caught as ConfigError).message.split('\n').slice(1);
    expect(lines).toEqual([
      `${file}:3:9: tls.cert: cannot read ${join(dir, 'nope.pem')}: no such file (ENOENT)`,
      expect.stringMatching(new RegExp(`^${file.replace(/[.]/g, '\\.')}:5:13: tls\\.clientCa: .* holds no CA certificate`)) as unknown,
    ]);
  });

  it('warnings come back located; the configuration is returned', () => {
    const file = hubYaml(`  cert: ${pki.server.certFile}\n  key: ${pki.server.keyFile}\n  clientCa: ${pki.ca.file}`);
    const { config, warnings } = loadCheckedHubConfig(file, {}, notAfter - 3 * DAY - 1000);
    expect(config.tls?.cert).toBe(pki.server.certFile);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^${file.replace(/[.]/g, '\\.')}:3:9: tls\\.cert: warning: certificate in .* expires in 3 days`)) as unknown]);
    expect(loadCheckedHubConfig(file, {}, fresh).warnings).toEqual([]);
  });
});
