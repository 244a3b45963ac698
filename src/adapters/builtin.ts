/**
 * The data sources shipped with the agent, registered from their definitions exactly as a
 * plugin's are (the origin is the definition's module, which a worker-isolated source imports).
 */
import { registerDataSource } from '../adapter-kit/registry.js';
import { ldapDataSource } from './ldap/definition.js';
import { ldifDataSource } from './ldif/definition.js';
import { scimDataSource } from './scim/definition.js';
import { sqlDataSource } from './sql/definition.js';

registerDataSource(ldapDataSource, new URL('./ldap/definition.js', import.meta.url).href);
registerDataSource(scimDataSource, new URL('./scim/definition.js', import.meta.url).href);
registerDataSource(ldifDataSource, new URL('./ldif/definition.js', import.meta.url).href);
registerDataSource(sqlDataSource, new URL('./sql/definition.js', import.meta.url).href);
