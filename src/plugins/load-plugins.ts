/**
 * `plugins:` in the agent's configuration — data-source modules loaded before the data sources
 * are decoded, so their types are known to the decoder, `check` and the agent alike.
 *
 * ```yaml
 * plugins:
 *   - "@acme/datasync-source-x"    # a package, resolved from the agent's own installation
 *   - ./local/my-source.js         # a file or a package directory, relative to this config file
 * ```
 *
 * A plugin module exports `defineDataSource(...)` definitions — as its default export, as named
 * exports, or as a list of them. The agent registers each by its brand, so a plugin that
 * brings its own copy of this package works (its registry is never consulted). A plugin that
 * cannot be found, fails to load, exports no definition or defines a type already defined is a
 * configuration problem at its line: `FILE:LINE:COL: plugins.N: …`, exit 2.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isSeq, isScalar } from 'yaml';
import { ConfigError, type PathProblem } from '../config/problems.js';
import { locate, parseYamlSource } from '../config/yaml-source.js';
import { interpolateString } from '../config/interpolate.js';
import { isDataSourceDefinition, type DataSourceDefinition } from '../adapter-kit/define.js';
import { registerDataSource } from '../adapter-kit/registry.js';
import '../adapters/builtin.js';

export interface LoadedPlugin {
  /** As written in the configuration. */
  readonly spec: string;
  /** The module loaded (a file: URL). */
  readonly url: string;
  /** The data-source types it defines. */
  readonly types: readonly string[];
}

/** A `plugins` entry that names a file or a directory rather than a package. */
const isPathSpec = (spec: string): boolean => spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec) || spec.startsWith('file:');

/** The entry module of a package directory: its `exports["."]` (import/default), `main`, or index.js. */
function packageEntry(dir: string): string {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) return join(dir, 'index.js');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown; main?: unknown };
  const pick = (e: unknown): string | undefined => {
    if (typeof e === 'string') return e;
    if (typeof e !== 'object' || e === null) return undefined;
    const o = e as Record<string, unknown>;
    return pick(o['.']) ?? pick(o['import']) ?? pick(o['default']) ?? pick(o['node']);
  };
  const entry = pick(pkg.exports) ?? (typeof pkg.main === 'string' ? pkg.main : 'index.js');
  return resolve(dir, entry);
}

/** The module URL a `plugins` entry names; throws an Error saying what was looked for. */
export function resolvePlugin(spec: string, configDir: string): string {
  if (isPathSpec(spec)) {
    // A file: URL is percent-encoded (a space is %20): decoded, not taken as a path as it is.
    const path = spec.startsWith('file:') ? fileURLToPath(spec) : resolve(configDir, spec);
    if (!existsSync(path)) throw new Error(`cannot find plugin '${spec}' (no such file: ${path})`);
    return pathToFileURL(statSync(path).isDirectory() ? packageEntry(path) : path).href;
  }
  try {
    // A package name: resolved from the agent's own installation (its node_modules).
    return import.meta.resolve(spec);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`cannot find plugin package '${spec}' from the agent's installation (install it next to datasync-agent): ${why}`);
  }
}

/** The definitions a plugin module exports (default, named, or lists of them). */
function definitionsOf(module: Record<string, unknown>): DataSourceDefinition[] {
  const found = new Set<DataSourceDefinition>();
  for (const value of Object.values(module)) {
    for (const candidate of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (isDataSourceDefinition(candidate)) found.add(candidate);
    }
  }
  return [...found];
}

/** The `plugins` entries of a configuration text, with their paths (nothing when there are none). */
function pluginEntries(text: string, file: string, env: NodeJS.ProcessEnv): { src: ReturnType<typeof parseYamlSource>; entries: Array<{ index: number; spec: string }>; problems: PathProblem[] } {
  const src = parseYamlSource(text, file);
  const problems: PathProblem[] = [];
  const entries: Array<{ index: number; spec: string }> = [];
  if (src.broken || src.doc.contents === null) return { src, entries, problems };
  const node = src.doc.get('plugins', true);
  if (node === undefined || node === null) return { src, entries, problems };
  if (!isSeq(node)) {
    problems.push({ path: ['plugins'], message: 'expected a list of plugin modules (package names or paths)' });
    return { src, entries, problems };
  }
  node.items.forEach((item, index) => {
    const raw: unknown = isScalar(item) ? item.value : undefined;
    if (typeof raw !== 'string' || raw.trim() === '') {
      problems.push({ path: ['plugins', String(index)], message: 'expected a package name or a path to a module' });
      return;
    }
    const { value: spec, problems: envProblems } = interpolateString(raw.trim(), env);
    if (envProblems.length > 0) return; // reported by the configuration decoder with its own message
    entries.push({ index, spec });
  });
  return { src, entries, problems };
}

/**
 * Loads the plugins a configuration lists and registers their data sources. `text` is the
 * configuration (the contents of `file`). Throws `ConfigError` listing every plugin problem.
 * A broken YAML file loads nothing here: decoding it reports the problem.
 */
export async function loadPlugins(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedPlugin[]> {
  const { src, entries, problems } = pluginEntries(text, file, env);
  const configDir = dirname(resolve(file));
  const loaded: LoadedPlugin[] = [];
  for (const { index, spec } of entries) {
    const path = ['plugins', String(index)];
    let url: string;
    try {
      url = resolvePlugin(spec, configDir);
    } catch (err) {
      problems.push({ path, message: err instanceof Error ? err.message : String(err) });
      continue;
    }
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (err) {
      const why = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
      problems.push({ path, message: `plugin '${spec}' failed to load: ${why}` });
      continue;
    }
    const definitions = definitionsOf(module);
    if (definitions.length === 0) {
      problems.push({ path, message: `plugin '${spec}' exports no data source (export what defineDataSource returns)` });
      continue;
    }
    const types: string[] = [];
    for (const definition of definitions) {
      try {
        registerDataSource(definition, url);
        types.push(definition.type);
      } catch (err) {
        problems.push({ path, message: `plugin '${spec}': ${err instanceof Error ? err.message : String(err)}` });
      }
    }
    loaded.push({ spec, url, types });
  }
  if (problems.length > 0) throw new ConfigError(file, locate(src, problems));
  return loaded;
}
