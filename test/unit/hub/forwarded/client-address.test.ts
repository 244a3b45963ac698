/**
 * The client address behind trusted proxies: CIDR matching (IPv4, IPv6, mapped addresses),
 * `Forwarded` (RFC 7239 quoting, IPv6 with a port, obfuscated and unknown hops) and
 * `X-Forwarded-For`, walked from the right so that entries a client forged on the left are
 * never used; chains of trusted proxies; headers from untrusted peers ignored; malformed
 * headers falling back to the socket's peer.
 */
import { describe, expect, it } from 'vitest';
import { resolveClientAddress, describeClient } from '../../../../src/hub/forwarded/client-address.js';
import { forwardedHops, parseNode, xForwardedForHops } from '../../../../src/hub/forwarded/forwarding-headers.js';
import { TrustedProxies } from '../../../../src/hub/forwarded/trusted-proxies.js';

const trusted = new TrustedProxies(['127.0.0.2', '10.0.0.0/8', '::1/128', '2001:db8:aaaa::/48']);

function client(headers: Record<string, string | string[]>, peer = '127.0.0.2', port = 40000): { address: string; port: number | undefined; forwarded: boolean; note?: string } {
  const r = resolveClientAddress(headers, peer, port, trusted);
  return { address: r.client.address, port: r.client.port, forwarded: r.client.forwarded, ...(r.note ? { note: r.note.reason } : {}) };
}

describe('trusted proxies (CIDR matching)', () => {
  it('matches single addresses and ranges, IPv4 and IPv6, and IPv4-mapped IPv6 peers', () => {
    expect(trusted.has('127.0.0.2')).toBe(true);
    expect(trusted.has('127.0.0.3')).toBe(false);
    expect(trusted.has('10.255.1.2')).toBe(true);
    expect(trusted.has('11.0.0.1')).toBe(false);
    expect(trusted.has('::ffff:10.1.2.3')).toBe(true);
    expect(trusted.has('::1')).toBe(true);
    expect(trusted.has('::2')).toBe(false);
    expect(trusted.has('2001:db8:aaaa:1::5')).toBe(true);
    expect(trusted.has('2001:db8:aaab::5')).toBe(false);
  });

  it('trusts nothing when empty, and never a non-address', () => {
    const none = new TrustedProxies([]);
    expect(none.has('127.0.0.1')).toBe(false);
    expect(trusted.has('garbage')).toBe(false);
    expect(trusted.has(undefined)).toBe(false);
    expect(trusted.has('fe80::1%eth0')).toBe(false);
  });

  it('refuses an entry that is not an address or CIDR', () => {
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(/prefix length "33" is not 0-32/);
    expect(() => new TrustedProxies(['proxy.example'])).toThrow(/not an IPv4 or IPv6 address/);
  });
});

