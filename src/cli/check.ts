/**
 * `datasync-agent check`: after the config summary, test what the agent will use — every data
 * source locally (its adapter's `test` operation) and every hub URL (TLS, proxy, path and
 * credentials, up to the WebSocket upgrade, without registering) — all at once, each within
 * a deadline, and print one aligned table:
 *
 * ```
 * CHECK        TARGET                       RESULT           DETAIL
 * hub          wss://hub.example.com/agent  OK               41 ms; HTTP 101 datasync.v1; TLSv1.3, …
 * data source  corp-ldap (ldap)             FAIL UPSTREAM_…  invalid credentials for …
 * ```
 *
 * Exit code: 0 every check passed, 1 a live check failed, 2 something could not even be set
 * up from the configuration (key store, data-source settings). Secrets never reach the table:
 * what the check writes from the configuration is masked by key (a URL shows `user:***@` only
 * when it carries a password), and error messages from the hub or an upstream are scrubbed of
 * the configured secret values without touching the URLs in them (check-scrub.ts).
 */
import type { Agent as HttpAgent } from 'node:http';
import { firstValueFrom, throwError, timeout } from 'rxjs';
import { pino, type Logger } from 'pino';
import { SECRET_KEYS, type AgentConfig, type DataSourceConfig } from '../config/index.js';
import { isRecord } from '../config/codecs.js';
import { ConnectionError, RegistrationRejectedError } from '../connection/errors.js';
import { connectHint, probeHub, type ProbeResult } from '../connection/probe.js';
import { proxyAgent } from '../connection/proxy.js';
import { ProxyConfigError, resolveProxy, urlPasswords } from '../support/proxy-url.js';
import { agentAuthHeaders, agentTls, usesBasicAuth } from '../connection/agent-credentials.js';
import { TlsStoreError, type ClientTlsOptions } from '../support/tls-stores.js';
import { createAdapter } from '../adapter-kit/registry.js';
import '../adapters/builtin.js';
import { isProtocolError, ProtocolError } from '../protocol/index.js';
import { freeTextScrubber, maskUrl } from './check-scrub.js';

/** Deadline of each check when `--timeout` is not given, ms. */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

export interface CheckRow {
  readonly check: 'hub' | 'data source';
  readonly target: string;
  readonly ok: boolean;
  /** `OK`, or `FAIL <CODE>`. */
  readonly result: string;
  readonly detail: string;
  /** The failure is in the configuration (could not be set up), not in the network or upstream. */
  readonly setup?: boolean;
}

export interface CheckOptions {
  /** Deadline of each check, ms. */
  readonly timeoutMs: number;
  /** Environment for HTTPS_PROXY / NO_PROXY (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Adapters log here; default silent (the table says what matters). */
  readonly logger?: Logger;
}

/** Runs every check concurrently; rows come back in config order, hubs first. */
export async function runChecks(config: AgentConfig, options: CheckOptions): Promise<CheckRow[]> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const scrub = freeTextScrubber(configuredSecrets(config, options.env ?? process.env));
  const hubRows = checkHubs(config, options, scrub);
  const sourceRows = Object.entries(config.dataSources).map(([name, ds]) => checkDataSource(name, ds, options.timeoutMs, logger, scrub));
  return Promise.all([...hubRows, ...sourceRows]);
}

/** Masks the secret values in an error message (free text), URLs kept. */
type Scrub = (text: string) => string;

/** 0 all OK, 2 a setup (configuration) failure, else 1 when any check failed. */
export function checkExitCode(rows: readonly CheckRow[]): 0 | 1 | 2 {
  if (rows.some((r) => !r.ok && r.setup === true)) return 2;
  return rows.every((r) => r.ok) ? 0 : 1;
}

const HEADER = { check: 'CHECK', target: 'TARGET', result: 'RESULT', detail: 'DETAIL' } as const;

