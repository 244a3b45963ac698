/** The `scim` data source, defined through the adapter kit like any plugin. */
import { defineDataSource } from '../../adapter-kit/define.js';
import { createScimAdapter } from './adapter.js';
import { describeScimTarget, resolveScimPaths, ScimDataSourceConfig } from './config.js';

export const scimDataSource = defineDataSource<ScimDataSourceConfig>({
  type: 'scim',
  config: ScimDataSourceConfig,
  secretKeys: ['bearerToken', 'password', 'clientSecret'],
  describeTarget: describeScimTarget,
  resolvePaths: resolveScimPaths,
  create: (name, config, log) => createScimAdapter(name, config, log),
});
