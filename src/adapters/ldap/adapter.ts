/**
 * The `ldap` data-source adapter (DESIGN §5): one connection pool per data source, one module
 * per operation. Every operation is a cold Observable; unsubscribing or closing a page source
 * releases its connection.
 */
import type { Logger } from 'pino';
import type { DataSourceAdapter, OperationContext, PageSource } from '../adapter.js';
import type { Operation } from '../../protocol/index.js';
import { LdapClientPool, type ClientPoolOptions, type PoolStats } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { exportRecords } from './export.js';
import { getEntry } from './get.js';
import { readAttributesOp, readSchemaOp } from './schema.js';
import { searchSource } from './search.js';
import { testConnection } from './test.js';

export type LdapAdapterOptions = ClientPoolOptions;

export interface LdapAdapter extends DataSourceAdapter {
  /** Connection pool counters (for tests and metrics). */
  readonly stats: PoolStats;
}

const SUPPORTS: readonly Operation[] = ['test', 'attributes', 'schema', 'get', 'search', 'export'];

export function createLdapAdapter(name: string, config: LdapDataSourceConfig, log: Logger, options: LdapAdapterOptions = {}): LdapAdapter {
  const pool = new LdapClientPool(config, log, options);
  // The bind password must never reach a message, even if a server echoes it back.
  const secrets = config.bindPassword === undefined || config.bindPassword === '' ? [] : [config.bindPassword];
  const deps = { pool, config, secrets };
  log.debug({ dataSource: name, urls: config.urls, baseDN: config.baseDN }, 'LDAP adapter created');
  return {
    type: 'ldap',
    supports: SUPPORTS,
    get stats() {
      return pool.stats;
    },
    test: (ctx: OperationContext) => testConnection(deps, ctx),
    schema: (ctx: OperationContext) => readSchemaOp(deps, ctx),
    attributes: (ctx: OperationContext) => readAttributesOp(deps, ctx),
    get: (params: Record<string, unknown>, ctx: OperationContext) => getEntry(deps, params, ctx),
    search: (params: Record<string, unknown>, ctx: OperationContext): PageSource<unknown> => searchSource(deps, params, ctx),
    export: (records, ctx) => exportRecords(deps, records, ctx),
    close: () => pool.close(),
  };
}
