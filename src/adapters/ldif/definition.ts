/** The `ldif` data source, defined through the adapter kit like any plugin. */
import { defineDataSource } from '../../adapter-kit/define.js';
import { createLdifAdapter } from './adapter.js';
import { describeLdifTarget, LdifDataSourceConfig, resolveLdifPaths } from './config.js';

export const ldifDataSource = defineDataSource<LdifDataSourceConfig>({
  type: 'ldif',
  config: LdifDataSourceConfig,
  describeTarget: describeLdifTarget,
  resolvePaths: resolveLdifPaths,
  create: (name, config, log) => createLdifAdapter(name, config, log),
});
