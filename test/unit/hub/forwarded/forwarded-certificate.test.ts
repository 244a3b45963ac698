/**
 * Forwarded client certificates: every form a proxy sends (nginx's URL-encoded PEM, PEM,
 * HAProxy's base64 DER, a chain with its intermediate) is read, verified against the CA bundle
 * and yields the leaf; every way one can be wrong (another CA, expired, not yet valid, an
 * issuer that is not a CA, a signature that does not verify, an expired intermediate, a CA
 * certificate as leaf, garbage) is refused with a reason that says so.
 */
import { describe, expect, it } from 'vitest';
import { ForwardedCertificateVerifier, parseCertificateHeader, readCaBundle } from '../../../../src/hub/forwarded/forwarded-certificate.js';
import { certChains, nginxEscaped } from '../../../helpers/cert-chains.js';

const c = certChains();
const verifier = new ForwardedCertificateVerifier(readCaBundle(c.otherRoot.pem + c.root.pem));

function cnOf(value: string): string {
  const verdict = verifier.verify(value);
  if (!verdict.ok) throw new Error(verdict.reason);
  return /^CN=(.*)$/m.exec(verdict.leaf.subject)?.[1] ?? '?';
}

function refusal(value: string): string {
  const verdict = verifier.verify(value);
  if (verdict.ok) throw new Error(`accepted ${verdict.leaf.subject}`);
  return verdict.reason;
}

describe('forwarded certificate forms', () => {
  it("reads nginx's $ssl_client_escaped_cert (URL-encoded PEM), also when only some characters are escaped", () => {
    expect(cnOf(nginxEscaped(c.direct.pem))).toBe('agent-direct');
    expect(cnOf(c.direct.pem.replace(/\n/g, '%0A').replace(/ /g, '%20'))).toBe('agent-direct');
  });

  it('reads a PEM whose line breaks became spaces, and a bare PEM', () => {
    expect(cnOf(c.direct.pem.replace(/\n/g, ' '))).toBe('agent-direct');
    expect(cnOf(c.direct.pem)).toBe('agent-direct');
  });

  it("reads HAProxy's base64 DER (%[ssl_c_der,base64])", () => {
    expect(cnOf(c.direct.derBase64)).toBe('agent-direct');
  });

  it('reads a chain, leaf first, and verifies through the intermediate (PEM, URL-encoded, base64 DER list)', () => {
    expect(cnOf(nginxEscaped(c.viaIntermediate.pem, c.intermediate.pem))).toBe('agent-intermediate');
    expect(cnOf(c.viaIntermediate.pem + c.intermediate.pem + c.root.pem)).toBe('agent-intermediate');
    expect(cnOf(`${c.viaIntermediate.derBase64},${c.intermediate.derBase64}`)).toBe('agent-intermediate');
  });

  it('parses every certificate of a chain, leaf first', () => {
    const chain = parseCertificateHeader(nginxEscaped(c.viaIntermediate.pem, c.intermediate.pem));
    expect(chain.map((x) => /CN=(.*)/.exec(x.subject)?.[1])).toEqual(['agent-intermediate', 'forwarding test intermediate']);
  });
});

describe('forwarded certificates refused', () => {
  it('without its intermediate, a leaf of the intermediate is not issued by a CA of the bundle', () => {
    expect(refusal(c.viaIntermediate.pem)).toMatch(/"agent-intermediate" is not issued by a CA in tls.clientCa/);
  });

  it('issued by a CA that is not in the bundle', () => {
    const onlyRoot = new ForwardedCertificateVerifier(readCaBundle(c.root.pem));
    const verdict = onlyRoot.verify(c.byOtherRoot.pem);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).toMatch(/"agent-other" is not issued by a CA in tls.clientCa/);
    expect(cnOf(c.byOtherRoot.pem)).toBe('agent-other');
  });

  it('expired, or not valid yet', () => {
    expect(refusal(c.expired.pem)).toMatch(/"agent-expired" has expired/);
    expect(refusal(nginxEscaped(c.notYetValid.pem))).toMatch(/"agent-future" is not valid yet/);
  });

  it('through an expired intermediate', () => {
    expect(refusal(c.viaExpiredIntermediate.pem + c.expiredIntermediate.pem)).toMatch(/"forwarding expired intermediate" has expired/);
  });

  it('issued by a certificate that is not a CA', () => {
    expect(refusal(c.byLeaf.pem + c.notCa.pem)).toMatch(/issuer "agent-not-a-ca" of "agent-by-leaf" is not a CA certificate/);
  });

  it("whose signature does not verify with the named issuer's key (an impostor with the root's name)", () => {
    expect(refusal(c.forged.derBase64)).toMatch(/signature of "agent-forged" does not verify/);
  });

  it('a CA certificate sent as the client certificate', () => {
    expect(refusal(c.root.pem)).toMatch(/is a CA certificate, not a client certificate/);
  });

  it('a chain out of order (the intermediate first)', () => {
    expect(refusal(c.intermediate.pem + c.viaIntermediate.pem)).toMatch(/CA certificate, not a client certificate/);
    expect(refusal(c.viaIntermediate.pem + c.root.pem)).toMatch(/"agent-intermediate" is not issued by "forwarding test root"/);
  });

  it('garbage: not base64, not a certificate, bad URL encoding, an empty PEM, too many certificates', () => {
    expect(refusal('hello world!')).toMatch(/neither PEM nor base64 DER/);
    expect(refusal(Buffer.from('not a certificate').toString('base64'))).toMatch(/cannot be read/);
    expect(refusal('%E0%A4%A')).toMatch(/not valid URL encoding/);
    expect(refusal('-----BEGIN CERTIFICATE----- -----END CERTIFICATE-----')).toMatch(/neither PEM nor base64 DER/);
    expect(refusal('-----BEGIN PRIVATE KEY-----abc-----END PRIVATE KEY-----')).toMatch(/no PEM CERTIFICATE block/);
    expect(refusal(Array(9).fill(c.direct.derBase64).join(','))).toMatch(/more than 8/);
  });
});

describe('the CA bundle', () => {
  it('reads every certificate of a PEM bundle and refuses a file without one', () => {
    expect(readCaBundle(c.root.pem + c.otherRoot.pem)).toHaveLength(2);
    expect(() => readCaBundle('nothing here')).toThrow(/no PEM certificate/);
  });
});
