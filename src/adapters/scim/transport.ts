/**
 * HTTP transport of the SCIM adapter (undici 7): one connection pool per route (direct, or
 * through a proxy), TLS options read once, and a cold `exchange` Observable per request whose
 * unsubscribe aborts the request (undici `signal`).
 *
 * TLS: `tls.ca` is trusted *in addition to* the system roots, so one setting covers a SCIM
 * server and an OAuth token endpoint behind the same private CA while a public token endpoint
 * keeps working. `tls.cert`/`tls.key` are offered when a server asks for a client certificate.
 *
 * Response bodies are read up to `maxResponseBytes` (the whole body is needed to parse JSON;
 * the cap keeps a misbehaving server from filling the agent's memory).
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { rootCertificates } from 'node:tls';
import { Observable } from 'rxjs';
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { redactUrl, resolveProxy } from '../../support/proxy-url.js';
import type { ScimDataSourceConfig } from './config.js';
import { ResponseTooLargeError } from './errors.js';

/** Default cap of a response body: 16 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface RawRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON, or `undefined` for an empty or non-JSON body. */
  readonly body: unknown;
  /** The body as received (a search takes its resources' JSON from these bytes). */
  readonly bytes: Buffer;
  /** The body did not parse as JSON (it was not empty). */
  readonly notJson: boolean;
  /** Start of the body as text, for error messages. */
  readonly text: string;
}

/** The TLS options the adapter sets (a subset of `tls.ConnectionOptions`). */
export interface ScimTlsOptions {
  ca?: string[];
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
}

/** Reads the TLS material of the config once (a missing file fails adapter creation). */
export function tlsOptions(config: ScimDataSourceConfig, log: Logger): ScimTlsOptions {
  const tls = config.tls;
  if (tls === undefined) return {};
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TypeError(`SCIM data source: cannot read tls.${what} ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  const out: ScimTlsOptions = {};
  if (tls.ca !== undefined) out.ca = [...rootCertificates, read('ca', tls.ca).toString('utf8')];
  if (tls.cert !== undefined) out.cert = read('cert', tls.cert);
  if (tls.key !== undefined) out.key = read('key', tls.key);
  if (tls.insecureSkipVerify === true) {
    out.rejectUnauthorized = false;
    log.warn({ baseUrl: redactUrl(config.baseUrl) }, 'TLS certificate verification is OFF for this SCIM data source (insecureSkipVerify: true)');
  }
  return out;
}

export interface DispatcherOptions {
  readonly timeoutMs: number;
  readonly tls: ScimTlsOptions;
  /** Explicit proxy from the config (wins over the environment). */
  readonly proxy?: string;
  /** Environment for `HTTPS_PROXY`/`NO_PROXY`. */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Dispatchers by route: `resolveProxy` decides per target URL (NO_PROXY may exempt the token
 * endpoint but not the SCIM server, or the other way round); each route gets one pool, made on
 * first use and closed by {@link Dispatchers.close}.
 */
/**
 * undici is loaded on the first SCIM request, not at start-up: an agent without SCIM data
 * sources never loads it (it is ~10 MB of an idle agent's memory otherwise).
 */
let undiciModule: typeof import('undici') | undefined;
function undici(): typeof import('undici') {
  undiciModule ??= createRequire(import.meta.url)('undici') as typeof import('undici');
  return undiciModule;
}

export class Dispatchers {
  readonly #byRoute = new Map<string, Dispatcher>();
  #closed = false;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly log: Logger,
  ) {}

  for(url: URL): Dispatcher {
    if (this.#closed) throw new Error('SCIM adapter is closed');
    const proxy = resolveProxy(url.href, { ...(this.options.proxy === undefined ? {} : { proxy: this.options.proxy }), env: this.options.env });
    const route = proxy ?? '';
    let d = this.#byRoute.get(route);
    if (d === undefined) {
      d = this.make(proxy);
      this.#byRoute.set(route, d);
      this.log.debug({ proxy: proxy === undefined ? 'none' : redactUrl(proxy) }, 'SCIM HTTP pool created');
    }
    return d;
  }

  private make(proxy: string | undefined): Dispatcher {
    const { timeoutMs, tls } = this.options;
    const { Agent, ProxyAgent } = undici();
    const common = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs };
    if (proxy === undefined) return new Agent({ ...common, connect: { ...tls, timeout: timeoutMs } });
    // A proxy URL's userinfo becomes Proxy-Authorization (undici). Only the CA goes to the
    // proxy's own TLS (an https:// proxy signed by the same private CA); the client
    // certificate is for the SCIM server, inside the tunnel.
    return new ProxyAgent({
      ...common,
      uri: proxy,
      requestTls: { ...tls, timeout: timeoutMs },
      ...(tls.ca === undefined ? {} : { proxyTls: { ca: tls.ca } }),
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#byRoute.values()];
    this.#byRoute.clear();
    await Promise.all(all.map((d) => d.close().catch(() => undefined)));
  }
}

async function readCapped(body: AsyncIterable<unknown> & { destroy(err?: Error): unknown }, declared: string | string[] | undefined, max: number): Promise<Buffer> {
  const length = typeof declared === 'string' ? Number(declared) : Number.NaN;
  if (Number.isFinite(length) && length > max) {
    body.destroy();
    throw new ResponseTooLargeError(max);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > max) {
      body.destroy();
      throw new ResponseTooLargeError(max);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/**
 * One HTTP exchange, cold: the request starts on subscribe; unsubscribing aborts it (and the
 * body read). Emits one {@link RawResponse} — whatever the status — then completes.
 */
export function exchange(dispatcher: Dispatcher, req: RawRequest, maxResponseBytes: number): Observable<RawResponse> {
  return new Observable<RawResponse>((subscriber) => {
    const abort = new AbortController();
    const run = async (): Promise<RawResponse> => {
      const res = await dispatcher.request({
        origin: req.url.origin,
        path: `${req.url.pathname}${req.url.search}`,
        method: req.method,
        headers: req.headers,
        ...(req.body === undefined ? {} : { body: req.body }),
        signal: abort.signal,
      });
      const buf = await readCapped(res.body, res.headers['content-length'], maxResponseBytes);
      const text = buf.toString('utf8');
      let body: unknown;
      let notJson = false;
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          notJson = true;
        }
      }
      return { status: res.statusCode, headers: res.headers, body, bytes: buf, notJson, text: text.slice(0, 1000) };
    };
    run().then(
      (res) => {
        subscriber.next(res);
        subscriber.complete();
      },
      (err: unknown) => subscriber.error(err),
    );
    return () => abort.abort();
  });
}

/**
 * `baseUrl` + `/Endpoint[/id]` + query; `baseUrl` may end with `/` or not. Query values are
 * percent-encoded with `%20` for spaces (RFC 3986), not the form encoding `+`: a filter such
 * as `userName eq "a b"` must reach providers that do not decode `+` as a space intact.
 */
export function scimUrl(baseUrl: string, path: string, query: Readonly<Record<string, string | number | undefined>> = {}): URL {
  const url = new URL(baseUrl.replace(/\/+$/, '') + path);
  const pairs = Object.entries(query).flatMap(([k, v]) => (v === undefined ? [] : [`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`]));
  url.search = pairs.length === 0 ? '' : `?${pairs.join('&')}`;
  return url;
}