describe('X-Forwarded-For from a trusted proxy', () => {
  it('takes the rightmost untrusted address; spoofed entries on its left are ignored', () => {
    expect(client({ 'x-forwarded-for': '203.0.113.9' })).toEqual({ address: '203.0.113.9', port: undefined, forwarded: true });
    expect(client({ 'x-forwarded-for': '1.1.1.1, 6.6.6.6, 203.0.113.9' }).address).toBe('203.0.113.9');
    expect(client({ 'x-forwarded-for': 'garbage"; 1.1.1.1,, 203.0.113.9' }).address).toBe('203.0.113.9');
  });

  it('skips proxies that are themselves trusted (a chain of proxies)', () => {
    expect(client({ 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.1.1, 127.0.0.2' }).address).toBe('203.0.113.9');
    expect(client({ 'x-forwarded-for': '203.0.113.9, 10.0.0.7' }, '10.0.0.8').address).toBe('203.0.113.9');
  });

  it('when every hop is trusted, the leftmost one is the client', () => {
    expect(client({ 'x-forwarded-for': '10.0.0.5, 10.0.0.6' }).address).toBe('10.0.0.5');
  });

  it('reads IPv6, bracketed IPv6 with a port, IPv4 with a port, mapped IPv4', () => {
    expect(client({ 'x-forwarded-for': '2001:db8::7' }).address).toBe('2001:db8::7');
    expect(client({ 'x-forwarded-for': '[2001:db8::7]:5555' })).toMatchObject({ address: '2001:db8::7', port: 5555 });
    expect(client({ 'x-forwarded-for': '198.51.100.1:8080' })).toMatchObject({ address: '198.51.100.1', port: 8080 });
    expect(client({ 'x-forwarded-for': '::ffff:198.51.100.1' }).address).toBe('198.51.100.1');
  });

  it('joins repeated header fields into one list', () => {
    expect(client({ 'x-forwarded-for': ['6.6.6.6', '203.0.113.9'] }).address).toBe('203.0.113.9');
  });
});

describe('Forwarded (RFC 7239) from a trusted proxy', () => {
  it('reads for= of the rightmost untrusted element, with other parameters around it', () => {
    expect(client({ forwarded: 'for=192.0.2.60;proto=https;by=203.0.113.43' }).address).toBe('192.0.2.60');
    expect(client({ forwarded: 'for=6.6.6.6, for=192.0.2.60, for=10.0.0.1' }).address).toBe('192.0.2.60');
    expect(client({ forwarded: 'For="192.0.2.60:4711"' })).toMatchObject({ address: '192.0.2.60', port: 4711 });
  });

  it('reads quoted IPv6 with and without a port, and an obfuscated port', () => {
    expect(client({ forwarded: 'for="[2001:db8:cafe::17]:4711"' })).toMatchObject({ address: '2001:db8:cafe::17', port: 4711 });
    expect(client({ forwarded: 'for="[2001:db8:cafe::17]"' })).toMatchObject({ address: '2001:db8:cafe::17', port: undefined });
    expect(client({ forwarded: 'for="192.0.2.60:_hidden"' })).toMatchObject({ address: '192.0.2.60', port: undefined });
  });

  it('wins over X-Forwarded-For', () => {
    expect(client({ forwarded: 'for=192.0.2.60', 'x-forwarded-for': '198.51.100.1' }).address).toBe('192.0.2.60');
  });

  it('a forged element with an unbalanced quote on the left does not spoil the proxy-appended ones', () => {
    expect(client({ forwarded: 'for="6.6.6.6, for=192.0.2.60' }).address).toBe('192.0.2.60');
    expect(client({ forwarded: 'for="a\\"b", for=192.0.2.60' }).address).toBe('192.0.2.60');
  });

  it('an obfuscated or unknown hop where the client should be: the socket peer stands in', () => {
    expect(client({ forwarded: 'for=192.0.2.60, for=_gazonk' })).toMatchObject({ address: '127.0.0.2', forwarded: false, note: expect.stringMatching(/does not disclose/) as string });
    expect(client({ forwarded: 'for=unknown' })).toMatchObject({ address: '127.0.0.2', forwarded: false });
    expect(client({ forwarded: 'proto=https' })).toMatchObject({ address: '127.0.0.2', forwarded: false });
  });
});

describe('falling back to the socket peer', () => {
  it('ignores forwarding headers from a peer that is not trusted', () => {
    expect(client({ 'x-forwarded-for': '203.0.113.9' }, '127.0.0.3', 5000)).toEqual({
      address: '127.0.0.3',
      port: 5000,
      forwarded: false,
      note: 'the peer 127.0.0.3 is not in trustedProxies',
    });
    expect(client({ forwarded: 'for=203.0.113.9' }, '::ffff:127.0.0.3').address).toBe('127.0.0.3');
  });

  it('without headers, or blank ones, the peer is the client, without a note', () => {
    expect(client({})).toEqual({ address: '127.0.0.2', port: 40000, forwarded: false });
    expect(client({ 'x-forwarded-for': '  ' })).toEqual({ address: '127.0.0.2', port: 40000, forwarded: false });
  });

  it('malformed entries where the walk needs them: the peer, never a throw', () => {
    for (const header of ['not-an-ip', '203.0.113.9, ', '1.2.3.4:99999', '[::1', '[1.2.3.4]:80', 'fe80::1%eth0', '\u0000']) {
      expect(client({ 'x-forwarded-for': header }), header).toMatchObject({ address: '127.0.0.2', forwarded: false, note: expect.any(String) as string });
    }
    for (const header of ['for', 'for=', 'for="unterminated', 'for=1.2.3.4;for=5.6.7.8', 'for=a b', ',', 'for=[::1]:x']) {
      expect(client({ forwarded: header }), header).toMatchObject({ address: '127.0.0.2', forwarded: false, note: expect.any(String) as string });
    }
  });
});

describe('parsing pieces', () => {
  it('parses nodes and reads hops nearest first', () => {
    expect(parseNode('[::1]:80')).toEqual({ kind: 'address', address: '::1', port: 80 });
    expect(parseNode('_x')).toEqual({ kind: 'hidden', text: '_x' });
    expect([...xForwardedForHops('1.1.1.1, 2.2.2.2')].map((h) => (h.kind === 'address' ? h.address : h.kind))).toEqual(['2.2.2.2', '1.1.1.1']);
    expect([...forwardedHops('for=1.1.1.1;proto=http, for="[::2]"')].map((h) => (h.kind === 'address' ? h.address : h.kind))).toEqual(['::2', '1.1.1.1']);
  });

  it('describes a client as address:port, or the address alone', () => {
    const r = resolveClientAddress({ 'x-forwarded-for': '203.0.113.9' }, '127.0.0.2', 1, trusted);
    expect(describeClient(r.client)).toBe('203.0.113.9');
    expect(r.client.peer).toBe('127.0.0.2:1');
    expect(describeClient(resolveClientAddress({}, '127.0.0.3', 7, trusted).client)).toBe('127.0.0.3:7');
  });
});
