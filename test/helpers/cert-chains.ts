/**
 * Certificates for verifying forwarded client certificates: a root CA, an intermediate CA it
 * issued, client certificates issued by either, and the ones that must fail — expired, not yet
 * valid, issued by a certificate that is not a CA, by an impostor CA bearing the root's name
 * (the signature does not verify), through an expired intermediate, or by an unrelated CA.
 * Keys from node:crypto, signatures by forge (as test/helpers/certs.ts); made once per process.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

const DAY = 24 * 3600 * 1000;

interface Key {
  readonly forge: forge.pki.rsa.PrivateKey;
  readonly pub: forge.pki.rsa.PublicKey;
  readonly pem: string;
}

function newKey(): Key {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const k = forge.pki.privateKeyFromPem(pem);
  return { forge: k, pub: forge.pki.setRsaPublicKey(k.n, k.e), pem };
}

interface Issued {
  readonly cert: forge.pki.Certificate;
  readonly key: Key;
  readonly pem: string;
  /** DER, base64 (HAProxy's `%[ssl_c_der,base64]`). */
  readonly derBase64: string;
}

interface Spec {
  readonly cn: string;
  readonly key: Key;
  readonly ca: boolean;
  readonly issuer?: Issued;
  /** Sign with this key instead of the issuer's (an impostor). */
  readonly signer?: Key;
  /** Days from now. */
  readonly from?: number;
  readonly to?: number;
  /** Leave out the authority key id (so only names tie the certificate to its issuer). */
  readonly noAuthorityKeyId?: boolean;
}

function issue(spec: Spec): Issued {
  const now = Date.now();
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.key.pub;
  cert.serialNumber = '1' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(now + (spec.from ?? -1) * DAY);
  cert.validity.notAfter = new Date(now + (spec.to ?? 30) * DAY);
  const subject = [{ name: 'commonName', value: spec.cn }, { name: 'organizationName', value: 'datasync-agent tests' }];
  cert.setSubject(subject);
  cert.setIssuer(spec.issuer ? spec.issuer.cert.subject.attributes : subject);
  const extensions: object[] = spec.ca
    ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
    : [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: spec.cn }] },
      ];
  const aki =
    spec.issuer && !spec.noAuthorityKeyId ? [{ name: 'authorityKeyIdentifier', keyIdentifier: spec.issuer.cert.generateSubjectKeyIdentifier().getBytes() }] : [];
  cert.setExtensions([...extensions, { name: 'subjectKeyIdentifier' }, ...aki]);
  cert.sign((spec.signer ?? spec.issuer?.key ?? spec.key).forge, forge.md.sha256.create());
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
  return { cert, key: spec.key, pem: forge.pki.certificateToPem(cert), derBase64: Buffer.from(der, 'binary').toString('base64') };
}

export interface CertChains {
  readonly root: Issued;
  readonly intermediate: Issued;
  /** Issued by the root directly. */
  readonly direct: Issued;
  /** Issued by the intermediate (send it with the intermediate). */
  readonly viaIntermediate: Issued;
  readonly expired: Issued;
  readonly notYetValid: Issued;
  /** A leaf (not a CA) that issued `byLeaf`. */
  readonly notCa: Issued;
  readonly byLeaf: Issued;
  /** Names the root as issuer, signed by another key with the root's name. */
  readonly forged: Issued;
  readonly expiredIntermediate: Issued;
  readonly viaExpiredIntermediate: Issued;
  readonly otherRoot: Issued;
  readonly byOtherRoot: Issued;
}

let made: CertChains | undefined;

/** The certificates (made once per process); client CNs are `agent-*`. */
export function certChains(): CertChains {
  if (made) return made;
  const rootKey = newKey();
  const caKey = newKey();
  const leafKey = newKey();
  const root = issue({ cn: 'forwarding test root', key: rootKey, ca: true, from: -10, to: 365 });
  const intermediate = issue({ cn: 'forwarding test intermediate', key: caKey, ca: true, issuer: root, from: -5, to: 300 });
  const expiredIntermediate = issue({ cn: 'forwarding expired intermediate', key: caKey, ca: true, issuer: root, from: -5, to: -1 });
  const notCa = issue({ cn: 'agent-not-a-ca', key: caKey, ca: false, issuer: root });
  const otherRoot = issue({ cn: 'unrelated root', key: newKey(), ca: true, from: -10, to: 365 });
  made = {
    root,
    intermediate,
    direct: issue({ cn: 'agent-direct', key: leafKey, ca: false, issuer: root }),
    viaIntermediate: issue({ cn: 'agent-intermediate', key: leafKey, ca: false, issuer: intermediate }),
    expired: issue({ cn: 'agent-expired', key: leafKey, ca: false, issuer: root, from: -3, to: -1 }),
    notYetValid: issue({ cn: 'agent-future', key: leafKey, ca: false, issuer: root, from: 1, to: 30 }),
    notCa,
    byLeaf: issue({ cn: 'agent-by-leaf', key: leafKey, ca: false, issuer: notCa }),
    forged: issue({ cn: 'agent-forged', key: leafKey, ca: false, issuer: root, signer: caKey, noAuthorityKeyId: true }),
    expiredIntermediate,
    viaExpiredIntermediate: issue({ cn: 'agent-expired-intermediate', key: leafKey, ca: false, issuer: expiredIntermediate }),
    otherRoot,
    byOtherRoot: issue({ cn: 'agent-other', key: leafKey, ca: false, issuer: otherRoot }),
  };
  return made;
}

/** nginx's `$ssl_client_escaped_cert`: the PEM, URL-encoded. */
export function nginxEscaped(...pems: string[]): string {
  return encodeURIComponent(pems.join(''));
}
