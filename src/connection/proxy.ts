/**
 * The proxy tunnel (HTTP CONNECT) of the hub connection: an `http.Agent` for the proxy that
 * `resolveProxy` (`support/proxy-url.ts`) chooses, carrying the client TLS options through it,
 * and turning every failure before the tunnel stands — a CONNECT answered with anything but
 * 200, or no answer at all — into a {@link ProxyTunnelError}, so it is never mistaken for the
 * hub's own answer.
 */
import type { Agent } from 'node:http';
import type { Socket } from 'node:net';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { redactUrl, resolveProxy, type ProxyOptions } from '../support/proxy-url.js';
import type { ClientTlsOptions } from '../support/tls-stores.js';
import { ProxyTunnelError } from './errors.js';

export interface ProxyAgentOptions extends ProxyOptions {
  /** TLS options for the connection to the target, tunnelled through the proxy. */
  tls?: ClientTlsOptions;
}

/**
 * An `http.Agent` that tunnels through the proxy chosen by {@link resolveProxy} (HTTP CONNECT),
 * or `undefined` for a direct connection. Credentials in the proxy URL are sent as
 * `Proxy-Authorization: Basic …` (percent-decoded). A refused or failed CONNECT fails the
 * request with a {@link ProxyTunnelError} (`error` in `ws`), never with an HTTP response.
 *
 * @throws {ProxyConfigError} when the chosen proxy URL is not usable.
 */
export function proxyAgent(targetUrl: string, opts: ProxyAgentOptions): Agent | undefined {
  const proxy = resolveProxy(targetUrl, opts);
  if (proxy === undefined) return undefined;
  return new TunnelAgent(proxy, opts.tls ?? {});
}

type ConnectArgs = Parameters<HttpsProxyAgent<string>['connect']>;

/** The CONNECT answer `https-proxy-agent` emits as `proxyConnect` on the request. */
interface ConnectAnswer {
  readonly statusCode: number;
  readonly statusText: string;
}

/** The proxy URL of an `http.Agent` made by {@link proxyAgent}, userinfo masked; undefined for others. */
export function shownProxyOf(agent: Agent | undefined): string | undefined {
  return agent instanceof TunnelAgent ? agent.shownProxy : undefined;
}

/**
 * `HttpsProxyAgent` uses its constructor options for the socket *to the proxy* and the request's
 * options for the TLS session *through* it. Carrying the client TLS options here fills in the
 * latter, so mTLS through the proxy works no matter whether the caller also passes them per
 * request (per-request values win). Only `ca` goes to the proxy socket, for an `https://` proxy
 * signed by a private CA; the client certificate is for the hub, not the proxy.
 */
class TunnelAgent extends HttpsProxyAgent<string> {
  readonly #targetTls: ClientTlsOptions;
  /** The proxy URL as it may be shown (userinfo masked). */
  readonly shownProxy: string;

  constructor(proxy: string, targetTls: ClientTlsOptions) {
    super(proxy, targetTls.ca !== undefined ? { ca: targetTls.ca } : {});
    this.#targetTls = targetTls;
    this.shownProxy = redactUrl(proxy);
  }

  override async connect(req: ConnectArgs[0], opts: ConnectArgs[1]): Promise<Socket> {
    const given: Readonly<Partial<Record<string, unknown>>> = { ...opts };
    const missing: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.#targetTls)) {
      if (given[k] === undefined) missing[k] = v;
    }
    const target = `${opts.host?.includes(':') ? `[${opts.host}]` : opts.host ?? '?'}:${opts.port}`;
    // https-proxy-agent hands a non-200 answer on as a fake socket replaying the proxy's
    // response, which the HTTP client would then read as the hub's answer: record the CONNECT
    // outcome instead and fail the request with it.
    let answer: ConnectAnswer | undefined;
    const onAnswer = (a: ConnectAnswer): void => {
      answer = a;
    };
    req.once('proxyConnect', onAnswer);
    let socket: Socket;
    try {
      socket = await super.connect(req, Object.assign({}, opts, missing));
    } catch (err) {
      // No answer yet: the proxy is unreachable, or closed or broke the connection. After an
      // answer, an error is about the target (e.g. TLS options) and is left as it is.
      if (answer === undefined) throw new ProxyTunnelError(this.shownProxy, target, undefined, { cause: err });
      throw err;
    } finally {
      req.removeListener('proxyConnect', onAnswer);
    }
    if (answer !== undefined && answer.statusCode !== 200) {
      socket.destroy();
      throw new ProxyTunnelError(this.shownProxy, target, { status: answer.statusCode, reason: answer.statusText });
    }
    return socket;
  }
}
