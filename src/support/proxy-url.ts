/**
 * Which proxy an outbound connection goes through, and proxy URLs made safe to show.
 *
 * Precedence:
 * 1. `noProxy` (config) — or, when it is not configured, `NO_PROXY`/`no_proxy` from the
 *    environment — excludes a host. This applies to an explicit `proxy` too: one config file
 *    can set a company proxy while a hub on the local network stays direct.
 * 2. An explicit `proxy` (config) is used for every other host.
 * 3. Otherwise the environment, with the rules of `proxy-from-env` (see `proxyFromEnv`).
 *
 * A neutral leaf (plain URL and environment logic, no sockets): the agent's hub connection
 * (`connection/proxy.ts`) and the data sources that make HTTP calls of their own (SCIM) both
 * choose their proxy here.
 */

export interface ProxyOptions {
  /** Proxy URL, `http://[user:pass@]host:port` (or `https://`). Wins over the environment. */
  proxy?: string;
  /** Comma/space separated host list in `NO_PROXY` syntax; replaces the environment's NO_PROXY. */
  noProxy?: string;
  /** Environment to read `*_PROXY`/`NO_PROXY` from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { ftp: 21, gopher: 70, http: 80, https: 443, ws: 80, wss: 443 };

/**
 * The proxy URL to use for `targetUrl`, or `undefined` to connect directly.
 *
 * @throws {TypeError} when `targetUrl` or the explicit `proxy` is not a usable URL.
 */
export function resolveProxy(targetUrl: string, opts: ProxyOptions): string | undefined {
  const env = opts.env ?? process.env;
  const target = parseTarget(targetUrl);
  const noProxy = opts.noProxy ?? getEnv(env, 'no_proxy');
  if (!target || isNoProxy(target.hostname, target.port, noProxy)) return undefined;

  if (opts.proxy !== undefined && opts.proxy !== '') {
    checkProxyUrl(opts.proxy);
    return opts.proxy;
  }
  const fromEnv = getEnv(env, `${target.proto}_proxy`) || getEnv(env, 'all_proxy');
  if (!fromEnv) return undefined;
  // proxy-from-env would prefix the *target's* scheme (`https://proxy:3128` for a wss hub),
  // i.e. speak TLS to a plain proxy. curl, Go and Python default a scheme-less proxy to
  // http://, which is what `HTTPS_PROXY=proxy.corp:3128` means in practice.
  return fromEnv.includes('://') ? fromEnv : `http://${fromEnv}`;
}

/** Replaces the userinfo of a URL with `***:***` so proxy credentials stay out of logs. */
export function redactUrl(url: string): string {
  // A regex rather than `new URL()`: keeps the rest of the string byte-for-byte, also works for
  // scheme-less `user:pass@host:port`, and greedy `[^/?#]*@` reaches the last `@`, so a
  // password with an unencoded `@` is not half-leaked.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#\s]*@/i, (_m, scheme: string | undefined) => `${scheme ?? ''}***:***@`);
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
  } catch (err) {
    throw new TypeError(`invalid target URL ${JSON.stringify(redactUrl(targetUrl))}`, { cause: err });
  }
  if (!url.host) return undefined; // proxy-from-env: no host → no proxy
  const scheme = url.protocol.slice(0, -1);
  const proto = scheme === 'wss' ? 'https' : scheme === 'ws' ? 'http' : scheme;
  const hostname = url.host.replace(/:\d*$/, '');
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[scheme] || 0;
  return { proto, hostname, port };
}

function checkProxyUrl(proxy: string): void {
  let url: URL | undefined;
  try {
    url = new URL(proxy);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new TypeError(`proxy must be an http:// or https:// URL, got ${JSON.stringify(redactUrl(proxy))}`);
  }
}

/** Lower-case name first, then upper-case; empty counts as unset (as in proxy-from-env). */
function getEnv(env: NodeJS.ProcessEnv, key: string): string {
  return env[key.toLowerCase()] || env[key.toUpperCase()] || '';
}

/**
 * NO_PROXY matching as in proxy-from-env: `*` matches everything; `host` matches exactly;
 * `.example.com` / `*.example.com` match by suffix — and so do NOT match `example.com` itself;
 * `host:port` only for that port.
 */
function isNoProxy(hostname: string, port: number, noProxy: string): boolean {
  const list = noProxy.toLowerCase();
  if (!list) return false;
  if (list === '*') return true;
  return list.split(/[,\s]/).some((entry) => {
    if (!entry) return false;
    const m = /^(.+):(\d+)$/.exec(entry);
    let entryHost = m?.[1] ?? entry;
    const entryPort = m?.[2] !== undefined ? Number.parseInt(m[2], 10) : 0;
    if (entryPort && entryPort !== port) return false;
    if (!/^[.*]/.test(entryHost)) return hostname === entryHost;
    if (entryHost.startsWith('*')) entryHost = entryHost.slice(1);
    return hostname.endsWith(entryHost);
  });
}
