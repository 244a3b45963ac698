/**
 * How requests authenticate (RFC 7644 §2): a static bearer token, HTTP Basic (RFC 7617), or an
 * OAuth 2.0 access token from the client credentials grant (RFC 6749 §4.4).
 *
 * OAuth: the client authenticates to `tokenUrl` with HTTP Basic (RFC 6749 §2.3.1: client id
 * and secret each form-urlencoded first), asks for `grant_type=client_credentials` (+ `scope`),
 * and the token is cached until `expires_in` minus a margin. Concurrent requests share one
 * token request. A 401 from the SCIM server drops the token that failed, and the request is
 * sent once more with a new one (see client.ts).
 *
 * Secrets (password, client secret, tokens) are never logged; `secrets()` lists them so error
 * messages can be scrubbed should a server echo one back.
 */
import { catchError, defer, finalize, map, of, share, switchMap, tap, throwError, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import { decodeBody, isValid, TokenErrorBody, TokenResponse } from './codecs.js';
import type { ScimDataSourceConfig } from './config.js';
import { toProtocolError } from './errors.js';
import { exchange, type Dispatchers } from './transport.js';

export interface Authenticator {
  /** `Authorization` header value, or `undefined` for none. */
  header(context: ProtocolErrorContext): Observable<string | undefined>;
  /** A 401 with `header` may be cured by a new credential (OAuth only). */
  readonly refreshable: boolean;
  /** Forgets `header` (if it is still the current one) so the next call fetches a new one. */
  invalidate(header: string | undefined): void;
  /** Values that must never appear in messages. */
  secrets(): string[];
}

const form = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');

/** Basic credentials as in RFC 7617 (user-id and password joined by `:`, UTF-8, base64). */
export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** RFC 6749 §2.3.1: the client id and secret are form-urlencoded before Basic encoding. */
export function clientCredentialsHeader(clientId: string, clientSecret: string): string {
  return basicHeader(form(clientId), form(clientSecret));
}

/** How long before `expires_in` a token is renewed: 10 % of its lifetime, at most 60 s. */
export function tokenMarginMs(expiresInS: number): number {
  return Math.min(60_000, expiresInS * 100);
}

function staticAuth(header: string | undefined, secrets: string[]): Authenticator {
  return {
    header: () => of(header),
    refreshable: false,
    invalidate: () => undefined,
    secrets: () => secrets,
  };
}

export interface OAuthDeps {
  readonly dispatchers: Dispatchers;
  readonly maxResponseBytes: number;
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly log: Logger;
}

interface CachedToken {
  readonly header: string;
  /** `now()` after which the token is renewed; `undefined` = until a 401. */
  readonly renewAt: number | undefined;
}

class OAuthClientCredentials implements Authenticator {
  readonly refreshable = true;
  readonly #url: URL;
  readonly #basic: string;
  readonly #body: string;
  #cached: CachedToken | undefined;
  #inflight: Observable<CachedToken> | undefined;
  readonly #issued: string[] = [];

  constructor(
    tokenUrl: string,
    clientId: string,
    private readonly clientSecret: string,
    scope: string | undefined,
    private readonly deps: OAuthDeps,
  ) {
    this.#url = new URL(tokenUrl);
    this.#basic = clientCredentialsHeader(clientId, clientSecret);
    this.#body = `grant_type=client_credentials${scope === undefined || scope === '' ? '' : `&scope=${form(scope)}`}`;
  }

  header(context: ProtocolErrorContext): Observable<string | undefined> {
    return defer(() => {
      const c = this.#cached;
      if (c !== undefined && (c.renewAt === undefined || this.deps.now() < c.renewAt)) return of(c.header);
      this.#inflight ??= this.fetch(context).pipe(
        tap((t) => {
          this.#cached = t;
        }),
        finalize(() => {
          this.#inflight = undefined;
        }),
        // Concurrent requests share one token request; it is aborted only if all of them go.
        share(),
      );
      return this.#inflight.pipe(map((t) => t.header));
    });
  }

  invalidate(header: string | undefined): void {
    if (header !== undefined && this.#cached?.header === header) this.#cached = undefined;
  }

  secrets(): string[] {
    return [this.clientSecret, this.#basic.slice('Basic '.length), ...this.#issued];
  }

  private fetch(context: ProtocolErrorContext): Observable<CachedToken> {
    const ctx = { ...context, url: this.#url.origin + this.#url.pathname };
    const fail = (err: unknown): ProtocolError =>
      toProtocolError(err, ctx, { operation: 'OAuth token request', secrets: this.secrets(), timeoutMs: this.deps.timeoutMs });
    return defer(() =>
      exchange(
        this.deps.dispatchers.for(this.#url),
        {
          method: 'POST',
          url: this.#url,
          headers: { authorization: this.#basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: this.#body,
        },
        this.deps.maxResponseBytes,
      ),
    ).pipe(
      switchMap((res) => {
        if (res.status !== 200) {
          // RFC 6749 §5.2: 400/401 with `error` (invalid_client, invalid_grant, invalid_scope, …)
          // means the configured client is refused; anything else is the server's trouble.
          const oauth = isValid(TokenErrorBody, res.body) ? res.body : {};
          const what = [oauth.error, oauth.error_description].filter((s) => s !== undefined).join(': ');
          const say = `OAuth token endpoint answered HTTP ${res.status}${what === '' ? '' : ` (${what})`}`;
          const code = res.status === 400 || res.status === 401 || res.status === 403 ? 'UPSTREAM_AUTH_FAILED' : res.status >= 500 || res.status === 429 ? 'UPSTREAM_UNAVAILABLE' : 'UPSTREAM_ERROR';
          return throwError(() => new ProtocolError(code, `${ctx.url}: ${say}`, { ...ctx, details: { ...ctx.details, httpStatus: res.status } }));
        }
        const body = decodeBody(TokenResponse, res.body, 'OAuth token response', ctx);
        if (body.token_type.toLowerCase() !== 'bearer') {
          return throwError(() => new ProtocolError('UPSTREAM_AUTH_FAILED', `${ctx.url}: OAuth token_type ${JSON.stringify(body.token_type)} is not supported (expected Bearer)`, ctx));
        }
        this.#issued.splice(0, this.#issued.length, body.access_token);
        const renewAt = body.expires_in === undefined ? undefined : this.deps.now() + body.expires_in * 1000 - tokenMarginMs(body.expires_in);
        this.deps.log.debug({ expiresIn: body.expires_in, scope: body.scope }, 'OAuth access token obtained');
        return of<CachedToken>({ header: `Bearer ${body.access_token}`, renewAt });
      }),
      // Errors of the token request are final for this request (a POST is not retried).
      catchError((err: unknown) => throwError(() => fail(err))),
    );
  }
}

/** The authenticator of a decoded config (the config codec allows at most one method). */
export function createAuthenticator(config: ScimDataSourceConfig, deps: OAuthDeps): Authenticator {
  if (config.bearerToken !== undefined) return staticAuth(`Bearer ${config.bearerToken}`, [config.bearerToken]);
  if (config.userName !== undefined) {
    const header = basicHeader(config.userName, config.password ?? '');
    return staticAuth(header, [config.password ?? '', header.slice('Basic '.length)]);
  }
  if (config.tokenUrl !== undefined && config.clientId !== undefined && config.clientSecret !== undefined) {
    return new OAuthClientCredentials(config.tokenUrl, config.clientId, config.clientSecret, config.scope, deps);
  }
  return staticAuth(undefined, []);
}
