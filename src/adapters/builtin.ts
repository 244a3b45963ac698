/** The adapters shipped with the agent, registered by config `type` (one line each). */
import { createLdapAdapter } from './ldap/index.js';
import { createLdifAdapter } from './ldif/index.js';
import { registerAdapter } from '../adapter-kit/registry.js';
import { createScimAdapter } from './scim/index.js';

registerAdapter('ldap', createLdapAdapter);
registerAdapter('scim', createScimAdapter);
registerAdapter('ldif', createLdifAdapter);
