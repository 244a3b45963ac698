/**
 * Configuration of an `ldap` data source (codec only; the adapter lives next to it).
 *
 * ```yaml
 * corp-ldap:
 *   type: ldap
 *   url: ldaps://dc1.corp.example:636      # or urls: [ldaps://dc1…, ldaps://dc2…] (tried in order)
 *   bindDN: cn=sync,ou=service,dc=corp,dc=example
 *   bindPassword: ${LDAP_PASSWORD}
 *   baseDN: dc=corp,dc=example
 * ```
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import {
  AnyString,
  Bool,
  decoder,
  DEFAULT_OPERATIONS,
  DurationMs,
  LdapUrl,
  listOf,
  NonEmptyString,
  NonNegativeInt,
  oneOrMany,
  OperationName,
  PositiveInt,
  strictObject,
  withDefault,
} from '../../config/codecs.js';
import type { Finding } from '../../config/codecs.js';

export const LdapTlsConfig = strictObject(
  {},
  { ca: NonEmptyString, insecureSkipVerify: Bool },
  { name: 'TLS mapping (ca, insecureSkipVerify)' },
);

const LdapDataSourceInput = strictObject(
  {
    type: t.literal('ldap'),
    baseDN: t.string,
    startTLS: withDefault(Bool, false),
    /** RFC 2696 simple paged results: entries per page. */
    pageSize: withDefault(PositiveInt, 500 as PositiveInt),
    timeoutMs: withDefault(DurationMs, 30_000 as DurationMs),
    operations: withDefault(listOf(OperationName, 'list of operations'), [...DEFAULT_OPERATIONS]),
  },
  {
    url: LdapUrl,
    urls: oneOrMany(LdapUrl, 'ldap:// or ldaps:// URL or a list of them'),
    bindDN: t.string,
    bindPassword: AnyString,
    tls: LdapTlsConfig,
    /** Worker threads that run searches (0 = in the main thread). Default: min(2, CPUs). */
    searchWorkers: NonNegativeInt,
  },
  { name: 'LDAP data source mapping', check: checkLdap },
);

function checkLdap(value: { urls?: string[]; url?: string; startTLS?: boolean }, input: Record<string, unknown>): Finding[] {
  const findings: Finding[] = [];
  if (input['url'] !== undefined && input['urls'] !== undefined) {
    findings.push({ path: ['urls'], message: "expected either 'url' or 'urls', got both" });
  } else if (input['url'] === undefined && input['urls'] === undefined) {
    findings.push({ path: [], message: "missing required key 'url' (or 'urls')" });
  }
  if (input['bindPassword'] !== undefined && input['bindDN'] === undefined) {
    findings.push({ path: [], message: "missing required key 'bindDN' (bindPassword is set)" });
  }
  if (input['bindDN'] !== undefined && input['bindPassword'] === undefined) {
    findings.push({ path: [], message: "missing required key 'bindPassword' (bindDN is set)" });
  }
  const urls = value.urls ?? (value.url === undefined ? [] : [value.url]);
  if (value.startTLS === true && urls.some((u) => u.startsWith('ldaps:'))) {
    findings.push({ path: ['startTLS'], message: 'expected false with ldaps:// (already TLS), got true' });
  }
  return findings;
}

type LdapDataSourceInput = t.TypeOf<typeof LdapDataSourceInput>;

/** Decoded: `url` is folded into `urls`, so the adapter sees one list. */
export type LdapDataSourceConfig = Omit<LdapDataSourceInput, 'url' | 'urls'> & { urls: LdapUrl[] };

export const LdapDataSourceConfig = decoder<LdapDataSourceConfig>('LDAP data source mapping', (u, c) => {
  const r = LdapDataSourceInput.validate(u, c);
  if (isLeft(r)) return r;
  const { url, urls, ...rest } = r.right;
  return t.success({ ...rest, urls: urls ?? (url === undefined ? [] : [url]) });
});

/** Relative file names (the CA bundle) resolved by the loader. */
export function resolveLdapPaths(config: LdapDataSourceConfig, resolve: (p: string) => string): LdapDataSourceConfig {
  if (config.tls?.ca === undefined) return config;
  return { ...config, tls: { ...config.tls, ca: resolve(config.tls.ca) as NonEmptyString } };
}

/** Where it connects, for the start-up summary. */
export function describeLdapTarget(config: LdapDataSourceConfig): string {
  const tls = config.startTLS ? ' (StartTLS)' : '';
  const bind = config.bindDN === undefined ? 'anonymous' : `bind ${config.bindDN}`;
  return `${config.urls.join(', ')}${tls}, base ${config.baseDN === '' ? '(root)' : config.baseDN}, ${bind}`;
}
