/**
 * The hub's configuration (`config/hub.yaml`): schema, defaults and loader.
 * Reference: docs/configuration.md.
 */
import * as t from 'io-ts';
import {
  decoder,
  DurationMs,
  isRecord,
  listOf,
  LoggingConfig,
  NonEmptyString,
  NonNegativeInt,
  orEmpty,
  Port,
  PositiveInt,
  recordOf,
  StatusConfig,
  strictObject,
  withDefault,
} from './codecs.js';
import type { Finding } from './codecs.js';
import { isIP } from 'node:net';
import { decodeYaml, pathResolverFor, readConfigFile } from './load.js';
import type { PathResolver } from './load.js';
import { isPasswordHash } from './password-hash.js';
import { showValue } from '../support/show-value.js';

/** A stored scrypt hash; the message says how to make one, never what the value was. */
export const PasswordHash = decoder<string>('scrypt password hash', (u, c) =>
  typeof u === 'string' && isPasswordHash(u)
    ? t.success(u)
    : t.failure(u, c, `expected scrypt password hash (scrypt$N$r$p$salt$hash), got ${showValue(u, true)}; make one with 'datasync-hub hash-password'`),
);

const PasswordCredential = strictObject({ userName: NonEmptyString, passwordHash: PasswordHash }, {}, { name: 'password credential' });
const SubjectCredential = strictObject({ certificateSubject: NonEmptyString }, {}, { name: 'certificate subject credential' });
const SanCredential = strictObject({ certificateSan: NonEmptyString }, {}, { name: 'certificate SAN credential' });

export type AgentCredential =
  | t.TypeOf<typeof PasswordCredential>
  | t.TypeOf<typeof SubjectCredential>
  | t.TypeOf<typeof SanCredential>;

const CREDENTIAL_KINDS = [
  { keys: ['userName', 'passwordHash'], codec: PasswordCredential },
  { keys: ['certificateSubject'], codec: SubjectCredential },
  { keys: ['certificateSan'], codec: SanCredential },
] as const;
const KINDS_TEXT = 'userName + passwordHash, certificateSubject or certificateSan';

/** One way for an agent to authenticate, chosen by its keys (a union without the noise). */
export const AgentCredential = decoder<AgentCredential>('agent credential mapping', (u, c) => {
  if (!isRecord(u)) return t.failure(u, c);
  const kinds = CREDENTIAL_KINDS.filter((k) => k.keys.some((key) => u[key] !== undefined));
  const [kind, ...others] = kinds;
  if (kind === undefined || others.length > 0) {
    const keys = Object.keys(u);
    const got = keys.length === 0 ? 'no keys' : `keys ${keys.join(', ')}`;
    return t.failure(u, c, `expected exactly one of ${KINDS_TEXT}, got ${got}`);
  }
  return kind.codec.validate(u, c);
});

export const TenantConfig = strictObject(
  {
    agents: listOf(AgentCredential, 'list of agent credentials'),
    /** Hashed API tokens, like passwordHash. */
    apiTokens: withDefault(listOf(PasswordHash, 'list of scrypt token hashes'), []),
  },
  {},
  { name: 'tenant mapping (agents, apiTokens)' },
);
export type TenantConfig = t.TypeOf<typeof TenantConfig>;

const UrlPath = decoder<string>('URL path starting with /', (u, c) =>
  typeof u === 'string' && u.startsWith('/') ? t.success(u) : t.failure(u, c),
);

const ms = (n: number): DurationMs => n as DurationMs;

/**
 * Where agents connect: `path` (one, default `/agent`) or `paths` (several, e.g. the classic
 * agent's `/idm` and `/idm-admin`), not both. With `paths`, `path` decodes as the first of them;
 * `agentPaths` gives the whole list.
 */
