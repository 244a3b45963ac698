/**
 * The `scim` data-source adapter (RFC 7643/7644): one HTTP client per data source
 * (undici pools, TLS read once, proxy per `resolveProxy`), one module per operation. Every
 * operation is a cold Observable; unsubscribing aborts the HTTP request in flight.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Logger } from 'pino';
import type { DataSourceAdapter, OperationContext, SearchSource } from '../../adapter-kit/adapter.js';
import type { Operation } from '../../protocol/index.js';
import { redactUrl } from '../../support/proxy-url.js';
import { createAuthenticator } from './auth.js';
import { ScimClient } from './client.js';
import type { ScimDataSourceConfig } from './config.js';
import type { ScimDeps } from './deps.js';
import { exportRecords } from './export.js';
import { getResource } from './get.js';
import { ResourceTypeDirectory } from './resource-types.js';
import { checkRetryPolicy, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import { readAttributesOp, readResourceTypesOp, readSchemaOp } from './schema.js';
import { searchSource } from './search.js';
import { ServiceProviderInfo } from './service-provider.js';
import { testConnection } from './test.js';
import { DEFAULT_MAX_RESPONSE_BYTES, Dispatchers, tlsOptions } from './transport.js';

export interface ScimAdapterOptions {
  /** Runs the waits between retries and is the clock of token expiry. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Largest response body read, bytes (integer >= 1024). Default 16 MiB. */
  readonly maxResponseBytes?: number;
  /** Retry policy of idempotent requests. Default 3 attempts, 500 ms doubling, at most 30 s. */
  readonly retry?: Partial<RetryPolicy>;
  /** Environment for `HTTP(S)_PROXY`/`NO_PROXY`. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

const SUPPORTS: readonly Operation[] = ['test', 'attributes', 'schema', 'resourceTypes', 'get', 'search', 'export'];

export function createScimAdapter(name: string, config: ScimDataSourceConfig, log: Logger, options: ScimAdapterOptions = {}): DataSourceAdapter {
  const scheduler = options.scheduler ?? asyncScheduler;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 1024) {
    throw new RangeError(`SCIM adapter: maxResponseBytes must be an integer >= 1024, got ${String(options.maxResponseBytes)}`);
  }
  const retry = checkRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry });
  const dispatchers = new Dispatchers(
    { timeoutMs: config.timeoutMs, tls: tlsOptions(config, log), ...(config.proxy === undefined ? {} : { proxy: config.proxy }), env: options.env ?? process.env },
    log,
  );
  const auth = createAuthenticator(config, { dispatchers, maxResponseBytes, timeoutMs: config.timeoutMs, now: () => scheduler.now(), log });
  // Secrets must never reach a message, even if a server echoes them back.
  const secrets = [config.bearerToken, config.password, config.clientSecret].filter((s): s is string => s !== undefined && s !== '');
  const client = new ScimClient({ baseUrl: config.baseUrl, dispatchers, auth, maxResponseBytes, timeoutMs: config.timeoutMs, retry, scheduler, secrets, log });
  const deps: ScimDeps = { client, directory: new ResourceTypeDirectory(client), serviceProvider: new ServiceProviderInfo(client), config };
  log.debug({ dataSource: name, baseUrl: redactUrl(config.baseUrl), proxy: config.proxy === undefined ? undefined : redactUrl(config.proxy) }, 'SCIM adapter created');
  return {
    type: 'scim',
    supports: SUPPORTS,
    test: (ctx: OperationContext) => testConnection(deps, ctx),
    resourceTypes: (ctx: OperationContext) => readResourceTypesOp(deps, ctx),
    schema: (ctx: OperationContext) => readSchemaOp(deps, ctx),
    attributes: (ctx: OperationContext) => readAttributesOp(deps, ctx),
    get: (params: Record<string, unknown>, ctx: OperationContext) => getResource(deps, params, ctx),
    search: (params: Record<string, unknown>, ctx: OperationContext): SearchSource => searchSource(deps, params, ctx),
    export: (records, ctx) => exportRecords(deps, records, ctx),
    close: () => client.close(),
  };
}
