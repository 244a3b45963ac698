/** What every SCIM operation module gets from the adapter. */
import type { ScimClient } from './client.js';
import type { ScimDataSourceConfig } from './config.js';
import type { ResourceTypeDirectory } from './resource-types.js';
import type { ServiceProviderInfo } from './service-provider.js';

export interface ScimDeps {
  readonly client: ScimClient;
  readonly directory: ResourceTypeDirectory;
  /** Cached `/ServiceProviderConfig` answers (the paging method of `search`). */
  readonly serviceProvider: ServiceProviderInfo;
  readonly config: ScimDataSourceConfig;
}