export const HubListenConfig = strictObject(
  {
    host: withDefault(NonEmptyString, '127.0.0.1' as NonEmptyString),
    port: withDefault(Port, 8443 as Port),
    path: withDefault(UrlPath, '/agent'),
  },
  { paths: listOf(UrlPath, 'list of URL paths starting with /', 1) },
  {
    name: 'listen mapping (host, port, path or paths)',
    check: (_value, input) =>
      input['path'] !== undefined && input['paths'] !== undefined
        ? [{ path: ['paths'], message: 'expected listen.path (one agent endpoint) or listen.paths (several), got both' }]
        : [],
  },
);
export type HubListenConfig = t.TypeOf<typeof HubListenConfig>;

/** The URL paths agents may upgrade on. */
export function agentPaths(listen: HubListenConfig): readonly string[] {
  return listen.paths ?? [listen.path];
}

/**
 * `cert` + `key`: a TLS listener. Neither: a plain-HTTP listener (behind a TLS-terminating
 * proxy) whose `clientCa` verifies client certificates the proxy forwards.
 */
export const HubTlsConfig = strictObject(
  {},
  { cert: NonEmptyString, key: NonEmptyString, clientCa: NonEmptyString },
  { name: 'TLS mapping (cert, key, clientCa)', check: checkTlsPair },
);

function checkTlsPair(value: { cert?: string; key?: string }, input: Record<string, unknown>): Finding[] {
  const given = (key: 'cert' | 'key'): boolean => value[key] !== undefined || input[key] !== undefined;
  if (given('cert') === given('key')) return [];
  const [missing, present] = given('cert') ? ['key', 'cert'] : ['cert', 'key'];
  return [{ path: [missing], message: `expected tls.${missing} with tls.${present} (a TLS listener needs both; neither is a plain-HTTP listener), got no tls.${missing}` }];
}

/** An address or a CIDR range, as written in `trustedProxies`, or why it is not one. */
export function parseAddressOrCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | { problem: string } {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0 || address.includes('%')) return { problem: `${JSON.stringify(address)} is not an IPv4 or IPv6 address` };
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const bits = text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return { problem: `prefix length ${JSON.stringify(bits)} is not 0-${max}` };
  return { address, prefix, family };
}

const AddressOrCidr = decoder<string>('IP address or CIDR (10.0.0.0/8, ::1/128)', (u, c) => {
  if (typeof u !== 'string') return t.failure(u, c);
  const parsed = parseAddressOrCidr(u.trim());
  return 'problem' in parsed ? t.failure(u, c, `expected IP address or CIDR (10.0.0.0/8, ::1/128), got ${JSON.stringify(u)}: ${parsed.problem}`) : t.success(u.trim());
});

/** An HTTP header name (a token); kept lower-case, as Node presents request headers. */
const HeaderName = decoder<string>('HTTP header name', (u, c) =>
  typeof u === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(u) ? t.success(u.toLowerCase()) : t.failure(u, c),
);

/** A TLS-terminating trusted proxy forwards the agent's client certificate in this header. */
export const ForwardedClientCertificateConfig = strictObject({ header: HeaderName }, {}, { name: 'forwardedClientCertificate mapping (header)' });

export const HubTimeouts = strictObject(
  {
    test: withDefault(DurationMs, ms(30_000)),
    schema: withDefault(DurationMs, ms(60_000)),
    get: withDefault(DurationMs, ms(30_000)),
    search: withDefault(DurationMs, ms(600_000)),
    export: withDefault(DurationMs, ms(3_600_000)),
  },
  {},
  { name: 'timeouts mapping (test, schema, get, search, export)' },
);

