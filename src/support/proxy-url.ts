/**
 * Which proxy an outbound connection goes through, and proxy URLs made safe to show.
 *
 * Precedence:
 * 1. `noProxy` (config) — or, when it is not configured, `NO_PROXY`/`no_proxy` from the
 *    environment — excludes a host (rules: `support/no-proxy.ts`). This applies to an explicit
 *    `proxy` too: one config file can set a company proxy while a hub on the local network
 *    stays direct.
 * 2. An explicit `proxy` (config) is used for every other host.
 * 3. Otherwise the environment, with the rules of `proxy-from-env` (see `resolveProxy`).
 *
 * A neutral leaf (plain URL and environment logic, no sockets): the agent's hub connection
 * (`connection/proxy.ts`) and the data sources that make HTTP calls of their own (SCIM) both
 * choose their proxy here.
 */
import { isNoProxy } from './no-proxy.js';

export interface ProxyOptions {
  /** Proxy URL, `http://[user:pass@]host:port` (or `https://`). Wins over the environment. */
  proxy?: string;
  /** Comma/space separated host list in `NO_PROXY` syntax; replaces the environment's NO_PROXY. */
  noProxy?: string;
  /** Environment to read `*_PROXY`/`NO_PROXY` from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where `proxy` came from, named in errors (e.g. `agent.proxy`). Default `proxy`. */
  proxySource?: string;
}

/**
 * A proxy URL that cannot be used, from the configuration or the environment. The message
 * names where it came from (`agent.proxy`, `HTTPS_PROXY`, …) and shows the URL with its
 * userinfo masked; nothing else of the URL is kept on the error (no `input`, no `cause`), so a
 * logger that serialises every field of an error cannot leak the password.
 */
export class ProxyConfigError extends TypeError {
  override readonly name = 'ProxyConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(
    /** Where the URL came from: a config key or an environment variable name. */
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
  }
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { ftp: 21, gopher: 70, http: 80, https: 443, ws: 80, wss: 443 };

/** How to write a password with special characters in a URL. */
export const PERCENT_ENCODE_HINT = 'percent-encode special characters in the user name and password (@ → %40, : → %3A, / → %2F, # → %23, ? → %3F, % → %25, space → %20)';

/**
 * Why `proxy` is not a usable proxy URL (`http(s)://[user:password@]host[:port]`, nothing
 * after the port), or undefined when it is. The URL is never quoted: the caller shows it masked.
 */
export function proxyUrlProblem(proxy: string): string | undefined {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    return `not a valid URL: ${PERCENT_ENCODE_HINT}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `a proxy URL starts with http:// or https://, not ${url.protocol}//`;
  if (!url.hostname) return 'a proxy URL names a host';
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    // `http://u:se/cret@host` parses as host `u`, port `se`… or as a path: either way not meant.
    return `a proxy URL has nothing after host:port (a path, ? or # here is usually an unencoded character in the password): ${PERCENT_ENCODE_HINT}`;
  }
  return undefined;
}

/**
 * The proxy URL to use for `targetUrl`, or `undefined` to connect directly.
 *
 * @throws {TypeError} when `targetUrl` is not a URL.
 * @throws {ProxyConfigError} when the chosen proxy (explicit or from the environment) is not a
 *   usable proxy URL; the message names `agent.proxy` or the variable (`HTTPS_PROXY`, …).
 */
