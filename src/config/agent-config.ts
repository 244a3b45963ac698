/**
 * The agent's configuration (`config/application.yaml`): schema, defaults and loader.
 * Reference: docs/configuration.md.
 */
import { hostname } from 'node:os';
import * as t from 'io-ts';
import {
  AnyString,
  Bool,
  decoder,
  DurationMs,
  listOf,
  LoggingConfig,
  NonEmptyString,
  StatusConfig,
  oneOrMany,
  orEmpty,
  NonNegativeInt,
  PositiveInt,
  ProxyUrl,
  recordOf,
  strictObject,
  withDefault,
} from './codecs.js';
import type { WsUrl } from './codecs.js';
import type { Finding } from './codecs.js';
import { DataSourceConfigCodec, resolveDataSourcePaths } from './data-source-registry.js';
import { decodeYaml, pathResolverFor, readConfigFile } from './load.js';
import type { PathResolver } from './load.js';
import { checkAgentStores } from './store-checks.js';

/** Classic configuration files give the tenant as a number; it is a string from here on. */
export const TenantId = decoder<string>('tenant id (string or integer)', (u, c) => {
  if (typeof u === 'number' && Number.isSafeInteger(u) && u >= 0) return t.success(String(u));
  if (typeof u === 'string' && u.trim() !== '') return t.success(u);
  return t.failure(u, c);
});

