/**
 * `defineDataSource`: the one way a data source — built-in or plugin — says what it is: its
 * config `type`, the codec of its settings, which settings are secrets, and how to build its
 * adapter. A definition is a plain, branded object: the agent recognises a plugin's definitions
 * by the brand, so a plugin that brings its own copy of this package works the same.
 *
 * ```ts
 * export default defineDataSource({
 *   type: 'jsonl',
 *   config: dataSourceSettings('JSON-lines data source', { type: t.literal('jsonl'), file: NonEmptyString }),
 *   secretKeys: [],
 *   describeTarget: (c) => c.file,
 *   resolvePaths: (c, resolve) => ({ ...c, file: resolve(c.file) }),
 *   create: (name, config, log) => new JsonlAdapter(config, log),
 * });
 * ```
 */
import type * as t from 'io-ts';
import type { Logger } from 'pino';
import type { DataSourceConfigBase } from '../config/data-source-registry.js';
import type { DataSourceAdapter } from './adapter.js';

export const DATA_SOURCE_BRAND: unique symbol = Symbol.for('datasync-agent.DataSourceDefinition');

export interface DataSourceDefinitionInput<C extends DataSourceConfigBase> {
  /** The `type:` value in the configuration (lower case letters, digits, `-`, `_`, `.`). */
  readonly type: C['type'];
  /**
   * Decodes the type's settings (`type` included; `operations` and `isolation` are decoded by
   * the agent and added). Build it with the kit's codecs (`strictObject`, `withDefault`, …) so
   * an unknown or misspelled key is reported with its position.
   */
  readonly config: t.Decoder<unknown, Omit<C, 'operations' | 'isolation'>>;
  /** Setting names whose values are secrets: redacted in logs and in `check` (at any depth). */
  readonly secretKeys?: readonly string[];
  /** Where the source connects, one line for the start-up summary and `check`; no secrets. */
  describeTarget?(config: C): string;
  /** Resolves the relative file names of the settings against the config file's directory. */
  resolvePaths?(config: C, resolve: (file: string) => string): C;
  /** Builds the adapter of one configured data source (called once per source, at start). */
  create(name: string, config: C, log: Logger): DataSourceAdapter;
}

export type DataSourceDefinition<C extends DataSourceConfigBase = DataSourceConfigBase> = DataSourceDefinitionInput<C> & {
  readonly [DATA_SOURCE_BRAND]: 1;
};

const TYPE_NAME = /^[a-z][a-z0-9._-]{0,63}$/;

/** Checks and brands a data-source definition; throws a `TypeError` naming what is wrong. */
export function defineDataSource<C extends DataSourceConfigBase>(definition: DataSourceDefinitionInput<C>): DataSourceDefinition<C> {
  const problems = definitionProblems(definition);
  if (problems.length > 0) throw new TypeError(`invalid data source definition: ${problems.join('; ')}`);
  return Object.freeze({ ...definition, [DATA_SOURCE_BRAND]: 1 as const });
}

/** What is wrong with a would-be definition (empty when nothing is). */
export function definitionProblems(definition: unknown): string[] {
  if (typeof definition !== 'object' || definition === null) return ['expected an object'];
  const d = definition as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof d['type'] !== 'string' || !TYPE_NAME.test(d['type'])) {
    problems.push(`type: expected a lower-case name (letters, digits, '.', '-', '_'), got ${JSON.stringify(d['type']) ?? 'nothing'}`);
  }
  const codec = d['config'] as { validate?: unknown } | undefined;
  if (typeof codec !== 'object' || codec === null || typeof codec.validate !== 'function') problems.push('config: expected an io-ts decoder');
  if (typeof d['create'] !== 'function') problems.push('create: expected a function (name, config, log) => adapter');
  for (const key of ['describeTarget', 'resolvePaths'] as const) {
    if (d[key] !== undefined && typeof d[key] !== 'function') problems.push(`${key}: expected a function`);
  }
  const secretKeys = d['secretKeys'];
  if (secretKeys !== undefined && !(Array.isArray(secretKeys) && secretKeys.every((k) => typeof k === 'string' && k !== ''))) {
    problems.push('secretKeys: expected a list of setting names');
  }
  return problems;
}

/** A definition made by `defineDataSource` of any copy of this package. */
export function isDataSourceDefinition(value: unknown): value is DataSourceDefinition {
  return typeof value === 'object' && value !== null && (value as { [DATA_SOURCE_BRAND]?: unknown })[DATA_SOURCE_BRAND] === 1;
}
