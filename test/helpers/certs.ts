/**
 * A throw-away PKI generated at test time (real servers, not mocks: docs/architecture.md, "Testing"): a CA, a server certificate for
 * 127.0.0.1/localhost, a client certificate (PEM, PEM bundle, PKCS#12), an unrelated CA, an
 * expired client certificate, a PKCS#12 trust store and a fake JKS file.
 *
 * RSA keys come from `crypto.generateKeyPairSync` (native, ~50 ms) instead of forge (seconds);
 * forge only signs. Keys and certificates are cached per process and options, so calling
 * `makeTestPki` in every test file only costs the file writes.
 *
 * PKCS#12 note (Node 20, OpenSSL 3): forge's `3des` (pbeWithSHAAnd3-KeyTripleDES-CBC) and `aes*`
 * (PBES2) stores load fine; `des` (PBES2 DES-CBC) needs OpenSSL's legacy provider and fails
 * with "Unsupported PKCS12 PFX data" — that is what `legacyP12File` is for.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TestPki {
  dir: string;
  ca: { certPem: string; keyPem: string; file: string };
  server: { certPem: string; keyPem: string; certFile: string; keyFile: string };
  client: {
    certPem: string;
    keyPem: string;
    certFile: string;
    keyFile: string;
    /** PKCS#12 (3DES, readable by Node 20) with key, client cert and CA cert. */
    p12File: string;
    p12Password: string;
    /** Client cert + key in one PEM file. */
    pemBundleFile: string;
  };
  /** An unrelated CA: trusting only this must make verification of the server fail. */
  otherCa: { certPem: string; file: string };
  /** Signed by `ca`, valid yesterday only. */
  expiredClient: { certFile: string; keyFile: string };
  /** PKCS#12 trust store holding only the CA certificate; password `trustpass`. */
  trustP12File: string;
  trustP12Password: string;
  /** Starts with the JKS magic 0xFEEDFEED (an empty JKS store). */
  jksFile: string;
  /** The client key store with legacy encryption Node 20 rejects; password = `client.p12Password`. */
  legacyP12File: string;
}

export interface TestPkiOptions {
  /** Server SAN entries; IP literals become iPAddress, others dNSName. Default localhost, 127.0.0.1, ::1. */
  serverNames?: string[];
  /** Client certificate CN (also its dNSName SAN). Default `site-a-1`. */
  clientCn?: string;
}

const P12_PASSWORD = 'client-p12-pass';
const TRUST_P12_PASSWORD = 'trustpass';
const DAY = 24 * 3600 * 1000;

interface KeyPair {
  pem: string;
  forge: forge.pki.rsa.PrivateKey;
  pub: forge.pki.rsa.PublicKey;
}

const keys = new Map<string, KeyPair>();
function keyFor(role: string): KeyPair {
  let k = keys.get(role);
  if (!k) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const fk = forge.pki.privateKeyFromPem(pem);
    k = { pem, forge: fk, pub: forge.pki.setRsaPublicKey(fk.n, fk.e) };
    keys.set(role, k);
  }
  return k;
}

interface CertSpec {
  cn: string;
  key: KeyPair;
  issuer?: { cert: forge.pki.Certificate; key: KeyPair };
  notBefore: Date;
  notAfter: Date;
  extensions: object[];
}

function makeCert(spec: CertSpec): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.key.pub;
  // Positive, non-zero 64-bit serial (a leading bit of 1 would make the DER INTEGER negative).
  cert.serialNumber = '1' + randomBytes(8).toString('hex');
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  const subject = [{ name: 'commonName', value: spec.cn }, { name: 'organizationName', value: 'datasync-agent tests' }];
  cert.setSubject(subject);
  cert.setIssuer(spec.issuer ? spec.issuer.cert.subject.attributes : subject);
  const aki = spec.issuer
    ? [{ name: 'authorityKeyIdentifier', keyIdentifier: spec.issuer.cert.generateSubjectKeyIdentifier().getBytes() }]
    : [];
  cert.setExtensions([...spec.extensions, { name: 'subjectKeyIdentifier' }, ...aki]);
  cert.sign((spec.issuer?.key ?? spec.key).forge, forge.md.sha256.create());
  return cert;
}

