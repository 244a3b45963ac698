/**
 * The proxy tunnel (HTTP CONNECT) of the hub connection: an `http.Agent` for the proxy that
 * `resolveProxy` (`support/proxy-url.ts`) chooses, carrying the client TLS options through it.
 */
import type { Agent } from 'node:http';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { resolveProxy, type ProxyOptions } from '../support/proxy-url.js';
import type { ClientTlsOptions } from '../support/tls-stores.js';

export interface ProxyAgentOptions extends ProxyOptions {
  /** TLS options for the connection to the target, tunnelled through the proxy. */
  tls?: ClientTlsOptions;
}

/**
 * An `http.Agent` that tunnels through the proxy chosen by {@link resolveProxy} (HTTP CONNECT),
 * or `undefined` for a direct connection. Credentials in the proxy URL are sent as
 * `Proxy-Authorization: Basic …` (percent-decoded). A 407 from the proxy reaches the caller as
 * an ordinary HTTP response (`unexpected-response` in `ws`).
 */
export function proxyAgent(targetUrl: string, opts: ProxyAgentOptions): Agent | undefined {
  const proxy = resolveProxy(targetUrl, opts);
  if (proxy === undefined) return undefined;
  return new TunnelAgent(proxy, opts.tls ?? {});
}

type ConnectArgs = Parameters<HttpsProxyAgent<string>['connect']>;

/**
 * `HttpsProxyAgent` uses its constructor options for the socket *to the proxy* and the request's
 * options for the TLS session *through* it. Carrying the client TLS options here fills in the
 * latter, so mTLS through the proxy works no matter whether the caller also passes them per
 * request (per-request values win). Only `ca` goes to the proxy socket, for an `https://` proxy
 * signed by a private CA; the client certificate is for the hub, not the proxy.
 */
class TunnelAgent extends HttpsProxyAgent<string> {
  readonly #targetTls: ClientTlsOptions;

  constructor(proxy: string, targetTls: ClientTlsOptions) {
    super(proxy, targetTls.ca !== undefined ? { ca: targetTls.ca } : {});
    this.#targetTls = targetTls;
  }

  override connect(req: ConnectArgs[0], opts: ConnectArgs[1]): ReturnType<HttpsProxyAgent<string>['connect']> {
    const given: Readonly<Partial<Record<string, unknown>>> = { ...opts };
    const missing: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.#targetTls)) {
      if (given[k] === undefined) missing[k] = v;
    }
    return super.connect(req, Object.assign({}, opts, missing));
  }
}
