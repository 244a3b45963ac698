/**
 * Loads the agent's client key store and trust store into Node `tls` options.
 *
 * Operators usually hand us whatever their PKI produced: PEM files, a PKCS#12 bundle, or a
 * Java key store. Node reads only PEM and (modern) PKCS#12, and some failures are silent or
 * cryptic at connect time (a `.p12` passed as `ca` is ignored; a JKS gives "header too long").
 * Everything is therefore read and validated once, at startup, and every failure becomes a
 * {@link TlsStoreError} with a stable `code` and a message that says how to fix the file.
 * Messages name the file but never contain a password.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { createRequire } from 'node:module';
import * as tls from 'node:tls';
import type Forge from 'node-forge';

/**
 * node-forge (~10 MB of heap once loaded) is needed only to read a PKCS#12 trust store, so it is
 * loaded on first use: an agent with PEM stores, or none, never loads it.
 */
let forgeModule: typeof Forge | undefined;
function forgeLib(): typeof Forge {
  forgeModule ??= createRequire(import.meta.url)('node-forge') as typeof Forge;
  return forgeModule;
}

/** Where the key material lives. All paths are absolute; an absent store is simply not used. */
export interface ClientTlsInput {
  /** Client certificate + key: PKCS#12 (`.p12`/`.pfx`) or PEM (cert, optionally with its key). */
  keyStore?: string;
  /** PKCS#12 store password, or the passphrase of an encrypted PEM key. */
  keyStorePassword?: string;
  /** PEM private key, when the PEM `keyStore` holds only the certificate(s). Wins over a key in `keyStore`. */
  privateKey?: string;
  /** CAs to trust for the hub: a PEM bundle, a DER certificate or a PKCS#12 store of certificates. */
  trustStore?: string;
  /** Password of a PKCS#12 `trustStore`; absent means the empty password. */
  trustStorePassword?: string;
}

/** Subset of `tls.ConnectionOptions`; spread it into `https.request`/`ws` options. */
export interface ClientTlsOptions {
  pfx?: Buffer;
  passphrase?: string;
  cert?: string;
  key?: string;
  ca?: string[];
}

export type TlsStoreErrorCode =
  | 'KEYSTORE_UNREADABLE'
  | 'KEYSTORE_JKS'
  | 'KEYSTORE_LEGACY_PKCS12'
  | 'KEYSTORE_BAD_PASSWORD'
  | 'KEYSTORE_NO_KEY'
  | 'TRUSTSTORE_UNREADABLE'
  | 'TRUSTSTORE_JKS'
  | 'TRUSTSTORE_EMPTY';

export class TlsStoreError extends Error {
  override readonly name = 'TlsStoreError';
  readonly code: TlsStoreErrorCode;
  /** The file the problem is about (the key store, the private key or the trust store). */
  readonly file: string;

  constructor(code: TlsStoreErrorCode, file: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.file = file;
  }
}

/**
 * Reads and validates the configured stores.
 *
 * @throws {TlsStoreError} when a store cannot be used; nothing is deferred to connect time.
 */
