/**
 * The `ldap` data-source adapter: one connection pool per data source, one module
 * per operation. Every operation is a cold Observable; unsubscribing or closing a page source
 * releases its connection.
 */
import type { Logger } from 'pino';
import type { BatchPageSource, DataSourceAdapter, OperationContext } from '../../adapter-kit/adapter.js';
import type { Operation } from '../../protocol/index.js';
import { LdapClientPool, type ClientPoolOptions, type PoolStats } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { exportRecords } from './export.js';
import { getEntry } from './get.js';
import { reportLdaptsSelfTest } from './ldapts-internals.js';
import { readAttributesOp, readSchemaOp } from './schema.js';
import { searchSource } from './search.js';
import { SearchThreads, threadedSearchSource, type SearchThreadsOptions } from './search-threads.js';
import { testConnection } from './test.js';

export interface LdapAdapterOptions extends ClientPoolOptions {
  /** Overrides the config's `searchWorkers` (tests). */
  readonly searchWorkers?: number;
  /** The search worker script (tests). Default: the built `search-worker.js`. */
  readonly searchWorkerScript?: URL;
  /** How long an idle search worker stays (ms; tests). Default 60 000. */
  readonly searchWorkerIdleMs?: number;
}

export interface LdapAdapterStats extends PoolStats {
  /** Search worker threads running. */
  readonly searchWorkers: number;
}

export interface LdapAdapter extends DataSourceAdapter {
  /** Connection counters, the search workers' connections included (for tests and metrics). */
  readonly stats: LdapAdapterStats;
  /** The worker threads serving `search`; undefined when searches run in the main thread. */
  readonly searchThreads: SearchThreads | undefined;
}

const SUPPORTS: readonly Operation[] = ['test', 'attributes', 'schema', 'get', 'search', 'export'];

/**
 * Default `searchWorkers`: 0, searches in the main thread. With the streaming transcoder a page
 * costs ~8 µs of CPU per entry; handing it to the main thread and the worker's own V8 cost more
 * than they save: relayed 100k-entry searches measured 44.9k entries/s, 8.1 µs/entry, 123 MB
 * peak in-thread against 37.6k/s, 13.3 µs, 161 MB with one worker and 33.4k/s, 16.1 µs, 153 MB
 * with two (docs/ldap.md, "Search worker threads").
 */
export function defaultSearchWorkers(): number {
  return 0;
}

export function createLdapAdapter(name: string, config: LdapDataSourceConfig, log: Logger, options: LdapAdapterOptions = {}): LdapAdapter {
  const { searchWorkers = config.searchWorkers ?? defaultSearchWorkers(), searchWorkerScript, searchWorkerIdleMs, ...poolOptions } = options;
  // The private ldapts members the entry decoder and rename rely on, tested once per thread
  // before the first client: a failure is logged once and turns the fast path off.
  reportLdaptsSelfTest(log);
  const pool = new LdapClientPool(config, log, poolOptions);
  if (config.tls?.insecureSkipVerify === true) {
    log.warn({ urls: config.urls }, 'TLS certificate verification is OFF for this LDAP data source (insecureSkipVerify: true)');
  }
  // The bind password must never reach a message, even if a server echoes it back.
  const secrets = config.bindPassword === undefined || config.bindPassword === '' ? [] : [config.bindPassword];
  const deps = { pool, config, secrets };
  const threads = searchThreads(name, config, log, {
    size: searchWorkers,
    pool: poolOptions,
    ...(searchWorkerScript === undefined ? {} : { script: searchWorkerScript }),
    ...(searchWorkerIdleMs === undefined ? {} : { idleMs: searchWorkerIdleMs }),
  });
  log.debug({ dataSource: name, urls: config.urls, baseDN: config.baseDN, searchWorkers: threads === undefined ? 0 : searchWorkers }, 'LDAP adapter created');
  return {
    type: 'ldap',
    supports: SUPPORTS,
    get stats() {
      const s = pool.stats;
      return { ...s, openConnections: s.openConnections + (threads?.openConnections ?? 0), searchWorkers: threads?.size ?? 0 };
    },
    searchThreads: threads,
    test: (ctx: OperationContext) => testConnection(deps, ctx),
    schema: (ctx: OperationContext) => readSchemaOp(deps, ctx),
    attributes: (ctx: OperationContext) => readAttributesOp(deps, ctx),
    get: (params: Record<string, unknown>, ctx: OperationContext) => getEntry(deps, params, ctx),
    search: (params: Record<string, unknown>, ctx: OperationContext): BatchPageSource =>
      threads?.usable === true ? threadedSearchSource({ ...deps, threads }, params, ctx) : searchSource(deps, params, ctx),
    export: (records, ctx) => exportRecords(deps, records, ctx),
    close: async () => {
      await Promise.all([threads?.close(), pool.close()]);
    },
  };
}

/** The search worker threads, or undefined (in-thread searches) when off or not available. */
function searchThreads(name: string, config: LdapDataSourceConfig, log: Logger, options: SearchThreadsOptions): SearchThreads | undefined {
  if (options.size === 0) return undefined;
  try {
    return new SearchThreads(name, config, log, options);
  } catch (err) {
    if (err instanceof RangeError) throw err;
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'LDAP search worker threads not available: searches run in the main thread');
    return undefined;
  }
}