/** Limits of the HTTP API for cloud applications (docs/http-api.md). */
export const HubApiConfig = strictObject(
  {
    /** Largest JSON request body (test, get, search parameters); more is 413. */
    maxBodyBytes: withDefault(PositiveInt, 1_048_576 as PositiveInt),
    /** Largest single NDJSON line of an export body; a longer line is 413. */
    maxLineBytes: withDefault(PositiveInt, 1_048_576 as PositiveInt),
    /** Largest whole export body, streamed (never held in memory); more is 413. */
    maxExportBytes: withDefault(PositiveInt, 10_737_418_240 as PositiveInt),
    /** Requests (of any kind) one tenant may have in flight through the API; more is 429. */
    maxInFlightPerTenant: withDefault(PositiveInt, 256 as PositiveInt),
  },
  {},
  { name: 'api mapping (maxBodyBytes, maxLineBytes, maxExportBytes, maxInFlightPerTenant)' },
);
export type HubApiConfig = t.TypeOf<typeof HubApiConfig>;

/**
 * Limits on connections before an agent or API client has proven who it is, and on agent
 * sessions per tenant (docs/configuration.md, "connections").
 */
export const HubConnectionsConfig = strictObject(
  {
    /** Time a new connection has to deliver a complete request head (TLS handshake included). */
    headersTimeout: withDefault(DurationMs, ms(10_000)),
    /** Time an agent upgrade has, from its request head, to be authenticated and answered. */
    upgradeTimeout: withDefault(DurationMs, ms(10_000)),
    /** Connections without a complete request head or with an upgrade not yet authenticated, in total. */
    maxPending: withDefault(PositiveInt, 1024 as PositiveInt),
    /** The same, per source address (an IPv6 /64 counts as one address). */
    maxPendingPerAddress: withDefault(PositiveInt, 64 as PositiveInt),
    /** Agent sessions one tenant may have registered at once; one more upgrade is 503. */
    maxSessionsPerTenant: withDefault(PositiveInt, 256 as PositiveInt),
  },
  {},
  { name: 'connections mapping (headersTimeout, upgradeTimeout, maxPending, maxPendingPerAddress, maxSessionsPerTenant)' },
);
export type HubConnectionsConfig = t.TypeOf<typeof HubConnectionsConfig>;

/** How the hub spends and protects the scrypt work of checking passwords and API tokens. */
export const HubAuthenticationConfig = strictObject(
  {
    /** Password/token hashes computed at once; more wait in a short queue. */
    maxConcurrentHashes: withDefault(PositiveInt, 2 as PositiveInt),
    /** Hash checks waiting for a slot; one more is refused with 503 and Retry-After. */
    maxQueuedHashes: withDefault(PositiveInt, 32 as PositiveInt),
    /** Failed attempts from one source address before its penalty windows start. */
    freeFailures: withDefault(NonNegativeInt, 3 as NonNegativeInt),
    /** First penalty window; it doubles with every further failure. */
    penaltyBase: withDefault(DurationMs, ms(1_000)),
    /** Longest penalty window. */
    penaltyMax: withDefault(DurationMs, ms(300_000)),
    /** A source address's failures are forgotten after this long without a new one. */
    failureMemory: withDefault(DurationMs, ms(900_000)),
    /** How long a wrong user name + password (or API token) is remembered as wrong. */
    negativeCacheTtl: withDefault(DurationMs, ms(60_000)),
  },
  {},
  {
    name: 'authentication mapping (maxConcurrentHashes, maxQueuedHashes, freeFailures, penaltyBase, penaltyMax, failureMemory, negativeCacheTtl)',
  },
);
export type HubAuthenticationConfig = t.TypeOf<typeof HubAuthenticationConfig>;

export const HubConfigCodec = strictObject(
  {
    logging: orEmpty(LoggingConfig),
    listen: orEmpty(HubListenConfig),
    keepAliveInterval: withDefault(DurationMs, ms(10_000)),
    keepAliveTimeout: withDefault(DurationMs, ms(10_000)),
    maxFrameBytes: withDefault(PositiveInt, 1_048_576 as PositiveInt),
    /** Time an upgraded socket has to send `hello`. */
    registrationTimeout: withDefault(DurationMs, ms(10_000)),
    timeouts: orEmpty(HubTimeouts),
    api: orEmpty(HubApiConfig),
    connections: orEmpty(HubConnectionsConfig),
    authentication: orEmpty(HubAuthenticationConfig),
    tenants: recordOf(TenantConfig, 'mapping of tenant ids to tenants (at least one)', 1),
    /** Reverse proxies whose Forwarded / X-Forwarded-For headers give the client address. */
    trustedProxies: withDefault(listOf(AddressOrCidr, 'list of IP addresses or CIDRs'), []),
  },
  {
    tls: HubTlsConfig,
    forwardedClientCertificate: ForwardedClientCertificateConfig,
    /** Local listener for /healthz, /readyz and /metrics; off unless set. */
    status: StatusConfig,
  },
  { name: 'hub configuration mapping', check: checkCertificateSettings },
);
export type HubConfig = t.TypeOf<typeof HubConfigCodec>;

