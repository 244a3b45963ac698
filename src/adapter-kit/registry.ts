/**
 * Adapter registry keyed by config `type`: a new data source registers one factory
 * here, next to its config codec in `src/config/data-source-registry.ts`.
 */
import type { Logger } from 'pino';
import type { DataSourceConfig } from '../config/index.js';
import type { AdapterFactory, DataSourceAdapter } from './adapter.js';

const factories = new Map<string, AdapterFactory<never>>();

export function registerAdapter<C extends DataSourceConfig>(type: C['type'], factory: AdapterFactory<C>): void {
  if (factories.has(type)) throw new TypeError(`an adapter for type ${JSON.stringify(type)} is already registered`);
  factories.set(type, factory);
}

export function adapterTypes(): string[] {
  return [...factories.keys()];
}

/** Creates the adapter of a configured data source; throws if no adapter serves its type. */
export function createAdapter(name: string, config: DataSourceConfig, log: Logger): DataSourceAdapter {
  const factory = factories.get(config.type) as AdapterFactory<DataSourceConfig> | undefined;
  if (!factory) throw new TypeError(`no adapter registered for data-source type ${JSON.stringify(config.type)} (data source ${name})`);
  return factory(name, config, log.child({ component: 'adapter', dataSource: name, type: config.type }));
}
