/**
 * Client certificates that a TLS-terminating trusted proxy forwards in a header
 * (`forwardedClientCertificate.header`): the proxy checked that the agent holds the key, the
 * hub checks the certificate itself against `tls.clientCa` before mapping it to tenants like a
 * certificate from its own TLS handshake.
 *
 * Accepted forms: URL-encoded PEM (nginx `$ssl_client_escaped_cert`), PEM, or base64 DER
 * (HAProxy `%[ssl_c_der,base64]`; several separated by commas). With more than one certificate
 * the leaf comes first and each next one issued the one before it, up to a CA in the bundle.
 * Verified: each issuer's signature (`X509Certificate.verify` with the issuer's public key),
 * names (`checkIssued`), that every issuer is a CA, and the validity dates of every certificate
 * on the path, anchor included.
 */
import { X509Certificate } from 'node:crypto';

/** Most certificates read from one header (a leaf and its intermediates). */
const MAX_CERTIFICATES = 8;
const PEM_BLOCK = /-----BEGIN[ +]CERTIFICATE-----([\s\S]*?)-----END[ +]CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export type Verdict = { readonly ok: true; readonly leaf: X509Certificate } | { readonly ok: false; readonly reason: string };

/** The certificates in a header value, leaf first; throws an Error saying what is wrong. */
export function parseCertificateHeader(value: string): X509Certificate[] {
  let text = value.trim();
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      throw new Error('it is not valid URL encoding');
    }
  }
  const blocks = text.includes('-----BEGIN') ? [...text.matchAll(PEM_BLOCK)].map((m) => m[1] ?? '') : text.split(',');
  if (blocks.length === 0) throw new Error('it holds no PEM CERTIFICATE block');
  if (blocks.length > MAX_CERTIFICATES) throw new Error(`it holds ${blocks.length} certificates, more than ${MAX_CERTIFICATES}`);
  return blocks.map((block, i) => {
    const base64 = block.replace(/\s+/g, '');
    if (!BASE64.test(base64)) throw new Error(`certificate ${i + 1} is neither PEM nor base64 DER`);
    try {
      return new X509Certificate(Buffer.from(base64, 'base64'));
    } catch (err) {
      throw new Error(`certificate ${i + 1} cannot be read: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

/** The CA certificates of a PEM bundle (`tls.clientCa`). */
export function readCaBundle(pem: string): X509Certificate[] {
  const cas = [...pem.matchAll(PEM_BLOCK)].map((m) => new X509Certificate(`-----BEGIN CERTIFICATE-----${m[1] ?? ''}-----END CERTIFICATE-----\n`));
  if (cas.length === 0) throw new Error('tls.clientCa holds no PEM certificate');
  return cas;
}

/** A certificate's subject for messages: its CN, else the whole subject. */
function nameOf(cert: X509Certificate): string {
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  return JSON.stringify(cn ?? cert.subject.replace(/\n/g, ', '));
}

export class ForwardedCertificateVerifier {
  constructor(
    private readonly cas: readonly X509Certificate[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads and verifies a header value. */
  verify(value: string): Verdict {
    let chain: X509Certificate[];
    try {
      chain = parseCertificateHeader(value);
    } catch (err) {
      return { ok: false, reason: `the header cannot be read: ${err instanceof Error ? err.message : String(err)}` };
    }
    return this.verifyChain(chain);
  }

  /** Verifies a chain, leaf first, up to a CA of the bundle. */
  verifyChain(chain: readonly X509Certificate[]): Verdict {
    const leaf = chain[0];
    if (leaf === undefined) return { ok: false, reason: 'no certificate' };
    if (leaf.ca) return { ok: false, reason: `certificate ${nameOf(leaf)} is a CA certificate, not a client certificate` };
    const problem = this.datesProblem(leaf);
    if (problem !== undefined) return { ok: false, reason: problem };
    let current = leaf;
    for (let i = 1; ; i++) {
      const anchored = this.anchor(current);
      if (anchored === true) return { ok: true, leaf };
      const next = chain[i];
      if (next === undefined) return { ok: false, reason: anchored ?? `certificate ${nameOf(current)} is not issued by a CA in tls.clientCa` };
      const link = this.issuerProblem(current, next);
      if (link !== undefined) return { ok: false, reason: link };
      current = next;
    }
  }

  /**
   * True when a CA of the bundle issued `cert` (or is `cert`, an intermediate the bundle holds)
   * and is valid now; else why the closest candidate does not do, or undefined when there is none.
   */
  private anchor(cert: X509Certificate): true | string | undefined {
    let why: string | undefined;
    for (const ca of this.cas) {
      if (ca.fingerprint256 === cert.fingerprint256 && cert.ca) return true;
      if (!cert.checkIssued(ca)) continue;
      why = this.issuerProblem(cert, ca);
      if (why === undefined) return true;
    }
    return why;
  }

  /** Why `issuer` is not a valid issuer of `cert` now, or undefined. */
  private issuerProblem(cert: X509Certificate, issuer: X509Certificate): string | undefined {
    if (!issuer.ca) return `the issuer ${nameOf(issuer)} of ${nameOf(cert)} is not a CA certificate`;
    if (!cert.checkIssued(issuer)) return `certificate ${nameOf(cert)} is not issued by ${nameOf(issuer)}, the next one in the header`;
    if (!cert.verify(issuer.publicKey)) return `the signature of ${nameOf(cert)} does not verify with the key of ${nameOf(issuer)}`;
    return this.datesProblem(issuer);
  }

  private datesProblem(cert: X509Certificate): string | undefined {
    const now = this.now();
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (!(from <= now)) return `certificate ${nameOf(cert)} is not valid yet (valid from ${cert.validFrom})`;
    if (!(now <= to)) return `certificate ${nameOf(cert)} has expired (valid to ${cert.validTo})`;
    return undefined;
  }
}
