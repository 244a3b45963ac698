import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClientTls, TlsStoreError, type TlsStoreErrorCode } from '../../../src/support/tls-stores.js';
import { makeTestPki, type TestPki } from '../../helpers/certs.js';

let dir: string;
let pki: TestPki;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-tls-stores-'));
  pki = makeTestPki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function storeError(fn: () => unknown, code: TlsStoreErrorCode, file: string): TlsStoreError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TlsStoreError);
  const err = caught as TlsStoreError;
  expect(err.name).toBe('TlsStoreError');
  expect(err.code).toBe(code);
  expect(err.file).toBe(file);
  expect(err.message).toContain(file);
  return err;
}

function write(name: string, data: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, data);
  return file;
}

const normalize = (pem: string): string => pem.replace(/\r\n/g, '\n').trim();

describe('loadClientTls', () => {
  it('returns nothing when no store is configured', () => {
    expect(loadClientTls({})).toEqual({});
  });

  describe('keyStore: PKCS#12', () => {
    it('loads a .p12 as pfx + passphrase, usable by tls.createSecureContext', () => {
      const out = loadClientTls({ keyStore: pki.client.p12File, keyStorePassword: pki.client.p12Password });
      expect(Object.keys(out).sort()).toEqual(['passphrase', 'pfx']);
      expect(out.pfx?.equals(readFileSync(pki.client.p12File))).toBe(true);
      expect(out.passphrase).toBe(pki.client.p12Password);
      expect(() => tls.createSecureContext(out)).not.toThrow();
    });

    it('detects PKCS#12 by content when the file has no .p12/.pfx extension', () => {
      const file = join(dir, 'client-store.bin');
      copyFileSync(pki.client.p12File, file);
      const out = loadClientTls({ keyStore: file, keyStorePassword: pki.client.p12Password });
      expect(out.pfx).toBeInstanceOf(Buffer);
    });

    it('KEYSTORE_BAD_PASSWORD for a wrong password, without echoing any password', () => {
      const err = storeError(
        () => loadClientTls({ keyStore: pki.client.p12File, keyStorePassword: 'wrong-Secret-123' }),
        'KEYSTORE_BAD_PASSWORD',
        pki.client.p12File,
      );
      expect(err.message).toContain('keyStorePassword is wrong');
      expect(err.message).not.toContain('wrong-Secret-123');
      expect(err.message).not.toContain(pki.client.p12Password);
      expect(err.cause).toBeInstanceOf(Error);
    });

    it('KEYSTORE_BAD_PASSWORD says so when no password is configured', () => {
      const err = storeError(() => loadClientTls({ keyStore: pki.client.p12File }), 'KEYSTORE_BAD_PASSWORD', pki.client.p12File);
      expect(err.message).toContain('no keyStorePassword is configured');
    });

    it('KEYSTORE_LEGACY_PKCS12 for legacy encryption, with the openssl re-export command', () => {
      const err = storeError(
        () => loadClientTls({ keyStore: pki.legacyP12File, keyStorePassword: pki.client.p12Password }),
        'KEYSTORE_LEGACY_PKCS12',
        pki.legacyP12File,
      );
      expect(err.message).toContain('Unsupported PKCS12 PFX data');
      expect(err.message).toContain(
        `openssl pkcs12 -legacy -in ${pki.legacyP12File} -nodes | openssl pkcs12 -export -out ${join(dir, 'client-legacy.new.p12')}`,
      );
      expect(err.message).not.toContain(pki.client.p12Password);
    });

    it('KEYSTORE_NO_KEY for a PKCS#12 holding only certificates', () => {
      const err = storeError(
        () => loadClientTls({ keyStore: pki.trustP12File, keyStorePassword: pki.trustP12Password }),
        'KEYSTORE_NO_KEY',
        pki.trustP12File,
      );
      expect(err.message).toContain('no private key');
      expect(err.message).not.toContain(pki.trustP12Password);
    });

    it('KEYSTORE_UNREADABLE for a corrupt .p12', () => {
      const file = write('corrupt.p12', Buffer.from([0x30, 0x82, 0x01, 0x00, 1, 2, 3]));
      const err = storeError(() => loadClientTls({ keyStore: file, keyStorePassword: 'x' }), 'KEYSTORE_UNREADABLE', file);
      expect(err.message).toContain('not a usable PKCS#12 file');
    });
  });

  describe('keyStore: Java stores', () => {
    it('KEYSTORE_JKS with the exact keytool conversion command', () => {
      const err = storeError(
        () => loadClientTls({ keyStore: pki.jksFile, keyStorePassword: 'jks-Secret' }),
        'KEYSTORE_JKS',
        pki.jksFile,
      );
      const p12 = join(dir, 'keystore.p12');
      expect(err.message).toContain(
        `keytool -importkeystore -srckeystore ${pki.jksFile} -srcstoretype JKS -destkeystore ${p12} -deststoretype PKCS12`,
      );
      expect(err.message).toContain(`point keyStore at ${p12}`);
      expect(err.message).not.toContain('jks-Secret');
    });

    it('KEYSTORE_JKS for JCEKS (0xCECECECE) names the JCEKS store type', () => {
      const file = write('agent.jceks', Buffer.from([0xce, 0xce, 0xce, 0xce, 0, 0, 0, 2, 0, 0, 0, 0]));
      const err = storeError(() => loadClientTls({ keyStore: file }), 'KEYSTORE_JKS', file);
      expect(err.message).toContain(
        `keytool -importkeystore -srckeystore ${file} -srcstoretype JCEKS -destkeystore ${join(dir, 'agent.p12')} -deststoretype PKCS12`,
      );
    });

    it('detects JKS by magic bytes even when named .p12 and never proposes overwriting it', () => {
      const file = join(dir, 'misnamed.p12');
      copyFileSync(pki.jksFile, file);
      const err = storeError(() => loadClientTls({ keyStore: file }), 'KEYSTORE_JKS', file);
      expect(err.message).toContain(`-destkeystore ${join(dir, 'misnamed.new.p12')} -deststoretype PKCS12`);
    });
  });

  describe('keyStore: PEM', () => {
    it('loads cert + key from one PEM bundle', () => {
      const out = loadClientTls({ keyStore: pki.client.pemBundleFile });
      expect(normalize(out.cert ?? '')).toBe(normalize(pki.client.certPem));
      expect(normalize(out.key ?? '')).toBe(normalize(pki.client.keyPem));
      expect(out.passphrase).toBeUndefined();
      expect('passphrase' in out).toBe(false);
    });

    it('loads the key from privateKey when the keyStore holds only the certificate', () => {
      const out = loadClientTls({ keyStore: pki.client.certFile, privateKey: pki.client.keyFile });
      expect(normalize(out.cert ?? '')).toBe(normalize(pki.client.certPem));
      expect(normalize(out.key ?? '')).toBe(normalize(pki.client.keyPem));
    });

    it('keeps the whole chain in cert', () => {
      const file = write('chain.pem', pki.client.certPem + pki.ca.certPem + pki.client.keyPem);
      const out = loadClientTls({ keyStore: file });
      expect(out.cert?.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    });

    it('KEYSTORE_NO_KEY when neither the file nor privateKey has a key', () => {
      const err = storeError(() => loadClientTls({ keyStore: pki.client.certFile }), 'KEYSTORE_NO_KEY', pki.client.certFile);
      expect(err.message).toContain('no private key');
      expect(err.message).toContain('privateKey');
    });

    it('KEYSTORE_NO_KEY when privateKey holds no key', () => {
      storeError(
        () => loadClientTls({ keyStore: pki.client.certFile, privateKey: pki.ca.file }),
        'KEYSTORE_NO_KEY',
        pki.ca.file,
      );
    });

    it('KEYSTORE_NO_KEY when the key does not belong to the certificate', () => {
      const err = storeError(
        () => loadClientTls({ keyStore: pki.client.certFile, privateKey: pki.server.keyFile }),
        'KEYSTORE_NO_KEY',
        pki.server.keyFile,
      );
      expect(err.message).toContain('does not belong to the certificate');
    });

    it('decrypts an encrypted key with keyStorePassword; KEYSTORE_BAD_PASSWORD otherwise', () => {
      const encrypted = createPrivateKey(pki.client.keyPem)
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pem-Secret' })
        .toString();
      const enc = write('client-key-enc.pem', encrypted);
      const out = loadClientTls({ keyStore: pki.client.certFile, privateKey: enc, keyStorePassword: 'pem-Secret' });
      expect(out.passphrase).toBe('pem-Secret');
      expect(() => tls.createSecureContext(out)).not.toThrow();

      const bad = storeError(
        () => loadClientTls({ keyStore: pki.client.certFile, privateKey: enc, keyStorePassword: 'wrong-Secret-9' }),
        'KEYSTORE_BAD_PASSWORD',
        enc,
      );
      expect(bad.message).toContain('keyStorePassword is wrong');
      expect(bad.message).not.toContain('wrong-Secret-9');
      expect(bad.message).not.toContain('pem-Secret');

      const none = storeError(
        () => loadClientTls({ keyStore: pki.client.certFile, privateKey: enc }),
        'KEYSTORE_BAD_PASSWORD',
        enc,
      );
      expect(none.message).toContain('no keyStorePassword is configured');
    });

    it('KEYSTORE_UNREADABLE for a PEM file without certificates', () => {
      const err = storeError(() => loadClientTls({ keyStore: pki.client.keyFile }), 'KEYSTORE_UNREADABLE', pki.client.keyFile);
      expect(err.message).toContain('no PEM CERTIFICATE');
    });
  });

  describe('keyStore: unreadable', () => {
    it('KEYSTORE_UNREADABLE for a missing file, with the OS error as cause', () => {
      const file = join(dir, 'missing.p12');
      const err = storeError(() => loadClientTls({ keyStore: file }), 'KEYSTORE_UNREADABLE', file);
      expect(err.message).toContain('ENOENT');
      expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    });

    it('KEYSTORE_UNREADABLE for an unknown format', () => {
      const file = write('random.bin', Buffer.from('just some text'));
      const err = storeError(() => loadClientTls({ keyStore: file }), 'KEYSTORE_UNREADABLE', file);
      expect(err.message).toContain('neither PEM nor PKCS#12');
    });

    it('KEYSTORE_UNREADABLE for a missing privateKey file names that file', () => {
      const file = join(dir, 'missing-key.pem');
      storeError(() => loadClientTls({ keyStore: pki.client.certFile, privateKey: file }), 'KEYSTORE_UNREADABLE', file);
    });
  });

  describe('trustStore', () => {
    const roots = tls.rootCertificates.length;

    it('loads every certificate of a PEM bundle and appends the public roots', () => {
      const file = write('bundle.pem', `# comment\n${pki.ca.certPem}\nsome text\n${pki.otherCa.certPem}`);
      const { ca } = loadClientTls({ trustStore: file });
      expect(ca).toHaveLength(2 + roots);
      expect(normalize(ca![0]!)).toBe(normalize(pki.ca.certPem));
      expect(normalize(ca![1]!)).toBe(normalize(pki.otherCa.certPem));
      expect(ca!.slice(2)).toEqual([...tls.rootCertificates]);
    });

    it('reads certificate bags from a PKCS#12 trust store', () => {
      const { ca } = loadClientTls({ trustStore: pki.trustP12File, trustStorePassword: pki.trustP12Password });
      expect(ca).toHaveLength(1 + roots);
      expect(normalize(ca![0]!)).toBe(normalize(pki.ca.certPem));
    });

    it('reads a PKCS#12 trust store without extension (DER detection)', () => {
      const file = join(dir, 'truststore-noext');
      copyFileSync(pki.trustP12File, file);
      const { ca } = loadClientTls({ trustStore: file, trustStorePassword: pki.trustP12Password });
      expect(normalize(ca![0]!)).toBe(normalize(pki.ca.certPem));
    });

    it('reads a single DER certificate', () => {
      const der = Buffer.from(pki.ca.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      const file = write('ca.cer', der);
      const { ca } = loadClientTls({ trustStore: file });
      expect(normalize(ca![0]!)).toBe(normalize(pki.ca.certPem));
    });

    it('a combined key store and trust store', () => {
      const out = loadClientTls({
        keyStore: pki.client.p12File,
        keyStorePassword: pki.client.p12Password,
        trustStore: pki.ca.file,
      });
      expect(Object.keys(out).sort()).toEqual(['ca', 'passphrase', 'pfx']);
    });

    it('TRUSTSTORE_UNREADABLE for a wrong PKCS#12 password, without echoing it', () => {
      const err = storeError(
        () => loadClientTls({ trustStore: pki.trustP12File, trustStorePassword: 'bad-Trust-7' }),
        'TRUSTSTORE_UNREADABLE',
        pki.trustP12File,
      );
      expect(err.message).toContain('wrong trustStorePassword?');
      expect(err.message).not.toContain('bad-Trust-7');
      expect(err.message).not.toContain(pki.trustP12Password);
    });

    it('TRUSTSTORE_UNREADABLE hints at trustStorePassword when none is set', () => {
      const err = storeError(() => loadClientTls({ trustStore: pki.trustP12File }), 'TRUSTSTORE_UNREADABLE', pki.trustP12File);
      expect(err.message).toContain('set trustStorePassword');
    });

    it('TRUSTSTORE_UNREADABLE for a missing file', () => {
      const file = join(dir, 'no-such-ca.pem');
      const err = storeError(() => loadClientTls({ trustStore: file }), 'TRUSTSTORE_UNREADABLE', file);
      expect(err.message).toContain('ENOENT');
    });

    it('TRUSTSTORE_UNREADABLE for binary garbage', () => {
      const file = write('garbage.bin', Buffer.from([1, 2, 3, 4, 5]));
      storeError(() => loadClientTls({ trustStore: file }), 'TRUSTSTORE_UNREADABLE', file);
    });

    it('TRUSTSTORE_JKS with the keytool commands (PKCS#12 and PEM)', () => {
      const err = storeError(
        () => loadClientTls({ trustStore: pki.jksFile, trustStorePassword: 'changeit-Secret' }),
        'TRUSTSTORE_JKS',
        pki.jksFile,
      );
      const p12 = join(dir, 'keystore.p12');
      expect(err.message).toContain(
        `keytool -importkeystore -srckeystore ${pki.jksFile} -srcstoretype JKS -destkeystore ${p12} -deststoretype PKCS12`,
      );
      expect(err.message).toContain(`point trustStore at ${p12}`);
      expect(err.message).toContain(`keytool -exportcert -rfc -alias <alias> -keystore ${pki.jksFile} -storetype JKS`);
      expect(err.message).not.toContain('changeit-Secret');
    });

    it('TRUSTSTORE_EMPTY for a PEM file without certificates', () => {
      storeError(() => loadClientTls({ trustStore: pki.client.keyFile }), 'TRUSTSTORE_EMPTY', pki.client.keyFile);
    });

    it('TRUSTSTORE_EMPTY for an empty file', () => {
      const file = write('empty.pem', '');
      storeError(() => loadClientTls({ trustStore: file }), 'TRUSTSTORE_EMPTY', file);
    });

    it('TRUSTSTORE_EMPTY for a PKCS#12 with a key but no certificates', async () => {
      const forge = (await import('node-forge')).default;
      const key = forge.pki.privateKeyFromPem(pki.client.keyPem);
      const asn1 = forge.pkcs12.toPkcs12Asn1(key, [], 'pw', { algorithm: 'aes256', generateLocalKeyId: false });
      const file = write('key-only.p12', Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'));
      storeError(() => loadClientTls({ trustStore: file, trustStorePassword: 'pw' }), 'TRUSTSTORE_EMPTY', file);
    });

    it('the CA read from the PKCS#12 trust store verifies the test server over a real TLS handshake', async () => {
      const { ca } = loadClientTls({ trustStore: pki.trustP12File, trustStorePassword: pki.trustP12Password });
      const server = tls.createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (s) => s.end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const authorized = await new Promise<boolean>((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port, ca: ca! }, () => {
            resolve(socket.authorized);
            socket.destroy();
          });
          socket.on('error', reject);
        });
        expect(authorized).toBe(true);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    const hasOpenssl = (() => {
      try {
        execFileSync('openssl', ['version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();

    it.skipIf(!hasOpenssl)('reads EC certificates from PKCS#12 (forge keeps them as raw ASN.1)', () => {
      const key = join(dir, 'ec-key.pem');
      const cert = join(dir, 'ec-ca.pem');
      const p12 = join(dir, 'ec-trust.p12');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', key, '-out', cert, '-subj', '/CN=EC test CA', '-days', '1'], { stdio: 'ignore' });
      execFileSync('openssl', ['pkcs12', '-export', '-nokeys', '-in', cert, '-out', p12, '-passout', 'pass:ecpass'], {
        stdio: 'ignore',
      });
      const { ca } = loadClientTls({ trustStore: p12, trustStorePassword: 'ecpass' });
      expect(normalize(ca![0]!)).toBe(normalize(readFileSync(cert, 'utf8')));
    });
  });
});
