/**
 * SCIM failures → protocol errors, decided once in one lookup table.
 *
 * A SCIM service provider answers a failed request with an HTTP status and, usually, an error
 * body (RFC 7644 §3.12: `schemas: [urn:ietf:params:scim:api:messages:2.0:Error]`, `status`,
 * `scimType`, `detail`). The table is keyed by `status:scimType` first, then by `status`; every
 * mapped error keeps the server's `detail` in its message and says what the server answered in
 * `details` (`httpStatus`, `scimType`), so a caller can tell, e.g., a uniqueness conflict from
 * a version mismatch.
 *
 * Transport failures (undici / Node socket errors, timeouts) and TLS refusals are mapped here
 * too; `ScimResponseError` and `ResponseTooLargeError` are the adapter's own intermediate errors
 * and never leave it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { ErrorCode } from '../../protocol/error-codes.js';
import { ScimErrorBody, isValid } from './codecs.js';
import { SOCKET_ERROR_CODES } from '../../adapter-kit/decode.js';
import { scrub } from '../../adapter-kit/scrub.js';

// The shared scrubber, for the client's own messages (one rule for every adapter).
export { scrub };

export interface StatusMapping {
  readonly code: ErrorCode;
  /** Overrides the code's default `retryable`. */
  readonly retryable?: boolean;
}

/**
 * HTTP status (and RFC 7644 §3.12 `scimType`) → protocol code. Keys are `'<status>'` or
 * `'<status>:<scimType>'`; a status not listed maps by class (see {@link mappingFor}).
 *
 * Decisions worth knowing:
 * - 401 and 403 → UPSTREAM_AUTH_FAILED: the provider refuses the configured credentials or
 *   what they are allowed to do. (403 `sensitive` is the caller's request, not the
 *   credentials: BAD_REQUEST.)
 * - 409 `uniqueness` → ALREADY_EXISTS; any other 409 (and 412, a failed `If-Match`: the
 *   resource changed since `version`) → CONSTRAINT_VIOLATION.
 * - 400 `mutability` / `uniqueness` → CONSTRAINT_VIOLATION: the data is well-formed but the
 *   schema refuses the change; every other 400 is the caller's request → BAD_REQUEST.
 * - RFC 9865 cursor paging: 400 `invalidCursor` (a cursor the provider does not know) and
 *   `invalidCount` → BAD_REQUEST. 400 `expiredCursor` (the provider dropped the cursor, e.g.
 *   after its `cursorTimeout` while the consumer was slow) → UPSTREAM_ERROR, **retryable**:
 *   the adapter never re-sends the expired cursor (it is a 400, not retried by the client), but
 *   the caller may run the same search again — it starts a fresh cursor from the beginning.
 * - 413 → SIZE_LIMIT_EXCEEDED (RFC 7644 §3.7.4: payload or operations over the limits).
 * - 429 and 5xx → UPSTREAM_UNAVAILABLE, retryable — except 501 Not Implemented (the provider
 *   does not support e.g. PATCH; retrying cannot help) → OPERATION_NOT_ALLOWED.
 */
export const STATUS_CODES: Readonly<Record<string, StatusMapping>> = {
  '400': { code: 'BAD_REQUEST' },
  '400:invalidFilter': { code: 'BAD_REQUEST' },
  '400:tooMany': { code: 'BAD_REQUEST' },
  '400:invalidSyntax': { code: 'BAD_REQUEST' },
  '400:invalidPath': { code: 'BAD_REQUEST' },
  '400:noTarget': { code: 'BAD_REQUEST' },
  '400:invalidValue': { code: 'BAD_REQUEST' },
  '400:invalidVers': { code: 'BAD_REQUEST' },
  '400:invalidCursor': { code: 'BAD_REQUEST' },
  '400:invalidCount': { code: 'BAD_REQUEST' },
  '400:expiredCursor': { code: 'UPSTREAM_ERROR', retryable: true },
  '400:mutability': { code: 'CONSTRAINT_VIOLATION' },
  '400:uniqueness': { code: 'CONSTRAINT_VIOLATION' },
  '401': { code: 'UPSTREAM_AUTH_FAILED' },
  '403': { code: 'UPSTREAM_AUTH_FAILED' },
  '403:sensitive': { code: 'BAD_REQUEST' },
  '404': { code: 'NOT_FOUND' },
  '409': { code: 'CONSTRAINT_VIOLATION' },
  '409:uniqueness': { code: 'ALREADY_EXISTS' },
  '412': { code: 'CONSTRAINT_VIOLATION' },
  '413': { code: 'SIZE_LIMIT_EXCEEDED' },
  '429': { code: 'UPSTREAM_UNAVAILABLE', retryable: true },
  '500': { code: 'UPSTREAM_UNAVAILABLE', retryable: true },
  '501': { code: 'OPERATION_NOT_ALLOWED', retryable: false },
  '502': { code: 'UPSTREAM_UNAVAILABLE', retryable: true },
  '503': { code: 'UPSTREAM_UNAVAILABLE', retryable: true },
  '504': { code: 'UPSTREAM_UNAVAILABLE', retryable: true },
};

/** The row for `status` / `scimType`: exact, then status, then class (3xx/4xx UPSTREAM_ERROR, 5xx UNAVAILABLE). */
export function mappingFor(status: number, scimType?: string): StatusMapping {
  const exact = scimType === undefined ? undefined : STATUS_CODES[`${status}:${scimType}`];
  if (exact !== undefined) return exact;
  const row = STATUS_CODES[String(status)];
  if (row !== undefined) return row;
  if (status >= 500) return { code: 'UPSTREAM_UNAVAILABLE', retryable: true };
  return { code: 'UPSTREAM_ERROR' };
}

