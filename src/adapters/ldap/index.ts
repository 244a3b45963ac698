/** The LDAP data-source adapter: `createLdapAdapter` is registered for config `type: ldap`. */
export { createLdapAdapter, type LdapAdapter, type LdapAdapterOptions } from './adapter.js';
export type { PoolStats } from './client-pool.js';
export type { LdapEntry } from '../directory/entry.js';
export type { TestResult } from './test.js';
export type { AttributeInfo, LdapSchema } from './schema.js';
export { toProtocolError as ldapErrorToProtocolError, RESULT_CODES as LDAP_RESULT_CODES } from '../directory/errors.js';