function caCert(cn: string, key: KeyPair, now: number): forge.pki.Certificate {
  return makeCert({
    cn,
    key,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
}

function toP12(key: KeyPair | null, certs: forge.pki.Certificate[], password: string, algorithm: '3des' | 'aes256' | 'des'): Buffer {
  type P12Options = NonNullable<Parameters<typeof forge.pkcs12.toPkcs12Asn1>[3]>;
  // forge implements 'des' (PBES2 + DES-CBC) but @types/node-forge does not list it.
  const options = { algorithm, friendlyName: key ? 'client' : 'ca' } as P12Options;
  const asn1 = forge.pkcs12.toPkcs12Asn1(key?.forge ?? null, certs, password, options);
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

interface Material {
  ca: { certPem: string; keyPem: string };
  server: { certPem: string; keyPem: string };
  client: { certPem: string; keyPem: string; p12: Buffer; legacyP12: Buffer };
  otherCa: { certPem: string };
  expiredClient: { certPem: string; keyPem: string };
  trustP12: Buffer;
}

const materials = new Map<string, Material>();

function material(serverNames: string[], clientCn: string): Material {
  const cacheKey = JSON.stringify([serverNames, clientCn]);
  const cached = materials.get(cacheKey);
  if (cached) return cached;

  const now = Date.now();
  const caKey = keyFor('ca');
  const ca = caCert('datasync test CA', caKey, now);
  const issuer = { cert: ca, key: caKey };

  const server = makeCert({
    cn: serverNames[0] ?? 'localhost',
    key: keyFor('server'),
    issuer,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: serverNames.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })),
      },
    ],
  });

  const clientExtensions = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: clientCn }] },
  ];
  const clientKey = keyFor('client');
  const client = makeCert({
    cn: clientCn,
    key: clientKey,
    issuer,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
    extensions: clientExtensions,
  });
  const expired = makeCert({
    cn: clientCn,
    key: clientKey,
    issuer,
    notBefore: new Date(now - 3 * DAY),
    notAfter: new Date(now - DAY),
    extensions: clientExtensions,
  });
  const otherCa = caCert('unrelated test CA', keyFor('otherCa'), now);

  const m: Material = {
    ca: { certPem: forge.pki.certificateToPem(ca), keyPem: caKey.pem },
    server: { certPem: forge.pki.certificateToPem(server), keyPem: keyFor('server').pem },
    client: {
      certPem: forge.pki.certificateToPem(client),
      keyPem: clientKey.pem,
      p12: toP12(clientKey, [client, ca], P12_PASSWORD, '3des'),
      legacyP12: toP12(clientKey, [client, ca], P12_PASSWORD, 'des'),
    },
    otherCa: { certPem: forge.pki.certificateToPem(otherCa) },
    expiredClient: { certPem: forge.pki.certificateToPem(expired), keyPem: clientKey.pem },
    trustP12: toP12(null, [ca], TRUST_P12_PASSWORD, 'aes256'),
  };
  materials.set(cacheKey, m);
  return m;
}

/** Writes a fresh set of PKI files into `dir` (created if missing). */
export function makeTestPki(dir: string, opts: TestPkiOptions = {}): TestPki {
  const m = material(opts.serverNames ?? ['localhost', '127.0.0.1', '::1'], opts.clientCn ?? 'site-a-1');
  mkdirSync(dir, { recursive: true });
  const write = (name: string, data: string | Buffer): string => {
    const file = join(dir, name);
    writeFileSync(file, data);
    return file;
  };
  // A JKS header (magic, version 2, zero entries) followed by a dummy SHA-1 integrity hash.
  const jks = Buffer.concat([Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 0]), Buffer.alloc(20)]);

  return {
    dir,
    ca: { ...m.ca, file: write('ca.pem', m.ca.certPem) },
    server: {
      ...m.server,
      certFile: write('server.pem', m.server.certPem),
      keyFile: write('server-key.pem', m.server.keyPem),
    },
    client: {
      certPem: m.client.certPem,
      keyPem: m.client.keyPem,
      certFile: write('client.pem', m.client.certPem),
      keyFile: write('client-key.pem', m.client.keyPem),
      p12File: write('client.p12', m.client.p12),
      p12Password: P12_PASSWORD,
      pemBundleFile: write('client-bundle.pem', m.client.certPem + m.client.keyPem),
    },
    otherCa: { ...m.otherCa, file: write('other-ca.pem', m.otherCa.certPem) },
    expiredClient: {
      certFile: write('expired-client.pem', m.expiredClient.certPem),
      keyFile: write('expired-client-key.pem', m.expiredClient.keyPem),
    },
    trustP12File: write('truststore.p12', m.trustP12),
    trustP12Password: TRUST_P12_PASSWORD,
    jksFile: write('keystore.jks', jks),
    legacyP12File: write('client-legacy.p12', m.client.legacyP12),
  };
}