/** The table: columns padded to their widest cell, DETAIL last and never padded; then a tally. */
export function formatCheckTable(rows: readonly CheckRow[]): string {
  const all = [HEADER, ...rows];
  const width = (key: 'check' | 'target' | 'result'): number => Math.max(...all.map((r) => r[key].length));
  const [wc, wt, wr] = [width('check'), width('target'), width('result')];
  const lines = all.map((r) => `${r.check.padEnd(wc)}  ${r.target.padEnd(wt)}  ${r.result.padEnd(wr)}  ${r.detail}`.trimEnd());
  const failed = rows.filter((r) => !r.ok).length;
  const tally =
    rows.length === 0
      ? 'nothing to check'
      : failed === 0
        ? `all ${rows.length} checks OK`
        : `${failed} of ${rows.length} checks FAILED`;
  return `${lines.join('\n')}\n\n${tally}`;
}

// ---------------------------------------------------------------------------------------------
// Hubs

function checkHubs(config: AgentConfig, options: CheckOptions, scrub: Scrub): Array<Promise<CheckRow>> {
  const { agent } = config;
  let tls: ClientTlsOptions;
  try {
    // The same loading as the agent's; config decoding already checked the files, but a
    // store can change between `check` and here.
    tls = agentTls(agent);
  } catch (err) {
    const code = err instanceof TlsStoreError ? err.code : 'TLS_STORE';
    return agent.urls.map((url) =>
      Promise.resolve(failRow('hub', maskUrl(url), code, scrub(messageOf(err)), true)),
    );
  }
  const headers = agentAuthHeaders(agent);
  const auth = agent.keyStore ? 'client certificate' : usesBasicAuth(agent) ? `Basic auth as ${agent.userName}` : 'no credentials';
  const proxyOptions = {
    ...(agent.proxy ? { proxy: agent.proxy, proxySource: 'agent.proxy' } : {}),
    ...(agent.noProxy ? { noProxy: agent.noProxy } : {}),
    ...(options.env ? { env: options.env } : {}),
  };
  return agent.urls.map(async (url): Promise<CheckRow> => {
    const target = maskUrl(url);
    let via: string;
    let httpAgent: HttpAgent | undefined;
    try {
      const proxy = resolveProxy(url, proxyOptions);
      via = proxy === undefined ? 'direct' : `via proxy ${maskUrl(proxy)}`;
      httpAgent = proxyAgent(url, { ...proxyOptions, tls });
    } catch (err) {
      // A proxy URL that cannot be used (agent.proxy, HTTPS_PROXY, …): a configuration error,
      // named by its source, the URL shown masked.
      return failRow('hub', target, err instanceof ProxyConfigError ? err.code : 'CONFIG_INVALID', scrub(messageOf(err)), true);
    }
    try {
      const probe = await firstValueFrom(
        probeHub(url, {
          timeoutMs: options.timeoutMs,
          maxFrameBytes: config.maxFrameBytes,
          headers,
          tls,
          ...(httpAgent ? { agent: httpAgent } : {}),
        }),
      );
      return { check: 'hub', target, ok: true, result: 'OK', detail: hubFacts(probe, auth, via) };
    } catch (err) {
      const code = err instanceof ConnectionError || err instanceof RegistrationRejectedError ? err.code : 'CONNECT_FAILED';
      const hint = connectHint(err);
      const detail = [scrub(messageOf(err)), hint, via === 'direct' ? undefined : via].filter((s) => s !== undefined).join('; ');
      return failRow('hub', target, code, detail);
    } finally {
      httpAgent?.destroy();
    }
  });
}

function hubFacts(p: ProbeResult, auth: string, via: string): string {
  const parts = [`${p.latencyMs} ms`, `HTTP 101 ${p.protocol}`];
  if (p.tls) {
    const cert = p.tls.subject === undefined ? 'certificate' : `certificate CN=${p.tls.subject}`;
    const expiry = p.tls.daysLeft === undefined ? '' : `, expires in ${p.tls.daysLeft} day${p.tls.daysLeft === 1 ? '' : 's'}`;
    parts.push(`${p.tls.protocol ?? 'TLS'} ${cert}${expiry}`);
  }
  parts.push(`${auth} accepted`, via);
  return parts.join('; ');
}

