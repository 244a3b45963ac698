/**
 * Data-source types by their config `type`: each maps to the codec of its settings, so
 * `dataSources` entries are decoded by type and an error names the keys of that type only.
 * A new data source is one folder under `src/adapters/` and one `registerDataSourceType` call
 * (plus its member in `DataSourceConfig`).
 */
import * as t from 'io-ts';
import {
  describeLdapTarget,
  LdapDataSourceConfig,
  resolveLdapPaths,
} from '../adapters/ldap/config.js';
import {
  describeLdifTarget,
  LdifDataSourceConfig,
  resolveLdifPaths,
} from '../adapters/ldif/config.js';
import {
  describeScimTarget,
  resolveScimPaths,
  ScimDataSourceConfig,
} from '../adapters/scim/config.js';
import { closest, decoder, isRecord } from './codecs.js';
import { showValue } from './report.js';

export type { LdapDataSourceConfig } from '../adapters/ldap/config.js';
export type { ScimDataSourceConfig } from '../adapters/scim/config.js';
export type { LdifDataSourceConfig } from '../adapters/ldif/config.js';

export type DataSourceConfig = LdapDataSourceConfig | ScimDataSourceConfig | LdifDataSourceConfig;

export interface DataSourceType<A extends DataSourceConfig = DataSourceConfig> {
  /** The `type:` value in the configuration. */
  type: A['type'];
  codec: t.Decoder<unknown, A>;
  /** Relative file names in the settings, resolved against the config file's directory. */
  resolvePaths(config: A, resolve: (file: string) => string): A;
  /** Where the source connects, one line for the start-up summary; no secrets. */
  describeTarget(config: A): string;
}

const registry = new Map<string, DataSourceType>();

export function registerDataSourceType<A extends DataSourceConfig>(entry: DataSourceType<A>): void {
  if (registry.has(entry.type)) throw new Error(`data source type '${entry.type}' is already registered`);
  registry.set(entry.type, entry);
}

export function dataSourceTypes(): string[] {
  return [...registry.keys()].sort();
}

export function getDataSourceType(type: string): DataSourceType | undefined {
  return registry.get(type);
}

registerDataSourceType({
  type: 'ldap',
  codec: LdapDataSourceConfig,
  resolvePaths: resolveLdapPaths,
  describeTarget: describeLdapTarget,
});
registerDataSourceType({
  type: 'scim',
  codec: ScimDataSourceConfig,
  resolvePaths: resolveScimPaths,
  describeTarget: describeScimTarget,
});
registerDataSourceType({
  type: 'ldif',
  codec: LdifDataSourceConfig,
  resolvePaths: resolveLdifPaths,
  describeTarget: describeLdifTarget,
});

/** One entry of `dataSources`: dispatches on `type` to the registered codec. */
export const DataSourceConfigCodec = decoder<DataSourceConfig>('data source mapping', (u, c) => {
  if (!isRecord(u)) return t.failure(u, c);
  const type = u['type'];
  if (type === undefined) return t.failure(u, c, "missing required key 'type'");
  const entry = typeof type === 'string' ? registry.get(type) : undefined;
  if (entry === undefined) {
    const known = dataSourceTypes();
    const near = typeof type === 'string' ? closest(type, known) : undefined;
    const hint = near === undefined ? '' : ` (did you mean '${near}'?)`;
    const message = `expected data source type ${known.join(' | ')}, got ${showValue(type)}${hint}`;
    return t.failure(type, t.appendContext(c, 'type', t.string, type), message);
  }
  return entry.codec.validate(u, c);
});

/** Applies the type's path resolution to a decoded data source. */
export function resolveDataSourcePaths(config: DataSourceConfig, resolve: (file: string) => string): DataSourceConfig {
  return getDataSourceType(config.type)?.resolvePaths(config, resolve) ?? config;
}

export function describeDataSourceTarget(config: DataSourceConfig): string {
  return getDataSourceType(config.type)?.describeTarget(config) ?? config.type;
}
