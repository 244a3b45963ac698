/** The `ldap` data-source codec: `searchWorkers`. */
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { LdapDataSourceConfig } from '../../../src/adapters/ldap/config.js';
import { defaultSearchWorkers } from '../../../src/adapters/ldap/adapter.js';

const base = { type: 'ldap', url: 'ldap://127.0.0.1:389', baseDN: 'dc=example,dc=com' };

describe('LDAP data source: searchWorkers', () => {
  it('is optional (the adapter then searches in the main thread); 0 and positive integers decode', () => {
    const absent = LdapDataSourceConfig.decode(base);
    expect(isRight(absent) && absent.right.searchWorkers).toBeUndefined();
    for (const n of [0, 1, 4]) {
      const r = LdapDataSourceConfig.decode({ ...base, searchWorkers: n });
      expect(isRight(r) && r.right.searchWorkers).toBe(n);
    }
    // In the main thread by default: with the BER → JSON transcoder, worker threads cost more CPU and memory than they save (docs/ldap.md).
    expect(defaultSearchWorkers()).toBe(0);
  });

  it('refuses negative, fractional and non-numbers', () => {
    for (const bad of [-1, 1.5, 'two', true]) expect(isLeft(LdapDataSourceConfig.decode({ ...base, searchWorkers: bad }))).toBe(true);
  });
});
