/**
 * hub.yaml for a hub behind reverse proxies: `trustedProxies` (addresses and CIDRs, checked),
 * `forwardedClientCertificate`, and the `tls` rules — cert and key together or neither,
 * `clientCa` without them only to verify forwarded certificates.
 */
import { describe, expect, it } from 'vitest';
import { decodeHubConfig } from '../../../../src/config/index.js';

const TENANTS = 'tenants: { "1": { agents: [] } }\n';
const CERT_TENANT = 'tenants: { "1": { agents: [ { certificateSubject: agent-1 } ] } }\n';

const decode = (yaml: string): ReturnType<typeof decodeHubConfig> => decodeHubConfig(yaml, '/etc/datasync/hub.yaml', {});

describe('trustedProxies', () => {
  it('is empty by default and takes addresses and CIDRs, IPv4 and IPv6', () => {
    expect(decode(TENANTS).trustedProxies).toEqual([]);
    expect(decode(`trustedProxies: [127.0.0.2, 10.0.0.0/8, "::1/128", "2001:db8::/32", "::1"]\n${TENANTS}`).trustedProxies).toEqual([
      '127.0.0.2',
      '10.0.0.0/8',
      '::1/128',
      '2001:db8::/32',
      '::1',
    ]);
  });

  it('refuses what is not an address or CIDR, naming the entry', () => {
    expect(() => decode(`trustedProxies: [10.0.0.0/33]\n${TENANTS}`)).toThrow(/trustedProxies\.0.*"10\.0\.0\.0\/33".*prefix length "33" is not 0-32/s);
    expect(() => decode(`trustedProxies: [nginx.local]\n${TENANTS}`)).toThrow(/"nginx\.local" is not an IPv4 or IPv6 address/);
    expect(() => decode(`trustedProxies: ["::1/129"]\n${TENANTS}`)).toThrow(/not 0-128/);
    expect(() => decode(`trustedProxies: 10.0.0.1\n${TENANTS}`)).toThrow(/trustedProxies/);
  });
});

describe('tls and forwardedClientCertificate', () => {
  it('takes clientCa without cert and key when a trusted proxy forwards certificates (a plain-HTTP listener)', () => {
    const cfg = decode(`trustedProxies: [127.0.0.2]\nforwardedClientCertificate: { header: X-Client-Cert }\ntls: { clientCa: ca.pem }\n${CERT_TENANT}`);
    expect(cfg.tls).toEqual({ clientCa: '/etc/datasync/ca.pem' });
    expect(cfg.forwardedClientCertificate).toEqual({ header: 'x-client-cert' });
  });

  it('refuses clientCa without cert and key and without forwardedClientCertificate, saying why', () => {
    expect(() => decode(`tls: { clientCa: ca.pem }\n${CERT_TENANT}`)).toThrow(/tls\.clientCa.*only a trusted proxy can forward one/s);
  });

  it('refuses cert without key and key without cert', () => {
    expect(() => decode(`tls: { cert: hub.pem }\n${TENANTS}`)).toThrow(/expected tls\.key with tls\.cert/);
    expect(() => decode(`tls: { key: hub-key.pem, clientCa: ca.pem }\n${TENANTS}`)).toThrow(/expected tls\.cert with tls\.key/);
  });

  it('still takes a TLS listener with or without clientCa, and certificate credentials need clientCa', () => {
    expect(decode(`tls: { cert: hub.pem, key: hub-key.pem }\n${TENANTS}`).tls).toEqual({ cert: '/etc/datasync/hub.pem', key: '/etc/datasync/hub-key.pem' });
    expect(decode(`tls: { cert: hub.pem, key: hub-key.pem, clientCa: ca.pem }\n${CERT_TENANT}`).tls?.clientCa).toBe('/etc/datasync/ca.pem');
    expect(() => decode(`tls: { cert: hub.pem, key: hub-key.pem }\n${CERT_TENANT}`)).toThrow(/expected tls\.clientCa to be set for certificate credentials/);
  });

  it('refuses forwardedClientCertificate without clientCa, without trustedProxies, or with a header name that is not a token', () => {
    expect(() => decode(`trustedProxies: [127.0.0.2]\nforwardedClientCertificate: { header: X-Client-Cert }\n${TENANTS}`)).toThrow(
      /expected tls\.clientCa to verify forwarded client certificates/,
    );
    expect(() => decode(`forwardedClientCertificate: { header: X-Client-Cert }\ntls: { clientCa: ca.pem }\n${TENANTS}`)).toThrow(/expected trustedProxies/);
    expect(() => decode(`trustedProxies: [127.0.0.2]\nforwardedClientCertificate: { header: "X Client" }\ntls: { clientCa: ca.pem }\n${TENANTS}`)).toThrow(
      /HTTP header name/,
    );
  });
});
