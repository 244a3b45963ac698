/**
 * Loads a SQL source's driver on its first use: the dialect's module (and with it `pg` or
 * `mysql2`) is imported only then, so an agent without SQL data sources never loads either.
 */
import type { Logger } from 'pino';
import type { SqlConfig } from './config.js';
import type { SqlDriver } from './driver.js';

/** Loads the dialect's driver and opens its pool (lazily: no connection yet). */
export async function loadDriver(config: SqlConfig, log: Logger): Promise<SqlDriver> {
  if (config.dialect === 'postgres') {
    const { createPostgresDriver } = await import('./postgres-driver.js');
    return createPostgresDriver(config, log);
  }
  const { createMysqlDriver } = await import('./mysql-driver.js');
  return createMysqlDriver(config, log);
}
