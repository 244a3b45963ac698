/**
 * Data-source types by their config `type`: each maps to the codec of its settings, so
 * `dataSources` entries are decoded by type and an error names the keys of that type only.
 *
 * The configuration knows no data source: the built-in ones and plugins register their type
 * here through the adapter kit (`defineDataSource`, src/adapter-kit/define.ts) before a
 * configuration is decoded. What every data source has — `type`, `operations` (the allow-list)
 * and `isolation` — is decoded here, so a type's codec only describes its own settings.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { closest, decoder, DEFAULT_OPERATIONS, isRecord, listOf, OperationName, type Operation } from './codecs.js';
import { addSecretKeys } from '../support/secret-keys.js';
import { showValue } from '../support/show-value.js';

/** How a data source's adapter runs: in the agent's thread, or in a worker of its own. */
export type Isolation = 'none' | 'worker';

/**
 * A decoded `dataSources` entry: the keys every data source has, and its type's own settings.
 * Open: a plugin's config type (`{ type: 'csv'; file: string; … }`) is one without a cast.
 */
export interface DataSourceConfigBase {
  /** The `type:` value in the configuration. */
  readonly type: string;
  /** The operations the hub may ask of this source (default: the read operations). */
  readonly operations: readonly Operation[];
  /** `worker`: the adapter runs in a worker thread of its own, restarted when it crashes. */
  readonly isolation?: Isolation;
}
export type DataSourceConfig = DataSourceConfigBase & { readonly [key: string]: unknown };

export interface DataSourceType<C extends DataSourceConfigBase = DataSourceConfig> {
  /** The `type:` value in the configuration. */
  readonly type: string;
  /** Decodes the type's own settings (the common keys `operations` and `isolation` are taken out first). */
  readonly codec: t.Decoder<unknown, C>;
  /** Setting names whose values are secrets: never logged, never shown by `check` (any depth). */
  readonly secretKeys?: readonly string[];
  /** Relative file names in the settings, resolved against the config file's directory. */
  resolvePaths?(config: C, resolve: (file: string) => string): C;
  /** Where the source connects, one line for the start-up summary; no secrets. */
  describeTarget?(config: C): string;
  /** Who registered the type (a plugin's module, or "built-in"), for error messages. */
  readonly origin?: string;
}

const registry = new Map<string, DataSourceType>();

/**
 * Registers a data-source type. Registering a type again from the same origin is a no-op (a
 * configuration loaded twice in one process); from another origin it is an error.
 */
export function registerDataSourceType<C extends DataSourceConfigBase>(entry: DataSourceType<C>): void {
  const known = registry.get(entry.type);
  if (known !== undefined) {
    if (known.origin !== undefined && known.origin === entry.origin) return;
    throw new Error(`data source type '${entry.type}' is already defined${known.origin === undefined ? '' : ` by ${known.origin}`}`);
  }
  if (entry.secretKeys !== undefined) addSecretKeys(entry.secretKeys);
  registry.set(entry.type, entry as unknown as DataSourceType);
}

export function dataSourceTypes(): string[] {
  return [...registry.keys()].sort();
}

export function getDataSourceType(type: string): DataSourceType | undefined {
  return registry.get(type);
}

const IsolationCodec = t.keyof({ none: null, worker: null }, "'none' | 'worker'");
const OperationsCodec = listOf(OperationName, 'list of operations');
const COMMON_KEYS = ['operations', 'isolation'] as const;

/** One entry of `dataSources`: the common keys, then the type's own codec. */
export const DataSourceConfigCodec = decoder<DataSourceConfig>('data source mapping', (u, c) => {
  if (!isRecord(u)) return t.failure(u, c);
  const type = u['type'];
  if (type === undefined) return t.failure(u, c, "missing required key 'type'");
  const entry = typeof type === 'string' ? registry.get(type) : undefined;
  if (entry === undefined) {
    const known = dataSourceTypes();
    const near = typeof type === 'string' ? closest(type, known) : undefined;
    const hint = near !== undefined ? ` (did you mean '${near}'?)` : typeof type === 'string' ? " (a plugin's type needs its module listed under 'plugins')" : '';
    const message = `expected data source type ${known.join(' | ')}, got ${showValue(type)}${hint}`;
    return t.failure(type, t.appendContext(c, 'type', t.string, type), message);
  }
  const own: Record<string, unknown> = { ...u };
  for (const key of COMMON_KEYS) delete own[key];
  const errors: t.Errors = [];
  const operations = u['operations'] === undefined ? t.success([...DEFAULT_OPERATIONS]) : OperationsCodec.validate(u['operations'], t.appendContext(c, 'operations', OperationsCodec, u['operations']));
  if (isLeft(operations)) errors.push(...operations.left);
  const isolation = u['isolation'] === undefined ? t.success(undefined) : IsolationCodec.validate(u['isolation'], t.appendContext(c, 'isolation', IsolationCodec, u['isolation']));
  if (isLeft(isolation)) errors.push(...isolation.left);
  const settings = entry.codec.validate(own, c);
  if (isLeft(settings)) errors.push(...settings.left);
  if (errors.length > 0 || isLeft(settings) || isLeft(operations) || isLeft(isolation)) return t.failures(errors);
  const value: DataSourceConfig = {
    ...settings.right,
    type: entry.type,
    operations: operations.right,
    ...(isolation.right === undefined ? {} : { isolation: isolation.right }),
  };
  return t.success(value);
});

/** Applies the type's path resolution to a decoded data source. */
export function resolveDataSourcePaths(config: DataSourceConfig, resolve: (file: string) => string): DataSourceConfig {
  return getDataSourceType(config.type)?.resolvePaths?.(config, resolve) ?? config;
}

export function describeDataSourceTarget(config: DataSourceConfig): string {
  return getDataSourceType(config.type)?.describeTarget?.(config) ?? config.type;
}
