/**
 * The `type: sql` adapter: PostgreSQL (`dialect: postgres`, driver `pg`) and MariaDB/MySQL
 * (`dialect: mysql`, driver `mysql2`) tables and views as entries, built only on the public
 * adapter kit. The driver is loaded, and the pool created, on the first operation.
 *
 * Operations: test, attributes, schema (reads.ts), get and search (search.ts), export
 * (export.ts). Guide: docs/sql.md.
 */
import type { Logger } from 'pino';
import type { DataSourceAdapter, Operation } from '../../adapter-kit/index.js';
import type { SqlConfig } from './config.js';
import { exportRecords } from './export.js';
import { attributesOf, schemaOf, testSource } from './reads.js';
import { getEntry, searchSource } from './search.js';
import { SqlSource } from './source.js';

const SUPPORTS: readonly Operation[] = ['test', 'attributes', 'schema', 'get', 'search', 'export'];

export function createSqlAdapter(name: string, config: SqlConfig, log: Logger): DataSourceAdapter {
  const source = new SqlSource(config, log);
  log.debug({ dialect: config.dialect, objectTypes: [...source.mappings.keys()] }, `sql data source ${name} ready (driver loaded on first use)`);
  return {
    type: 'sql',
    supports: SUPPORTS,
    test: (ctx) => testSource(source, ctx),
    attributes: (ctx) => attributesOf(source, ctx),
    schema: (ctx) => schemaOf(source, ctx),
    get: (params, ctx) => getEntry(source, params, ctx),
    search: (params, ctx) => searchSource(source, params, ctx),
    export: (records$, ctx) => exportRecords(source, records$, ctx),
    close: () => source.close(),
  };
}
