/**
 * The SCIM HTTP client of one data source: builds requests (RFC 7644 §3.1 media type
 * `application/scim+json`, JSON bodies, `If-Match`), authenticates them, re-sends once after a
 * 401 when the credential can be renewed (OAuth), retries idempotent requests (retry.ts), and
 * maps every failure to a `ProtocolError` once, at the end (errors.ts).
 *
 * Everything is a cold Observable; unsubscribing aborts the request in flight, a wait between
 * retries, or a token request nobody else is waiting for.
 */
import { catchError, defer, of, switchMap, throwError, type Observable, type SchedulerLike } from 'rxjs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { redactUrl } from '../../support/proxy-url.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { Authenticator } from './auth.js';
import { scrub, ScimResponseError, toProtocolError } from './errors.js';
import { IDEMPOTENT_METHODS, retryIdempotent, type RetryPolicy } from './retry.js';
import { exchange, scimUrl, type Dispatchers, type RawRequest, type RawResponse } from './transport.js';

export const SCIM_MEDIA_TYPE = 'application/scim+json';

export interface ScimRequest {
  readonly method: RawRequest['method'];
  /** Relative to the base URL: `/Users`, `/Users/2819c223…` (segments already encoded). */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  /** Serialised as JSON. */
  readonly body?: unknown;
  /** `If-Match` (RFC 7644 §3.14). */
  readonly ifMatch?: string;
}

export interface ScimResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body; `undefined` when empty (204). */
  readonly body: unknown;
  /** The body's bytes as received (`search` takes resources from them without re-serialising). */
  readonly bytes: Buffer;
}

export interface ScimClientDeps {
  readonly baseUrl: string;
  readonly dispatchers: Dispatchers;
  readonly auth: Authenticator;
  readonly maxResponseBytes: number;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly scheduler: SchedulerLike;
  /** Config secrets (password, token, client secret). */
  readonly secrets: readonly string[];
  readonly log: Logger;
}

export class ScimClient {
  constructor(private readonly deps: ScimClientDeps) {}

  get baseUrl(): string {
    return this.deps.baseUrl;
  }

  /** Values that must never appear in messages: config secrets and current tokens. */
  secrets(): string[] {
    return [...this.deps.secrets, ...this.deps.auth.secrets()];
  }

  /**
   * One SCIM request. Emits the response (2xx) and completes; any other status (redirects are
   * not followed), a transport failure or a body that is not JSON errors with a `ProtocolError`.
   */
  request(req: ScimRequest, context: ProtocolErrorContext = {}): Observable<ScimResponse> {
    const { deps } = this;
    const operation = `${req.method} ${req.path}`;
    const ctx: ProtocolErrorContext = { ...context, url: redactUrl(deps.baseUrl) };
    return defer(() => {
      const url = scimUrl(deps.baseUrl, req.path, req.query);
      const body = req.body === undefined ? undefined : JSON.stringify(req.body);
      const headers: Record<string, string> = {
        accept: SCIM_MEDIA_TYPE,
        ...(body === undefined ? {} : { 'content-type': SCIM_MEDIA_TYPE }),
        ...(req.ifMatch === undefined ? {} : { 'if-match': req.ifMatch }),
      };
      const dispatcher = deps.dispatchers.for(url);

      const send = (renewOn401: boolean): Observable<RawResponse> =>
        deps.auth.header(ctx).pipe(
          switchMap((authorization) =>
            exchange(dispatcher, { method: req.method, url, headers: authorization === undefined ? headers : { ...headers, authorization }, ...(body === undefined ? {} : { body }) }, deps.maxResponseBytes).pipe(
              switchMap((res) => {
                if (res.status === 401 && renewOn401 && deps.auth.refreshable) {
                  // The token may have been revoked or expired early: renew it once.
                  deps.auth.invalidate(authorization);
                  deps.log.debug({ requestId: context.requestId, operation }, 'SCIM 401: renewing the access token');
                  return send(false);
                }
                // Redirects are not followed (a 302 to a login page is a misconfiguration, not data).
                if (res.status >= 300) return throwError(() => new ScimResponseError(req.method, req.path, res.status, res.headers, res.body, res.text));
                return of(res);
              }),
            ),
          ),
        );

      let attempt$ = send(true);
      if (IDEMPOTENT_METHODS.has(req.method)) {
        attempt$ = attempt$.pipe(
          retryIdempotent({
            policy: deps.retry,
            scheduler: deps.scheduler,
            onRetry: (err, retryCount, delayMs) =>
              deps.log.info(
                { requestId: context.requestId, operation, attempt: retryCount + 1, delayMs, status: err instanceof ScimResponseError ? err.status : undefined },
                'SCIM request failed, retrying',
              ),
          }),
        );
      }
      return attempt$.pipe(
        switchMap((res): Observable<ScimResponse> => {
          if (res.notJson) {
            const text = scrub(res.text.slice(0, 200), this.secrets());
            return throwError(() => new ProtocolError('UPSTREAM_ERROR', `${ctx.url ?? ''} ${operation}: response is not JSON: ${text}`, ctx));
          }
          return of({ status: res.status, headers: res.headers, body: res.body, bytes: res.bytes });
        }),
      );
    }).pipe(catchError((err: unknown) => throwError(() => toProtocolError(err, ctx, { operation, secrets: this.secrets(), timeoutMs: deps.timeoutMs }))));
  }

  close(): Promise<void> {
    return this.deps.dispatchers.close();
  }
}

/** `ETag` header (RFC 7644 §3.14), when the provider sends one. */
export function etagOf(headers: IncomingHttpHeaders): string | undefined {
  const v = headers.etag;
  return typeof v === 'string' && v !== '' ? v : undefined;
}
