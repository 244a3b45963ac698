/**
 * Configuration of a `scim` data source (codec only). RFC 7644 service provider at `baseUrl`,
 * authenticated by at most one of: a bearer token, Basic (userName + password), or OAuth 2.0
 * client credentials (RFC 6749 §4.4: tokenUrl + clientId + clientSecret, optional scope).
 *
 * ```yaml
 * hr-scim:
 *   type: scim
 *   baseUrl: https://hr.corp.example/scim/v2
 *   bearerToken: ${HR_TOKEN}
 * ```
 */
import * as t from 'io-ts';
import {
  AnyString,
  Bool,
  DEFAULT_OPERATIONS,
  DurationMs,
  HttpUrl,
  listOf,
  NonEmptyString,
  OperationName,
  PositiveInt,
  ProxyUrl,
  strictObject,
  withDefault,
} from '../../config/codecs.js';
import type { Finding } from '../../config/codecs.js';
import { maskUrlPassword } from '../../support/show-value.js';

export const ScimTlsConfig = strictObject(
  {},
  { ca: NonEmptyString, cert: NonEmptyString, key: NonEmptyString, insecureSkipVerify: Bool },
  { name: 'TLS mapping (ca, cert, key, insecureSkipVerify)' },
);

export const ScimDataSourceConfig = strictObject(
  {
    type: t.literal('scim'),
    baseUrl: HttpUrl,
    timeoutMs: withDefault(DurationMs, 30_000 as DurationMs),
    /** RFC 7644 §3.4.2.4 `count` per page. */
    pageSize: withDefault(PositiveInt, 100 as PositiveInt),
    operations: withDefault(listOf(OperationName, 'list of operations'), [...DEFAULT_OPERATIONS]),
  },
  {
    bearerToken: AnyString,
    userName: NonEmptyString,
    password: AnyString,
    tokenUrl: HttpUrl,
    clientId: NonEmptyString,
    clientSecret: AnyString,
    scope: t.string,
    tls: ScimTlsConfig,
    proxy: ProxyUrl,
  },
  { name: 'SCIM data source mapping', check: checkScim },
);

export type ScimDataSourceConfig = t.TypeOf<typeof ScimDataSourceConfig>;

const has = (input: Record<string, unknown>, key: string): boolean => input[key] !== undefined;

function checkScim(_value: unknown, input: Record<string, unknown>): Finding[] {
  const findings: Finding[] = [];
  const pair = (a: string, b: string): void => {
    if (has(input, a) && !has(input, b)) findings.push({ path: [], message: `missing required key '${b}' (${a} is set)` });
  };
  pair('userName', 'password');
  pair('password', 'userName');
  const oauth = ['tokenUrl', 'clientId', 'clientSecret'];
  if (oauth.some((k) => has(input, k))) {
    for (const k of oauth) if (!has(input, k)) findings.push({ path: [], message: `missing required key '${k}' (OAuth client credentials need tokenUrl, clientId and clientSecret)` });
  } else if (has(input, 'scope')) {
    findings.push({ path: ['scope'], message: 'scope is only used with tokenUrl/clientId/clientSecret' });
  }
  const methods = [
    has(input, 'bearerToken') ? 'bearerToken' : undefined,
    has(input, 'userName') || has(input, 'password') ? 'userName/password' : undefined,
    oauth.some((k) => has(input, k)) ? 'tokenUrl/clientId/clientSecret' : undefined,
  ].filter((m) => m !== undefined);
  if (methods.length > 1) {
    findings.push({ path: [], message: `expected at most one authentication method, got ${methods.join(' and ')}` });
  }
  const tls = input['tls'];
  if (typeof tls === 'object' && tls !== null && !Array.isArray(tls)) {
    const tlsInput = tls as Record<string, unknown>;
    if (has(tlsInput, 'cert') !== has(tlsInput, 'key')) {
      findings.push({ path: ['tls'], message: 'expected tls.cert and tls.key together (client certificate), got only one' });
    }
  }
  return findings;
}

/** Relative file names (CA, client certificate and key) resolved by the loader. */
export function resolveScimPaths(config: ScimDataSourceConfig, resolve: (p: string) => string): ScimDataSourceConfig {
  if (config.tls === undefined) return config;
  const tls = { ...config.tls };
  for (const key of ['ca', 'cert', 'key'] as const) {
    const file = tls[key];
    if (file !== undefined) tls[key] = resolve(file) as NonEmptyString;
  }
  return { ...config, tls };
}

/** Where it connects, for the start-up summary. */
export function describeScimTarget(config: ScimDataSourceConfig): string {
  const auth =
    config.bearerToken !== undefined
      ? 'bearer token'
      : config.userName !== undefined
        ? `basic (userName ${config.userName})`
        : config.tokenUrl !== undefined
          ? `OAuth client credentials (clientId ${config.clientId ?? '?'})`
          : 'no authentication';
  const proxy = config.proxy === undefined ? '' : `, proxy ${maskUrlPassword(config.proxy)}`;
  return `${config.baseUrl}, ${auth}${proxy}`;
}