// ---------------------------------------------------------------------------------------------
// Data sources

async function checkDataSource(name: string, ds: DataSourceConfig, timeoutMs: number, logger: Logger, scrub: Scrub): Promise<CheckRow> {
  const target = `${name} (${ds.type})`;
  let adapter;
  try {
    adapter = createAdapter(name, ds, logger);
  } catch (err) {
    return failRow('data source', target, isProtocolError(err) ? err.code : 'SETUP_FAILED', scrub(messageOf(err)), true);
  }
  const started = performance.now();
  try {
    const result = await firstValueFrom(
      adapter.test({ requestId: `check-${name}`, dataSource: name, log: logger }).pipe(
        timeout({
          first: timeoutMs,
          with: () => throwError(() => new ProtocolError('TIMEOUT', `no answer to test within ${timeoutMs} ms`, { dataSource: name })),
        }),
      ),
    );
    const latency = Math.round(performance.now() - started);
    return { check: 'data source', target, ok: true, result: 'OK', detail: [`${latency} ms`, ...testFacts(result)].join('; ') };
  } catch (err) {
    return failRow('data source', target, isProtocolError(err) ? err.code : 'INTERNAL', scrub(messageOf(err)));
  } finally {
    await adapter.close().catch(() => undefined);
  }
}

/**
 * A few words from an adapter's `test` answer. Adapters answer with their own shapes (LDAP:
 * `url`, `boundAs`, vendor; SCIM: `baseUrl`, `resourceTypes`, `probe`): read the well-known
 * fields that are there, ignore the rest.
 */
function testFacts(result: unknown): string[] {
  if (!isRecord(result)) return [];
  const str = (key: string): string | undefined => {
    const v = result[key];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const facts: string[] = [];
  const url = str('url') ?? str('baseUrl');
  if (url !== undefined) facts.push(maskUrl(url));
  const boundAs = str('boundAs');
  if (boundAs !== undefined) facts.push(`bound as ${boundAs}`);
  const vendor = [str('vendorName'), str('vendorVersion')].filter((s) => s !== undefined).join(' ');
  if (vendor !== '') facts.push(vendor);
  const types = result['resourceTypes'];
  if (Array.isArray(types) && types.length > 0) facts.push(`resource types ${types.filter((t) => typeof t === 'string').join(', ')}`);
  const probe = result['probe'];
  if (isRecord(probe) && typeof probe['totalResults'] === 'number' && typeof probe['endpoint'] === 'string') {
    facts.push(`${probe['totalResults']} resources at ${probe['endpoint']}`);
  }
  return facts;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function failRow(check: CheckRow['check'], target: string, code: string, detail: string, setup = false): CheckRow {
  return { check, target, ok: false, result: `FAIL ${code}`, detail: oneLine(detail), ...(setup ? { setup } : {}) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Table cells are one line: multi-line messages (e.g. a keytool recipe) are joined. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}

/** Environment variables a proxy URL can come from. */
const PROXY_VARIABLES = ['https_proxy', 'http_proxy', 'all_proxy'].flatMap((v) => [v, v.toUpperCase()]);

/**
 * The secret values of the configuration, found BY KEY (passwords, tokens, client secrets, at
 * any depth, by the key list the config reporter and the logger use), and the passwords of the
 * proxy URLs (config and environment, raw and percent-decoded): what error messages are
 * scrubbed of.
 */
function configuredSecrets(config: AgentConfig, env: NodeJS.ProcessEnv): string[] {
  const secrets: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (isRecord(value)) {
      for (const [key, v] of Object.entries(value)) {
        if (SECRET_KEYS.has(key) && typeof v === 'string') secrets.push(v);
        else walk(v);
      }
    }
  };
  walk(config);
  const proxies = [config.agent.proxy, ...PROXY_VARIABLES.map((v) => env[v])].filter((p): p is string => p !== undefined && p !== '');
  for (const p of proxies) secrets.push(...urlPasswords(p));
  return secrets;
}