/** A response with a status other than 2xx (before mapping). */
export class ScimResponseError extends Error {
  override readonly name = 'ScimResponseError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    /** Parsed JSON body, if the body was JSON. */
    readonly body: unknown,
    /** Start of the body as text (for non-JSON error pages, e.g. from a proxy). */
    readonly text: string,
  ) {
    super(`HTTP ${status} for ${method} ${path}`);
  }

  /** RFC 7644 §3.12 `scimType` and `detail`, when the body is a SCIM error. */
  get scim(): { scimType?: string; detail?: string } {
    if (!isValid(ScimErrorBody, this.body)) return {};
    const b = this.body;
    return { ...(b.scimType === undefined ? {} : { scimType: b.scimType }), ...(b.detail === undefined ? {} : { detail: b.detail }) };
  }
}

/** A response body over the adapter's size cap (`maxResponseBytes`). */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(readonly limit: number) {
    super(`response body larger than ${limit} bytes`);
  }
}

/** Node / undici error codes meaning "could not reach, or lost, the server". */
const TRANSPORT_CODES = new Set([
  ...SOCKET_ERROR_CODES,
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_PRX_TLS',
]);

/** undici timeouts: `timeoutMs` passed waiting for the connection, the headers or the body. */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** TLS verification failures: the server was reached but not trusted — retrying will not help. */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_|HOSTNAME_MISMATCH)/;

/** undici's ProxyAgent refuses a CONNECT answered with anything but 200 (undici 7). */
const PROXY_REFUSAL = /Proxy response \((\d{3})\)/;

/** The `code` of an error, also of the first error of an AggregateError (Happy Eyeballs). */
export function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  if ('code' in err && typeof err.code === 'string') return err.code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const c = errorCodeOf(inner);
      if (c !== undefined) return c;
    }
  }
  return undefined;
}

/** Is `err` a failure to reach the server (no response at all), as opposed to a timeout? */
export function isConnectionFailure(err: unknown): boolean {
  const code = errorCodeOf(err);
  return code !== undefined && TRANSPORT_CODES.has(code);
}

export interface ToProtocolErrorOptions {
  /** What was being done, e.g. `GET /Users` (prefixed to the message). */
  readonly operation?: string;
  /** Strings that must never appear in a message (token, password, client secret); see `../scrub.ts`. */
  readonly secrets?: readonly string[];
  /** `timeoutMs`, quoted in timeout messages. */
  readonly timeoutMs?: number;
}

function shorten(text: string, max = 300): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}

/** Maps anything a SCIM call threw to a `ProtocolError` (a `ProtocolError` passes through). */
export function toProtocolError(err: unknown, context: ProtocolErrorContext = {}, options: ToProtocolErrorOptions = {}): ProtocolError {
  if (err instanceof ProtocolError) return err;
  const where = [context.url, options.operation].filter((s) => s !== undefined && s !== '').join(' ');
  const prefix = where === '' ? '' : `${where}: `;
  const say = (m: string): string => scrub(prefix + m, options.secrets);

  if (err instanceof ScimResponseError) {
    const { scimType, detail } = err.scim;
    const mapping = mappingFor(err.status, scimType);
    const text = detail ?? (err.text === '' ? undefined : shorten(err.text));
    const details = { ...context.details, httpStatus: err.status, ...(scimType === undefined ? {} : { scimType }) };
    const opts = mapping.retryable === undefined ? { cause: err } : { cause: err, retryable: mapping.retryable };
    const location = err.headers.location;
    const redirect = err.status < 400 && typeof location === 'string' ? ` (redirect to ${location} not followed)` : '';
    const message = `SCIM HTTP ${err.status}${scimType === undefined ? '' : ` ${scimType}`}${redirect}${text === undefined ? '' : `: ${text}`}`;
    return new ProtocolError(mapping.code, say(message), { ...context, details }, opts);
  }
  if (err instanceof ResponseTooLargeError) {
    return new ProtocolError('SIZE_LIMIT_EXCEEDED', say(`${err.message} (ask for fewer resources per page or fewer attributes)`), context, { cause: err });
  }

  const message = err instanceof Error ? err.message : String(err);
  const code = errorCodeOf(err);
  if (code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR' || code === 'UND_ERR_ABORT') {
    const proxy = PROXY_REFUSAL.exec(message);
    if (proxy !== null) {
      const status = Number(proxy[1]);
      return status === 407
        ? new ProtocolError('UPSTREAM_AUTH_FAILED', say(`the proxy refused the credentials (HTTP 407)`), context, { cause: err })
        : new ProtocolError('UPSTREAM_UNAVAILABLE', say(`the proxy refused the tunnel (HTTP ${status})`), context, { cause: err, retryable: true });
    }
    return new ProtocolError('CANCELLED', say('request aborted'), context, { cause: err });
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    const after = options.timeoutMs === undefined ? '' : ` after ${options.timeoutMs} ms`;
    return new ProtocolError('UPSTREAM_UNAVAILABLE', say(`SCIM server timed out${after} (${code})`), context, { cause: err, retryable: true });
  }
  if (code !== undefined && TLS_CODES.test(code)) {
    return new ProtocolError('UPSTREAM_UNAVAILABLE', say(`TLS connection refused (${code}): ${message}`), context, { cause: err, retryable: false });
  }
  if (code !== undefined && TRANSPORT_CODES.has(code)) {
    const text = message === '' ? code : message;
    return new ProtocolError('UPSTREAM_UNAVAILABLE', say(`SCIM server unreachable: ${text}`), context, { cause: err, retryable: true });
  }
  return new ProtocolError('UPSTREAM_ERROR', say(`SCIM error: ${message}`), context, { cause: err });
}
