/** The `ldap` data source, defined through the adapter kit like any plugin. */
import { defineDataSource } from '../../adapter-kit/define.js';
import { createLdapAdapter } from './adapter.js';
import { describeLdapTarget, LdapDataSourceConfig, resolveLdapPaths } from './config.js';

export const ldapDataSource = defineDataSource<LdapDataSourceConfig>({
  type: 'ldap',
  config: LdapDataSourceConfig,
  secretKeys: ['bindPassword'],
  describeTarget: describeLdapTarget,
  resolvePaths: resolveLdapPaths,
  create: (name, config, log) => createLdapAdapter(name, config, log),
});
