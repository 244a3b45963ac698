/** The LDIF data-source adapter: `createLdifAdapter` is registered for config `type: ldif`. */
export { createLdifAdapter, type LdifTestResult } from './adapter.js';
export type { DerivedAttribute, DerivedObjectClass, DerivedSchema } from './schema.js';
export { LdifError } from './parse-ldif.js';
