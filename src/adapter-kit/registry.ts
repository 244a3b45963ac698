/**
 * The data sources the agent knows, by config `type`: built-ins (src/adapters/builtin.ts) and
 * plugins (src/plugins/load-plugins.ts) are registered the same way, from their
 * `defineDataSource` definitions. The config side (codec, secret keys, paths) goes to the
 * configuration's registry; the factory stays here.
 */
import type { Logger } from 'pino';
import { registerDataSourceType, type DataSourceConfig, type DataSourceConfigBase } from '../config/data-source-registry.js';
import type { DataSourceAdapter } from './adapter.js';
import { definitionProblems, type DataSourceDefinition } from './define.js';

interface Registered {
  readonly definition: DataSourceDefinition;
  /** The module the definition was loaded from (a file: URL), or "built-in". */
  readonly origin: string;
}

const registered = new Map<string, Registered>();

/**
 * Registers a definition. The same type from the same origin again is a no-op; a type already
 * registered from elsewhere throws an `Error` naming both.
 */
export function registerDataSource<C extends DataSourceConfigBase>(definition: DataSourceDefinition<C>, origin = 'an embedding application'): void {
  const problems = definitionProblems(definition);
  if (problems.length > 0) throw new TypeError(`invalid data source definition: ${problems.join('; ')}`);
  const def = definition as unknown as DataSourceDefinition;
  const known = registered.get(def.type);
  if (known !== undefined) {
    if (known.origin === origin) return;
    throw new Error(`data source type '${def.type}' is already defined by ${known.origin}`);
  }
  registerDataSourceType({
    type: def.type,
    codec: def.config as never,
    origin,
    ...(def.secretKeys === undefined ? {} : { secretKeys: def.secretKeys }),
    ...(def.resolvePaths === undefined ? {} : { resolvePaths: def.resolvePaths.bind(def) }),
    ...(def.describeTarget === undefined ? {} : { describeTarget: def.describeTarget.bind(def) }),
  });
  registered.set(def.type, { definition: def, origin });
}

/** The registered types, sorted. */
export function adapterTypes(): string[] {
  return [...registered.keys()].sort();
}

/** Where a type was registered from (a module URL for plugins and built-ins), if it is. */
export function dataSourceOrigin(type: string): string | undefined {
  return registered.get(type)?.origin;
}

/** Creates the adapter of a configured data source; throws if no definition serves its type. */
export function createAdapter(name: string, config: DataSourceConfig, log: Logger): DataSourceAdapter {
  const entry = registered.get(config.type);
  if (!entry) throw new TypeError(`no data source type ${JSON.stringify(config.type)} is registered (data source ${name})`);
  return entry.definition.create(name, config, log.child({ component: 'adapter', dataSource: name, type: config.type }));
}
