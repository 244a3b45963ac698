/**
 * The package's public API, for embedding the agent or the hub and for writing data sources:
 * `import { Agent, Hub, HubClient } from 'datasync-agent'`. Data sources are written with
 * the adapter kit, `datasync-agent/adapter-kit` (docs/adapters.md).
 */
export { Agent, type AgentOptions } from './agent/agent.js';
export { Hub, type HubOptions, type HubRequest } from './hub/hub.js';
export {
  HubApiError,
  HubClient,
  type CallOptions,
  type ExportResultLine,
  type ExportSummary,
  type HubClientOptions,
  type NdjsonStream,
  type SearchSummary,
} from './hub/client.js';
export { loadAgentConfig, loadAgentConfigWithPlugins } from './agent/load-config.js';
export { loadPlugins, type LoadedPlugin } from './plugins/load-plugins.js';
export { loadHubConfig, ConfigError, hashPassword, verifyPassword, type AgentConfig, type HubConfig } from './config/index.js';
export { defineDataSource, type DataSourceDefinition } from './adapter-kit/define.js';
export { registerDataSource, createAdapter, adapterTypes } from './adapter-kit/registry.js';
export type { DataSourceConfig } from './config/data-source-registry.js';

export type {
  DataSourceAdapter,
  ExportResult,
  OperationContext,
  Page,
  PageSource,
} from './adapter-kit/adapter.js';
export { createLogger } from './log/logger.js';
export * as operators from './operators/index.js';
export * as protocol from './protocol/index.js';
export { VERSION } from './version.js';
