/**
 * The `type: sql` data source, defined with the public adapter kit like any plugin: one type
 * for PostgreSQL and MariaDB/MySQL, the database chosen by `dialect` (the settings, mapping,
 * entries and operations are the same; only the driver and a few SQL spellings differ).
 * `password` is a secret (redacted in logs and `check`); a password inside `url` is masked in
 * the target line and scrubbed from error messages.
 */
import { defineDataSource } from '../../adapter-kit/index.js';
import { createSqlAdapter } from './adapter.js';
import { describeSqlTarget, resolveSqlPaths, SqlSettings, type SqlConfig } from './config.js';

export const sqlDataSource = defineDataSource<SqlConfig>({
  type: 'sql',
  config: SqlSettings,
  secretKeys: ['password'],
  describeTarget: describeSqlTarget,
  resolvePaths: resolveSqlPaths,
  create: createSqlAdapter,
});
