/** What every SCIM operation module gets from the adapter. */
import type { ScimClient } from './client.js';
import type { ScimDataSourceConfig } from './config.js';
import type { ResourceTypeDirectory } from './resource-types.js';

export interface ScimDeps {
  readonly client: ScimClient;
  readonly directory: ResourceTypeDirectory;
  readonly config: ScimDataSourceConfig;
}