const DIALLED_AS: Readonly<Record<string, string>> = { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' };

/**
 * An `agent.urls` entry as dialled: `ws://` and `wss://` as written, and — so the classic
 * agent's file runs unchanged — `http://` / `https://` as `ws://` / `wss://` on the same host,
 * port, path and query (only the scheme changes). Undefined when it is not a hub URL.
 */
export function dialledHubUrl(text: string): WsUrl | undefined {
  const written = text.trim();
  let url: URL;
  try {
    url = new URL(written);
  } catch {
    return undefined;
  }
  const protocol = DIALLED_AS[url.protocol];
  if (protocol === undefined || url.hostname === '') return undefined;
  return `${protocol}${written.slice(written.indexOf(':') + 1)}` as WsUrl;
}

/** Decodes to the URL as dialled: logs, status, metrics and `check` show the `ws(s)://` form. */
const HubUrl = decoder<WsUrl>('ws://, wss://, http:// or https:// URL', (u, c) => {
  const dialled = typeof u === 'string' ? dialledHubUrl(u) : undefined;
  return dialled === undefined ? t.failure(u, c) : t.success(dialled);
});

/** Keys that only make sense with another key. */
function requires(input: Record<string, unknown>, key: string, needs: string, why: string): Finding[] {
  return input[key] !== undefined && input[needs] === undefined
    ? [{ path: [], message: `missing required key '${needs}' (${why})` }]
    : [];
}

/**
 * A hub URL listed twice (also as `https://` and `wss://` of the same address: both are dialled
 * as the same `wss://` URL) is a mistake: two sessions to one endpoint that logs, `/readyz` and
 * the metrics could not tell apart.
 */
function duplicateUrls(urls: readonly string[] | undefined): Finding[] {
  const first = new Map<string, number>();
  const findings: Finding[] = [];
  (urls ?? []).forEach((url, index) => {
    const earlier = first.get(url);
    if (earlier === undefined) first.set(url, index);
    else findings.push({ path: ['urls', String(index)], message: `expected each hub URL once, got ${url} again (as urls.${earlier}); list it once` });
  });
  return findings;
}

export const AgentSection = strictObject(
  {
    id: withDefault(NonEmptyString, (hostname() || 'datasync-agent') as NonEmptyString),
    urls: oneOrMany(HubUrl, 'ws://, wss://, http:// or https:// URL or a list of them'),
    tenantId: TenantId,
  },
  {
    userName: NonEmptyString,
    password: AnyString,
    keyStore: NonEmptyString,
    keyStorePassword: AnyString,
    privateKey: NonEmptyString,
    trustStore: NonEmptyString,
    trustStorePassword: AnyString,
    proxy: ProxyUrl,
    noProxy: AnyString,
  },
  {
    name: 'agent mapping',
    check: (value, input) => [
      ...duplicateUrls(value.urls),
      ...requires(input, 'userName', 'password', 'userName is set'),
      ...requires(input, 'password', 'userName', 'password is set'),
      ...requires(input, 'keyStorePassword', 'keyStore', 'keyStorePassword is set'),
      ...requires(input, 'privateKey', 'keyStore', 'privateKey is the key of the keyStore certificate'),
      ...requires(input, 'trustStorePassword', 'trustStore', 'trustStorePassword is set'),
    ],
  },
);
export type AgentSection = t.TypeOf<typeof AgentSection>;

const DEFAULTS = {
  reconnectDelay: 15_000,
  maxReconnectDelay: 300_000,
  reconnectResetAfter: 60_000,
  keepAliveInterval: 10_000,
  keepAliveTimeout: 10_000,
  maxFrameBytes: 1_048_576,
  maxConcurrentRequests: 16,
  maxQueuedRequests: 64,
  maxConcurrentStreams: 8,
  maxChunkItems: 500,
  maxRequestTimeout: 3_600_000,
  streamWindow: 4,
  shutdownGracePeriod: 30_000,
} as const;

const ms = (n: number): DurationMs => n as DurationMs;

/** Bounds of the export journals under `stateDir` (docs/exports.md). */
export const ExportJournalConfig = strictObject(
  {
    /** A journal untouched this long is deleted. */
    maxAge: withDefault(DurationMs, ms(7 * 24 * 3_600_000)),
    /** Total size of all journals; the oldest are deleted first beyond it. */
    maxBytes: withDefault(PositiveInt, (256 * 1024 * 1024) as PositiveInt),
    /** fdatasync every intent line (and at close): survives an OS crash, costs one disk flush per record. */
    fsync: withDefault(Bool, false),
  },
  {},
  { name: 'exportJournal mapping (maxAge, maxBytes, fsync)' },
);
export type ExportJournalConfig = t.TypeOf<typeof ExportJournalConfig>;

export const AgentConfigCodec = strictObject(
  {
    logging: orEmpty(LoggingConfig),
    agent: AgentSection,
    /** Base of the exponential backoff between connection attempts. */
    reconnectDelay: withDefault(DurationMs, ms(DEFAULTS.reconnectDelay)),
    maxReconnectDelay: withDefault(DurationMs, ms(DEFAULTS.maxReconnectDelay)),
    /** A connection registered this long resets the backoff. */
    reconnectResetAfter: withDefault(DurationMs, ms(DEFAULTS.reconnectResetAfter)),
    keepAliveInterval: withDefault(DurationMs, ms(DEFAULTS.keepAliveInterval)),
    keepAliveTimeout: withDefault(DurationMs, ms(DEFAULTS.keepAliveTimeout)),
    maxFrameBytes: withDefault(PositiveInt, DEFAULTS.maxFrameBytes as PositiveInt),
    /** Requests run at once; more wait in a queue of maxQueuedRequests, beyond that: BUSY. */
    maxConcurrentRequests: withDefault(PositiveInt, DEFAULTS.maxConcurrentRequests as PositiveInt),
    maxQueuedRequests: withDefault(NonNegativeInt, DEFAULTS.maxQueuedRequests as NonNegativeInt),
    /** search/export streams running at once over all sessions; one more is answered BUSY. */
    maxConcurrentStreams: withDefault(PositiveInt, DEFAULTS.maxConcurrentStreams as PositiveInt),
    /** Items per chunk sent, and records per export chunk accepted (more is BAD_REQUEST). */
    maxChunkItems: withDefault(PositiveInt, DEFAULTS.maxChunkItems as PositiveInt),
    /** Upper bound of any request's deadline, whatever timeoutMs the hub asks for. */
    maxRequestTimeout: withDefault(DurationMs, ms(DEFAULTS.maxRequestTimeout)),
    /** Export record chunks the agent lets the hub send ahead of its writes. */
    streamWindow: withDefault(PositiveInt, DEFAULTS.streamWindow as PositiveInt),
    /** On SIGTERM/SIGINT, how long requests in flight may take to finish. */
    shutdownGracePeriod: withDefault(DurationMs, ms(DEFAULTS.shutdownGracePeriod)),
    /** Each data source runs its `test` once at start (src/agent/startup-test.ts); a failure is a warning, never fatal. */
    testOnStart: withDefault(Bool, true),
    dataSources: orEmpty(recordOf(DataSourceConfigCodec, 'mapping of data source names to data sources')),
  },
  {
    /** Local listener for /healthz, /readyz and /metrics; off unless set. */
    status: StatusConfig,
    /** Directory for the agent's durable state (export journals); off unless set. */
    stateDir: NonEmptyString,
    exportJournal: ExportJournalConfig,
    /** Data-source plugins, loaded before `dataSources` is decoded (src/plugins/load-plugins.ts). */
    plugins: listOf(NonEmptyString, 'list of plugin modules (package names or paths)'),
    /**
     * The classic agent's log4j2 file, as its `application.yaml` names it (a top-level key with
     * a dot in its name). Accepted so the classic file runs unchanged; never read: see
     * `agentConfigWarnings`.
     */
    'logging.config': AnyString,
  },
  {
    name: 'agent configuration mapping',
    check: (value, input) => [...checkBackoff(value, input), ...requires(input, 'exportJournal', 'stateDir', 'export journals live under stateDir')],
  },
);

/** maxReconnectDelay caps the backoff, so it cannot be below its base. */
function checkBackoff(value: { reconnectDelay?: number; maxReconnectDelay?: number }, input: Record<string, unknown>): Finding[] {
  const { reconnectDelay: base, maxReconnectDelay: max } = value;
  if (base === undefined || max === undefined || max >= base) return [];
  return input['maxReconnectDelay'] === undefined
    ? [{ path: ['reconnectDelay'], message: `expected <= maxReconnectDelay (${max}, the default), got ${base}` }]
    : [{ path: ['maxReconnectDelay'], message: `expected >= reconnectDelay (${base}), got ${max}` }];
}

export type AgentConfig = t.TypeOf<typeof AgentConfigCodec>;

/**
 * What the configuration holds that this agent accepts but does not act on, one line each, for
 * the start-up log and `check`. Today: a log4j2 file (`logging.config`, top-level as in the
 * classic file, or `logging: { config: … }`).
 */
export function agentConfigWarnings(cfg: AgentConfig): string[] {
  const log4j = cfg['logging.config'] ?? cfg.logging.config;
  if (log4j === undefined) return [];
  const key = cfg['logging.config'] === undefined ? 'logging: { config }' : 'logging.config';
  return [
    `${key}: ${JSON.stringify(log4j)} is not read (a log4j2 XML file configures the classic Java agent's logging); this agent logs as logging.level, logging.file and logging.format say, under a 'logging:' mapping`,
  ];
}

/** Makes the file names in the configuration absolute (relative = to the config file's directory). */
function resolvePaths(cfg: AgentConfig, resolve: PathResolver): AgentConfig {
  const agent = { ...cfg.agent };
  for (const key of ['keyStore', 'privateKey', 'trustStore'] as const) {
    const file = agent[key];
    if (file !== undefined) agent[key] = resolve(file) as NonEmptyString;
  }
  const logging = cfg.logging.file === undefined ? cfg.logging : { ...cfg.logging, file: resolve(cfg.logging.file) as NonEmptyString };
  const dataSources = Object.fromEntries(
    Object.entries(cfg.dataSources).map(([name, ds]) => [name, resolveDataSourcePaths(ds, resolve)]),
  );
  return { ...cfg, logging, agent, dataSources, ...(cfg.stateDir === undefined ? {} : { stateDir: resolve(cfg.stateDir) as NonEmptyString }) };
}

/** Decodes agent configuration text; `file` names it in problems and anchors relative paths. */
export function decodeAgentConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const resolver = pathResolverFor(file);
  return resolvePaths(
    decodeYaml(AgentConfigCodec, text, file, env, (raw) => checkAgentStores(resolvePaths(raw, resolver))),
    resolver,
  );
}

/** Reads and decodes the agent configuration; throws `ConfigError` listing every problem. */
export function loadAgentConfig(file: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return decodeAgentConfig(readConfigFile(file), file, env);
}
