/** Configuration: YAML → `${ENV}` → io-ts, with every problem as `FILE:LINE:COL: path: message`. */
export {
  AgentConfigCodec,
  AgentSection,
  decodeAgentConfig,
  loadAgentConfig,
  TenantId,
} from './agent-config.js';
export type { AgentConfig } from './agent-config.js';
export {
  Bool,
  closest,
  decoder,
  DEFAULT_OPERATIONS,
  DurationMs,
  editDistance,
  HttpUrl,
  LdapUrl,
  listOf,
  LoggingConfig,
  LogLevel,
  MAX_DURATION_MS,
  NonEmptyString,
  oneOrMany,
  OperationName,
  OPERATIONS,
  orEmpty,
  Port,
  PositiveInt,
  recordOf,
  strictObject,
  withDefault,
  WsUrl,
} from './codecs.js';
export type { Finding, Operation, StrictOf, StrictOptions } from './codecs.js';
export {
  DataSourceConfigCodec,
  dataSourceTypes,
  describeDataSourceTarget,
  getDataSourceType,
  registerDataSourceType,
  resolveDataSourcePaths,
} from './data-source-registry.js';
export type { DataSourceConfig, DataSourceConfigBase, DataSourceType, Isolation } from './data-source-registry.js';
export {
  AgentCredential,
  decodeHubConfig,
  HubConfigCodec,
  loadHubConfig,
  PasswordHash,
  TenantConfig,
} from './hub-config.js';
export type { HubConfig } from './hub-config.js';
export { interpolateDocument, interpolateString } from './interpolate.js';
export type { Interpolated } from './interpolate.js';
export { decodeYaml, pathResolverFor, readConfigFile } from './load.js';
export type { PathResolver } from './load.js';
export { hashPassword, hashToken, isPasswordHash, parsePasswordHash, verifyPassword, verifyToken } from './password-hash.js';
export type { ParsedHash } from './password-hash.js';
export { ConfigError, formatPath, formatProblem, sortProblems } from './problems.js';
export type { ConfigProblem, PathProblem } from './problems.js';
export { contextPath, reportErrors } from '../support/io-ts-report.js';
export { addSecretKeys, isSecretPath, SECRET_KEYS } from '../support/secret-keys.js';
export { maskUrlPassword, showValue } from '../support/show-value.js';
export { summarizeAgentConfig, summarizeHubConfig } from './summary.js';
export { locate, parseYamlSource, positionOf } from './yaml-source.js';
export type { Position, YamlSource } from './yaml-source.js';