/**
 * A certificate credential can only match if the hub verifies client certificates (`clientCa`);
 * `clientCa` without a TLS listener verifies only certificates a proxy forwards, so it needs
 * `forwardedClientCertificate`, and that needs `clientCa`.
 */
function checkCertificateSettings(value: {
  tls?: { cert?: string; clientCa?: string };
  forwardedClientCertificate?: { header: string };
  trustedProxies?: string[];
  tenants?: Record<string, { agents: AgentCredential[] }>;
}): Finding[] {
  const findings: Finding[] = [];
  const clientCa = value.tls?.clientCa !== undefined;
  if (clientCa && value.tls?.cert === undefined && value.forwardedClientCertificate === undefined) {
    findings.push({
      path: ['tls', 'clientCa'],
      message:
        'expected tls.cert and tls.key with tls.clientCa, or forwardedClientCertificate: without a TLS listener no client presents a certificate to the hub, only a trusted proxy can forward one',
    });
  }
  if (value.forwardedClientCertificate !== undefined && !clientCa) {
    findings.push({ path: ['forwardedClientCertificate'], message: 'expected tls.clientCa to verify forwarded client certificates against, got no tls.clientCa' });
  }
  if (value.forwardedClientCertificate !== undefined && value.trustedProxies?.length === 0) {
    findings.push({ path: ['forwardedClientCertificate'], message: 'expected trustedProxies: a forwarded client certificate is accepted only from a trusted proxy, and none is listed' });
  }
  if (clientCa || value.tenants === undefined) return findings;
  return [
    ...findings,
    ...Object.entries(value.tenants).flatMap(([id, tenant]) =>
      tenant.agents.flatMap((cred, i) =>
        'userName' in cred
          ? []
          : [{ path: ['tenants', id, 'agents', String(i)], message: 'expected tls.clientCa to be set for certificate credentials, got no tls.clientCa' }],
      ),
    ),
  ];
}

function resolvePaths(cfg: HubConfig, resolve: PathResolver): HubConfig {
  const logging = cfg.logging.file === undefined ? cfg.logging : { ...cfg.logging, file: resolve(cfg.logging.file) as NonEmptyString };
  const [first] = cfg.listen.paths ?? [];
  const listen = first === undefined ? cfg.listen : { ...cfg.listen, path: first };
  if (cfg.tls === undefined) return { ...cfg, logging, listen };
  const tls = { ...cfg.tls };
  if (cfg.tls.cert !== undefined) tls.cert = resolve(cfg.tls.cert) as NonEmptyString;
  if (cfg.tls.key !== undefined) tls.key = resolve(cfg.tls.key) as NonEmptyString;
  if (cfg.tls.clientCa !== undefined) tls.clientCa = resolve(cfg.tls.clientCa) as NonEmptyString;
  return { ...cfg, logging, listen, tls };
}

/** Decodes hub configuration text; `file` names it in problems and anchors relative paths. */
export function decodeHubConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  return resolvePaths(decodeYaml(HubConfigCodec, text, file, env), pathResolverFor(file));
}

/** Reads and decodes the hub configuration; throws `ConfigError` listing every problem. */
export function loadHubConfig(file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  return decodeHubConfig(readConfigFile(file), file, env);
}
