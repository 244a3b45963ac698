/**
 * The files a hub configuration names — `tls.cert`, `tls.key`, `tls.clientCa` — opened and
 * validated while the configuration is loaded, so `datasync-hub check` and start-up report a
 * missing, unreadable, mismatched or expired file as `FILE:LINE:COL: tls.cert: …` (exit 2)
 * instead of passing the check and then dying on a raw `ENOENT` at listen time, which a service
 * manager restarts in a loop.
 *
 * Errors: a file that cannot be read, holds no PEM certificate (or key), a key that is not the
 * certificate's, an expired certificate, a CA bundle without a CA certificate. Warnings (the hub
 * still starts): a certificate that expires within {@link EXPIRY_WARNING_DAYS} days or is not
 * valid yet, an expired CA in the bundle.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeHubConfig, type HubConfig } from './hub-config.js';
import { readConfigFile } from './load.js';
import { ConfigError, formatProblem, type PathProblem } from './problems.js';
import { locate, parseYamlSource } from './yaml-source.js';

/** A certificate that expires sooner than this is reported as a warning. */
export const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 86_400_000;
const CERT_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_PEM = /-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

export interface HubTlsFiles {
  readonly cert?: string;
  readonly key?: string;
  readonly clientCa?: string;
}

export interface HubFileFindings {
  /** Problems that stop the hub: reported like any configuration error, exit 2. */
  readonly errors: PathProblem[];
  /** Problems an operator must act on soon; the hub runs. */
  readonly warnings: PathProblem[];
}

/** A decoded hub configuration and the warnings about its files, each `FILE:LINE:COL: key: warning: …`. */
export interface CheckedHubConfig {
  readonly config: HubConfig;
  readonly warnings: string[];
}

/**
 * Reads, decodes and checks a hub configuration and the files it names; throws `ConfigError`
 * (every problem with its position) when the configuration or one of its files is unusable.
 */
export function loadCheckedHubConfig(file: string, env: NodeJS.ProcessEnv = process.env, now: number = Date.now()): CheckedHubConfig {
  const text = readConfigFile(file);
  const config = decodeHubConfig(text, file, env);
  const { errors, warnings } = checkHubFiles(config.tls, now);
  if (errors.length === 0 && warnings.length === 0) return { config, warnings: [] };
  const src = parseYamlSource(text, file);
  if (errors.length > 0) throw new ConfigError(file, locate(src, errors));
  return { config, warnings: locate(src, warnings).map(formatProblem) };
}

/** Checks the TLS files (paths already resolved against the configuration's directory). */
export function checkHubFiles(tls: HubTlsFiles | undefined, now: number = Date.now()): HubFileFindings {
  const errors: PathProblem[] = [];
  const warnings: PathProblem[] = [];
  if (tls === undefined) return { errors, warnings };
  let leaf: X509Certificate | undefined;
  let key: KeyObject | undefined;
  if (tls.cert !== undefined) {
    const path = ['tls', 'cert'];
    const text = readText(tls.cert, path, errors);
    if (text !== undefined) {
      const certs = parseCertificates(text, tls.cert, path, errors);
      leaf = certs[0];
      if (leaf !== undefined) checkValidity(leaf, `certificate in ${tls.cert}`, path, now, errors, warnings);
    }
  }
  if (tls.key !== undefined) {
    const path = ['tls', 'key'];
    const text = readText(tls.key, path, errors);
    if (text !== undefined) key = parseKey(text, tls.key, path, errors);
  }
  if (leaf !== undefined && key !== undefined && tls.cert !== undefined && tls.key !== undefined && !leaf.checkPrivateKey(key)) {
    errors.push({ path: ['tls', 'key'], message: `private key in ${tls.key} does not belong to the certificate in ${tls.cert} (not a matching pair)` });
  }
  if (tls.clientCa !== undefined) checkCaBundle(tls.clientCa, now, errors, warnings);
  return { errors, warnings };
}

function readText(file: string, path: string[], errors: PathProblem[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied (the hub runs as a user that cannot read it)'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : err instanceof Error
              ? err.message
              : String(err);
    errors.push({ path, message: `cannot read ${file}: ${why}${typeof code === 'string' ? ` (${code})` : ''}` });
    return undefined;
  }
}

function parseCertificates(text: string, file: string, path: string[], errors: PathProblem[]): X509Certificate[] {
  const blocks = text.match(CERT_PEM) ?? [];
  if (blocks.length === 0) {
    errors.push({ path, message: `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert a DER or PKCS#12 file to PEM` });
    return [];
  }
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch (err) {
      errors.push({ path, message: `certificate ${i + 1} in ${file} cannot be parsed: ${err instanceof Error ? err.message : String(err)}` });
      return [];
    }
  }
  return certs;
}

function parseKey(text: string, file: string, path: string[], errors: PathProblem[]): KeyObject | undefined {
  const block = KEY_PEM.exec(text);
  if (block === null) {
    errors.push({ path, message: `${file} holds no PEM private key (-----BEGIN PRIVATE KEY-----)` });
    return undefined;
  }
  if (block[1] === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block[0])) {
    errors.push({ path, message: `private key in ${file} is encrypted and the hub has no passphrase setting: store it decrypted (openssl pkey -in KEY -out KEY.plain), readable only by the hub` });
    return undefined;
  }
  try {
    return createPrivateKey(block[0]);
  } catch (err) {
    errors.push({ path, message: `private key in ${file} cannot be parsed: ${err instanceof Error ? err.message : String(err)}` });
    return undefined;
  }
}

function checkValidity(cert: X509Certificate, what: string, path: string[], now: number, errors: PathProblem[], warnings: PathProblem[]): void {
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  if (notAfter <= now) {
    errors.push({ path, message: `${what} expired on ${isoDate(notAfter)} (${subjectOf(cert)}): renew it` });
    return;
  }
  const daysLeft = Math.floor((notAfter - now) / DAY_MS);
  if (daysLeft < EXPIRY_WARNING_DAYS) {
    warnings.push({ path, message: `warning: ${what} expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'}, on ${isoDate(notAfter)} (${subjectOf(cert)}): renew it` });
  }
  if (notBefore > now) {
    warnings.push({ path, message: `warning: ${what} is not valid before ${isoDate(notBefore)} (${subjectOf(cert)}): is this machine's clock right?` });
  }
}

function checkCaBundle(file: string, now: number, errors: PathProblem[], warnings: PathProblem[]): void {
  const path = ['tls', 'clientCa'];
  const text = readText(file, path, errors);
  if (text === undefined) return;
  const certs = parseCertificates(text, file, path, errors);
  if (certs.length === 0) return;
  const cas = certs.filter((c) => c.ca);
  if (cas.length === 0) {
    errors.push({ path, message: `${file} holds no CA certificate (${certs.length} certificate${certs.length === 1 ? '' : 's'}, none with CA:TRUE): clientCa lists the CAs that issue agent certificates` });
    return;
  }
  const valid = cas.filter((c) => Date.parse(c.validTo) > now);
  if (valid.length === 0) {
    errors.push({ path, message: `every CA certificate in ${file} has expired: no agent certificate can be verified` });
    return;
  }
  for (const ca of cas) {
    if (Date.parse(ca.validTo) <= now) warnings.push({ path, message: `warning: CA certificate ${subjectOf(ca)} in ${file} expired on ${isoDate(Date.parse(ca.validTo))}` });
    else checkValidity(ca, `CA certificate in ${file}`, path, now, errors, warnings);
  }
}

function subjectOf(cert: X509Certificate): string {
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  return cn === undefined ? cert.subject.replace(/\n/g, ', ') : `CN=${cn}`;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
