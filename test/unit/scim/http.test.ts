/** URL building (query encoding) and the credentials encodings of auth.ts. */
import { describe, expect, it } from 'vitest';
import { basicHeader, clientCredentialsHeader, tokenMarginMs } from '../../../src/adapters/scim/auth.js';
import { resourcePath } from '../../../src/adapters/scim/get.js';
import { scimUrl } from '../../../src/adapters/scim/transport.js';

describe('scimUrl', () => {
  it('joins base URL and path, with or without a trailing slash', () => {
    expect(scimUrl('https://hr.example/scim/v2', '/Users').href).toBe('https://hr.example/scim/v2/Users');
    expect(scimUrl('https://hr.example/scim/v2/', '/Users').href).toBe('https://hr.example/scim/v2/Users');
    expect(scimUrl('https://hr.example', '/ServiceProviderConfig').href).toBe('https://hr.example/ServiceProviderConfig');
  });

  it('percent-encodes query values with %20 (not +), keeps order, skips undefined', () => {
    const url = scimUrl('https://hr.example/scim/v2', '/Users', { filter: 'userName eq "a b+c&d"', startIndex: 1, count: 10, sortBy: undefined });
    expect(url.search).toBe('?filter=userName%20eq%20%22a%20b%2Bc%26d%22&startIndex=1&count=10');
    expect(url.searchParams.get('filter')).toBe('userName eq "a b+c&d"');
    expect(scimUrl('https://hr.example/scim/v2', '/Users', {}).search).toBe('');
  });

  it('an id is one path segment, whatever it contains', () => {
    expect(scimUrl('https://hr.example/scim/v2', resourcePath('/Users', '../Groups/x?y#z')).pathname).toBe('/scim/v2/Users/..%2FGroups%2Fx%3Fy%23z');
    expect(scimUrl('https://hr.example/scim/v2', resourcePath('/Users', 'ü 1')).pathname).toBe('/scim/v2/Users/%C3%BC%201');
  });
});

describe('credentials', () => {
  it('Basic is base64 of UTF-8 user:password (RFC 7617)', () => {
    expect(basicHeader('Aladdin', 'open sesame')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(Buffer.from(basicHeader('jürgen', 'pä:ss').slice(6), 'base64').toString('utf8')).toBe('jürgen:pä:ss');
  });

  it('OAuth client authentication form-urlencodes id and secret first (RFC 6749 §2.3.1)', () => {
    const decoded = Buffer.from(clientCredentialsHeader('my client', 'a+b:c%d').slice(6), 'base64').toString('utf8');
    expect(decoded).toBe('my+client:a%2Bb%3Ac%25d');
  });

  it('tokens are renewed 10 % of their lifetime early, at most 60 s', () => {
    expect(tokenMarginMs(3600)).toBe(60_000);
    expect(tokenMarginMs(300)).toBe(30_000);
    expect(tokenMarginMs(10)).toBe(1000);
  });
});
