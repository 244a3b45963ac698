/**
 * The settings of a `jsonl` data source: what a `dataSources` entry may say, decoded by a strict
 * codec from the adapter kit (an unknown or misspelled key is reported by `datasync-agent check`
 * with its FILE:LINE:COL), and the defaults of the optional keys.
 *
 * ```yaml
 * dataSources:
 *   people:
 *     type: jsonl
 *     file: ./people.jsonl      # relative to this config file
 *     key: id                   # the attribute naming a record (default id)
 *     pageSize: 500             # records per page of a search (default 500)
 *     writable: true            # allow export (default false)
 *     operations: [test, attributes, get, search, export]
 * ```
 */
import { Bool, NonEmptyString, PositiveInt, strictObject, t, type DataSourceConfigBase } from 'datasync-agent/adapter-kit';

/** A decoded `jsonl` entry (the agent adds `operations` and `isolation`). */
export interface JsonlConfig extends DataSourceConfigBase {
  readonly type: 'jsonl';
  /** The JSON-lines file: one JSON object per line. */
  readonly file: string;
  /** The attribute whose value names a record (default `id`). */
  readonly key?: string;
  /** Records per page of a search (default 500). */
  readonly pageSize?: number;
  /** `export` rewrites the file (default false: read-only). */
  readonly writable?: boolean;
}

/** Decodes the settings of one entry (annotated: a plugin's exported codec needs a type it can name). */
export const JsonlSettings: t.Decoder<unknown, Omit<JsonlConfig, 'operations' | 'isolation'>> = strictObject(
  { type: t.literal('jsonl'), file: NonEmptyString },
  { key: NonEmptyString, pageSize: PositiveInt, writable: Bool },
  { name: 'jsonl data source mapping (file, key, pageSize, writable)' },
);

/** The settings with every default applied. */
export interface JsonlSettings {
  readonly file: string;
  readonly key: string;
  readonly pageSize: number;
  readonly writable: boolean;
}

export const DEFAULT_KEY = 'id';
export const DEFAULT_PAGE_SIZE = 500;

export function settingsOf(config: JsonlConfig): JsonlSettings {
  return {
    file: config.file,
    key: config.key ?? DEFAULT_KEY,
    pageSize: config.pageSize ?? DEFAULT_PAGE_SIZE,
    writable: config.writable ?? false,
  };
}

/** `file` relative to the configuration file's directory. */
export function resolveJsonlPaths(config: JsonlConfig, resolve: (file: string) => string): JsonlConfig {
  return { ...config, file: resolve(config.file) };
}

/** One line for the agent's start-up summary and `check`. */
export function describeJsonlTarget(config: JsonlConfig): string {
  const s = settingsOf(config);
  return `${s.file} (key ${s.key}, ${s.writable ? 'writable' : 'read-only'})`;
}
