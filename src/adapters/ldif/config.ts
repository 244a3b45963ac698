/**
 * Configuration of an `ldif` data source (codec only; the adapter lives next to it): an
 * in-memory directory loaded from LDIF files (RFC 2849 content records). Writes (`export`) change
 * the in-memory copy only: the files are never written, and changes are lost at restart.
 *
 * ```yaml
 * demo-directory:
 *   type: ldif
 *   files: ./demo/directory.ldif           # or a list; relative to this config file
 *   baseDN: dc=demo,dc=example             # every entry in the files must be inside it
 * ```
 */
import * as t from 'io-ts';
import {
  DEFAULT_OPERATIONS,
  listOf,
  NonEmptyString,
  oneOrMany,
  OperationName,
  PositiveInt,
  strictObject,
  withDefault,
} from '../../config/codecs.js';
import { DnString } from '../directory/params.js';

export const LdifDataSourceConfig = strictObject(
  {
    type: t.literal('ldif'),
    files: oneOrMany(NonEmptyString, 'LDIF file path or a list of them'),
    /** Every entry in the files must be inside it; `''` is the root (every entry allowed). */
    baseDN: DnString,
    /** Entries per page of a search, and the cap for a caller's `pageSize`. */
    pageSize: withDefault(PositiveInt, 500 as PositiveInt),
    operations: withDefault(listOf(OperationName, 'list of operations'), [...DEFAULT_OPERATIONS]),
  },
  {},
  { name: 'LDIF data source mapping' },
);

export type LdifDataSourceConfig = t.TypeOf<typeof LdifDataSourceConfig>;

/** `files` are resolved against the config file's directory by the loader. */
export function resolveLdifPaths(config: LdifDataSourceConfig, resolve: (p: string) => string): LdifDataSourceConfig {
  return { ...config, files: config.files.map((f) => resolve(f) as NonEmptyString) };
}

/** What it serves, for the start-up summary. */
export function describeLdifTarget(config: LdifDataSourceConfig): string {
  return `${config.files.join(', ')} (in memory, not written back), base ${config.baseDN === '' ? '(root)' : config.baseDN}`;
}