export function resolveProxy(targetUrl: string, opts: ProxyOptions): string | undefined {
  const env = opts.env ?? process.env;
  const target = parseTarget(targetUrl);
  const noProxy = opts.noProxy ?? getEnv(env, 'no_proxy')[1];
  if (!target || isNoProxy(target.hostname, target.port, noProxy)) return undefined;

  if (opts.proxy !== undefined && opts.proxy !== '') return checked(opts.proxy, opts.proxySource ?? 'proxy');
  let [name, fromEnv] = getEnv(env, `${target.proto}_proxy`);
  if (!fromEnv) [name, fromEnv] = getEnv(env, 'all_proxy');
  if (!fromEnv) return undefined;
  // proxy-from-env would prefix the *target's* scheme (`https://proxy:3128` for a wss hub),
  // i.e. speak TLS to a plain proxy. curl, Go and Python default a scheme-less proxy to
  // http://, which is what `HTTPS_PROXY=proxy.corp:3128` means in practice.
  return checked(/^[a-z][a-z0-9+.-]*:\/\//i.test(fromEnv) ? fromEnv : `http://${fromEnv}`, name);
}

function checked(proxy: string, source: string): string {
  const problem = proxyUrlProblem(proxy);
  if (problem !== undefined) throw new ProxyConfigError(source, `${problem}, got ${JSON.stringify(redactUrl(proxy))}`);
  return proxy;
}

// ---------------------------------------------------------------------------------------------
// Masking. Where a URL's userinfo ends is decided for secrecy, not by the URL parser: a
// password may hold unencoded `@ / : # ?` or spaces (then `new URL` fails, or reads part of the
// password as host, port or path). The userinfo ends at the LAST `@` that is followed by
// something host-like (`name`, `1.2.3.4`, `[v6]`, optional `:port`, then the end or `/?#`);
// without such an `@`, at the last `@` before the first `/?#`. So `http://u:p@ss:w/rd@host`
// shows as `http://***:***@host`. A URL whose path or query holds `…@word` is masked up to
// there too: better a hidden path than a shown password.

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const HOST_AFTER_AT = /^(?:\[[0-9a-f:.]+\]|[a-z0-9._~!$&'()*+,;=%-]+)(?::\d*)?(?=$|[/?#\s])/i;

/**
 * Where the userinfo of `url` is: `[start, end)` with `url[end] === '@'`, or undefined when it
 * has none. `start` is after `scheme://` (0 for a scheme-less `user:pass@host`).
 */
export function userinfoSpan(url: string): { start: number; end: number } | undefined {
  const start = SCHEME.exec(url)?.[0].length ?? 0;
  let at = url.lastIndexOf('@');
  while (at >= start) {
    if (HOST_AFTER_AT.test(url.slice(at + 1))) return { start, end: at };
    at = url.lastIndexOf('@', at - 1);
  }
  const authorityEnd = url.slice(start).search(/[/?#]/);
  const authority = authorityEnd < 0 ? url.slice(start) : url.slice(start, start + authorityEnd);
  const inAuthority = authority.lastIndexOf('@');
  return inAuthority < 0 ? undefined : { start, end: start + inAuthority };
}

/** Replaces the userinfo of a URL with `***:***` so credentials stay out of logs; the rest is kept byte for byte. */
export function redactUrl(url: string): string {
  const span = userinfoSpan(url);
  return span === undefined ? url : `${url.slice(0, span.start)}***:***${url.slice(span.end)}`;
}

/**
 * Every `scheme://user:pass@host` in a free text → `scheme://***:***@host`. In a text a URL
 * ends at white space or a quote, so a password with an unencoded space cannot be found here:
 * mask such secrets by value as well (check's scrubber does).
 */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*/gi, (url) => redactUrl(url));
}

/**
 * The password of a proxy URL (raw as written and percent-decoded), for scrubbers that mask
 * secrets by value; empty when it has none. Works on URLs the parser refuses, too.
 */
export function urlPasswords(url: string): string[] {
  const span = userinfoSpan(url);
  if (span === undefined) return [];
  const userinfo = url.slice(span.start, span.end);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return [];
  const raw = userinfo.slice(colon + 1);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // A stray `%` in a password: only the raw form exists.
  }
  return [...new Set([raw, decoded])].filter((p) => p !== '');
}

// ---------------------------------------------------------------------------------------------
// Environment rules. proxy-from-env 2.x reads only `process.env` and takes no env argument, so
// its rules are reproduced here (a test checks parity against it), with two deliberate changes:
// `ws:`/`wss:` are mapped to `http:`/`https:` first (proxy-from-env would look up WSS_PROXY and
// ignore HTTPS_PROXY), and a scheme-less proxy defaults to `http://` (see resolveProxy).

interface Target {
  /** Scheme used for the `<proto>_proxy` lookup, after the ws→http mapping. */
  proto: string;
  /** Host as in `URL.host` minus the port: IPv6 keeps its brackets, like proxy-from-env. */
  hostname: string;
  port: number;
}

function parseTarget(targetUrl: string): Target | undefined {
  let url: URL;
  try {
    url = new URL(targetUrl);
  } catch {
    throw new TypeError(`invalid target URL ${JSON.stringify(redactUrl(targetUrl))}`);
  }
  if (!url.host) return undefined; // proxy-from-env: no host → no proxy
  const scheme = url.protocol.slice(0, -1);
  const proto = scheme === 'wss' ? 'https' : scheme === 'ws' ? 'http' : scheme;
  const hostname = url.host.replace(/:\d*$/, '');
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[scheme] || 0;
  return { proto, hostname, port };
}

/**
 * `[name, value]`: the lower-case name first, then upper-case; empty counts as unset (as in
 * proxy-from-env). The name is the one found, for messages.
 */
function getEnv(env: NodeJS.ProcessEnv, key: string): [string, string] {
  const lower = key.toLowerCase();
  const upper = key.toUpperCase();
  if (env[lower]) return [lower, env[lower]];
  return [upper, env[upper] ?? ''];
}
