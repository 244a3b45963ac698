/**
 * The package's public API, for embedding the agent or the hub and for writing data sources:
 * `import { Agent, Hub, HubClient, registerAdapter } from 'datasync-agent'`.
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
export { loadAgentConfig, loadHubConfig, ConfigError, hashPassword, verifyPassword, type AgentConfig, type HubConfig } from './config/index.js';
export { registerDataSourceType, type DataSourceType } from './config/data-source-registry.js';
export { registerAdapter, createAdapter, adapterTypes } from './adapter-kit/registry.js';
export type {
  AdapterFactory,
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