export function loadClientTls(input: ClientTlsInput): ClientTlsOptions {
  const out: ClientTlsOptions = {};
  if (input.keyStore !== undefined) {
    Object.assign(out, loadKeyStore(input.keyStore, input.keyStorePassword, input.privateKey));
  }
  if (input.trustStore !== undefined) {
    out.ca = loadTrustStore(input.trustStore, input.trustStorePassword);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Format detection

const JKS_MAGIC = 0xfeedfeed;
const JCEKS_MAGIC = 0xcececece;
const CERT_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_PEM = /-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

type Format = 'jks' | 'jceks' | 'pem' | 'pkcs12' | 'der' | 'unknown';

function detect(file: string, data: Buffer): Format {
  if (data.length >= 4) {
    const magic = data.readUInt32BE(0);
    if (magic === JKS_MAGIC) return 'jks';
    if (magic === JCEKS_MAGIC) return 'jceks';
  }
  if (data.includes('-----BEGIN')) return 'pem';
  const ext = extname(file).toLowerCase();
  if (ext === '.p12' || ext === '.pfx') return 'pkcs12';
  // Both PKCS#12 and X.509 are DER SEQUENCEs (tag 0x30); the caller tells them apart.
  if (data[0] === 0x30) return 'der';
  return 'unknown';
}

function readStore(file: string, code: 'KEYSTORE_UNREADABLE' | 'TRUSTSTORE_UNREADABLE', what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsStoreError(code, file, `${what} ${file} cannot be read: ${messageOf(err)}`, { cause: err });
  }
}

/** Quotes a path for a copy-pasteable POSIX shell command. */
function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `/etc/agent/agent.jks` → `/etc/agent/agent.p12`; `suffix` keeps it from naming the source file. */
function p12Beside(file: string, suffix = ''): string {
  const base = basename(file, extname(file));
  const candidate = join(dirname(file), `${base}${suffix}.p12`);
  return candidate === file ? p12Beside(file, `${suffix}.new`) : candidate;
}

// ---------------------------------------------------------------------------------------------
// Key store

function loadKeyStore(file: string, password: string | undefined, privateKey: string | undefined): ClientTlsOptions {
  const data = readStore(file, 'KEYSTORE_UNREADABLE', 'keyStore');
  const format = detect(file, data);
  switch (format) {
    case 'jks':
    case 'jceks': {
      const type = format === 'jks' ? 'JKS' : 'JCEKS';
      const dest = p12Beside(file);
      throw new TlsStoreError(
        'KEYSTORE_JKS',
        file,
        `keyStore ${file} is a Java ${type} key store, which Node.js cannot read. Convert it to PKCS#12:\n` +
          `  keytool -importkeystore -srckeystore ${shellQuote(file)} -srcstoretype ${type} -destkeystore ${shellQuote(dest)} -deststoretype PKCS12\n` +
          `and point keyStore at ${dest} (keep the same password for the store and the key).`,
      );
    }
    case 'pem':
      return loadPemKeyStore(file, data.toString('utf8'), password, privateKey);
    case 'pkcs12':
    case 'der':
      return loadPkcs12KeyStore(file, data, password);
    case 'unknown':
      throw new TlsStoreError(
        'KEYSTORE_UNREADABLE',
        file,
        `keyStore ${file} is neither PEM nor PKCS#12 (.p12/.pfx); cannot use it as a client certificate.`,
      );
  }
}

function loadPkcs12KeyStore(file: string, pfx: Buffer, password: string | undefined): ClientTlsOptions {
  const options: ClientTlsOptions = password === undefined ? { pfx } : { pfx, passphrase: password };
  try {
    // Parsing here is the validation: the same call happens on every connect, but a failure
    // there would surface as a reconnect loop instead of one clear startup error.
    tls.createSecureContext(options);
  } catch (err) {
    throw pkcs12Error(file, err, password !== undefined);
  }
  return options;
}

function pkcs12Error(file: string, err: unknown, hasPassword: boolean): TlsStoreError {
  const msg = messageOf(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (/mac verify failure/i.test(msg)) {
    const hint = hasPassword ? 'keyStorePassword is wrong' : 'no keyStorePassword is configured';
    return new TlsStoreError(
      'KEYSTORE_BAD_PASSWORD',
      file,
      `keyStore ${file}: ${hint} (PKCS#12 MAC verification failed).`,
      { cause: err },
    );
  }
  if (/Unsupported PKCS12 PFX data/i.test(msg) || code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION') {
    // OpenSSL 3 (Node >= 17) moved RC2, DES and friends to the "legacy" provider, which Node
    // does not load; stores exported by old OpenSSL/Java/Windows tools use them.
    return new TlsStoreError(
      'KEYSTORE_LEGACY_PKCS12',
      file,
      `keyStore ${file} uses legacy PKCS#12 encryption (e.g. RC2-40 or DES) that Node.js (OpenSSL 3) ` +
        `no longer supports ("${msg}"). Re-export it with modern (AES) encryption:\n` +
        `  openssl pkcs12 -legacy -in ${shellQuote(file)} -nodes | openssl pkcs12 -export -out ${shellQuote(p12Beside(file, '.new'))}\n` +
        `and point keyStore at the new file.`,
      { cause: err },
    );
  }
  if (/Unable to load private key from PFX/i.test(msg)) {
    return new TlsStoreError(
      'KEYSTORE_NO_KEY',
      file,
      `keyStore ${file} holds no private key (only certificates?); a client key store needs the key of the client certificate.`,
      { cause: err },
    );
  }
  return new TlsStoreError(
    'KEYSTORE_UNREADABLE',
    file,
    `keyStore ${file} is not a usable PKCS#12 file: ${msg}`,
    { cause: err },
  );
}

function loadPemKeyStore(
  file: string,
  text: string,
  password: string | undefined,
  privateKeyFile: string | undefined,
): ClientTlsOptions {
  const certs = text.match(CERT_PEM);
  if (!certs) {
    throw new TlsStoreError('KEYSTORE_UNREADABLE', file, `keyStore ${file} contains no PEM CERTIFICATE block.`);
  }
  let keyFile = file;
  let key = KEY_PEM.exec(text)?.[0];
  if (privateKeyFile !== undefined) {
    keyFile = privateKeyFile;
    const keyText = readStore(privateKeyFile, 'KEYSTORE_UNREADABLE', 'privateKey').toString('utf8');
    key = KEY_PEM.exec(keyText)?.[0];
    if (key === undefined) {
      throw new TlsStoreError('KEYSTORE_NO_KEY', privateKeyFile, `privateKey ${privateKeyFile} contains no PEM PRIVATE KEY block.`);
    }
  }
  if (key === undefined) {
    throw new TlsStoreError(
      'KEYSTORE_NO_KEY',
      file,
      `keyStore ${file} holds certificate(s) but no private key: add the key to the same PEM file or set privateKey.`,
    );
  }
  const options: ClientTlsOptions = { cert: certs.join('\n') + '\n', key: key + '\n' };
  if (password !== undefined) options.passphrase = password;
  try {
    tls.createSecureContext(options);
  } catch (err) {
    const msg = messageOf(err);
    if (/bad decrypt|bad password|interrupted or cancelled/i.test(msg)) {
      const hint = password === undefined ? 'is encrypted but no keyStorePassword is configured' : 'cannot be decrypted: keyStorePassword is wrong';
      throw new TlsStoreError('KEYSTORE_BAD_PASSWORD', keyFile, `private key in ${keyFile} ${hint}.`, { cause: err });
    }
    if (/key values mismatch/i.test(msg)) {
      throw new TlsStoreError(
        'KEYSTORE_NO_KEY',
        keyFile,
        `private key in ${keyFile} does not belong to the certificate in ${file}.`,
        { cause: err },
      );
    }
    throw new TlsStoreError('KEYSTORE_UNREADABLE', file, `keyStore ${file} cannot be used: ${msg}`, { cause: err });
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Trust store

function loadTrustStore(file: string, password: string | undefined): string[] {
  const data = readStore(file, 'TRUSTSTORE_UNREADABLE', 'trustStore');
  const format = detect(file, data);
  let certs: string[];
  switch (format) {
    case 'jks':
    case 'jceks': {
      const type = format === 'jks' ? 'JKS' : 'JCEKS';
      const dest = p12Beside(file);
      throw new TlsStoreError(
        'TRUSTSTORE_JKS',
        file,
        `trustStore ${file} is a Java ${type} store, which Node.js cannot read. Convert it to PKCS#12:\n` +
          `  keytool -importkeystore -srckeystore ${shellQuote(file)} -srcstoretype ${type} -destkeystore ${shellQuote(dest)} -deststoretype PKCS12\n` +
          `and point trustStore at ${dest}, or export each CA as PEM and use a PEM bundle:\n` +
          `  keytool -exportcert -rfc -alias <alias> -keystore ${file} -storetype ${type} -file ca.pem`,
      );
    }
    case 'pem':
      certs = data.toString('utf8').match(CERT_PEM) ?? [];
      break;
    case 'der': {
      const single = derCertificate(data);
      certs = single !== undefined ? [single] : pkcs12Certificates(file, data, password);
      break;
    }
    case 'pkcs12':
      certs = pkcs12Certificates(file, data, password);
      break;
    case 'unknown':
      if (data.toString('utf8').trim() !== '') {
        throw new TlsStoreError(
          'TRUSTSTORE_UNREADABLE',
          file,
          `trustStore ${file} is neither a PEM bundle, a DER certificate nor PKCS#12 (.p12/.pfx).`,
        );
      }
      certs = [];
  }
  if (certs.length === 0) {
    throw new TlsStoreError('TRUSTSTORE_EMPTY', file, `trustStore ${file} contains no certificates.`);
  }
  // `ca` REPLACES Node's built-in root store instead of adding to it. A trust store configured
  // for a private hub CA must not silently break connections through public-CA endpoints
  // (e.g. a TLS-intercepting proxy's upstream or a hub behind a public certificate).
  return [...certs.map((c) => c.trim() + '\n'), ...tls.rootCertificates];
}

function derCertificate(data: Buffer): string | undefined {
  try {
    return new X509Certificate(data).toString();
  } catch {
    return undefined;
  }
}

function pkcs12Certificates(file: string, data: Buffer, password: string | undefined): string[] {
  const forge = forgeLib();
  let p12: Forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(data.toString('binary')));
    // Node's `ca` wants PEM and silently ignores a PKCS#12 buffer, so decode it here.
    // node-forge also reads legacy (RC2/3DES) stores, which OpenSSL 3 would refuse.
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, password ?? '');
  } catch (err) {
    const msg = messageOf(err);
    const hint = /MAC could not be verified|Invalid password/i.test(msg)
      ? password === undefined
        ? ' (the store is password-protected: set trustStorePassword)'
        : ' (wrong trustStorePassword?)'
      : '';
    throw new TlsStoreError('TRUSTSTORE_UNREADABLE', file, `trustStore ${file} is not a readable PKCS#12 store: ${msg}${hint}`, {
      cause: err,
    });
  }
  const bags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag ?? ''] ?? [];
  const pems: string[] = [];
  for (const bag of bags) {
    if (bag.cert) {
      pems.push(forge.pki.certificateToPem(bag.cert));
    } else if (bag.asn1 !== undefined) {
      // forge only models RSA keys; for EC/Ed25519 certificates it keeps the raw ASN.1.
      pems.push(forge.pem.encode({ type: 'CERTIFICATE', body: forge.asn1.toDer(bag.asn1).getBytes() }));
    }
  }
  return pems;
}
