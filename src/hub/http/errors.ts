/**
 * How failures look over the HTTP API: `{code, message, requestId, retryable}` with a fitting
 * status. Protocol codes (docs/errors.md) keep their names; the API adds a few of its own for
 * what only HTTP can get wrong (auth, body size, media type, rate).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, ProtocolError, type ErrorCode } from '../../protocol/index.js';

/** Codes only the HTTP API produces, with their status and retryability. */
export const API_ERROR_CODES = {
  UNAUTHORIZED: { status: 401, retryable: false, meaning: 'no, malformed or unknown API token' },
  NO_SUCH_ROUTE: { status: 404, retryable: false, meaning: 'no such endpoint' },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false, meaning: 'the path exists, not with this method (the Allow header lists its methods)' },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, meaning: 'the request body or one NDJSON line is over the configured limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, meaning: 'wrong Content-Type for this endpoint' },
  TOO_MANY_REQUESTS: { status: 429, retryable: true, meaning: "the tenant's API requests in flight are at api.maxInFlightPerTenant" },
} as const;
export type ApiErrorCode = keyof typeof API_ERROR_CODES;

/** HTTP status for each protocol error code. */
export const STATUS_OF: Record<ErrorCode, number> = {
  BAD_FRAME: 502,
  BAD_REQUEST: 400,
  UNKNOWN_DATA_SOURCE: 404,
  OPERATION_NOT_ALLOWED: 403,
  TIMEOUT: 504,
  CANCELLED: 499,
  BUSY: 503,
  UPSTREAM_UNAVAILABLE: 502,
  UPSTREAM_AUTH_FAILED: 502,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONSTRAINT_VIOLATION: 422,
  SIZE_LIMIT_EXCEEDED: 422,
  UPSTREAM_ERROR: 502,
  AGENT_DISCONNECTED: 503,
  INTERNAL: 500,
  IDEMPOTENCY_NOT_SUPPORTED: 422,
  IDEMPOTENCY_MISMATCH: 409,
  OUTCOME_UNKNOWN: 502,
};

export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly requestId: string;
}

/** An API-level failure (not from the agent). */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** For a retryable 429/503: the `Retry-After` to send (default 1 s), e.g. the rest of a penalty window. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return API_ERROR_CODES[this.code].status;
  }
}

/** What an endpoint takes: JSON bodies everywhere, NDJSON for export (its synonyms accepted too). */
export function expectedContentType(route: string | undefined): string {
  return route?.endsWith('/export') === true ? 'application/x-ndjson' : 'application/json';
}

/** The request's media types, for a 415's message. */
export interface MediaTypes {
  /** What the endpoint takes. */
  readonly expected: string;
  /** The Content-Type header as sent, if any. */
  readonly sent?: string | undefined;
}

/**
 * The status and body for any failure; unknown errors are INTERNAL with a neutral message.
 * A 415 names the Content-Type sent and the one the endpoint takes.
 */
export function describeFailure(
  err: unknown,
  requestId: string,
  media: MediaTypes = { expected: 'application/json' },
): { status: number; body: ApiErrorBody; internal: boolean } {
  if (err instanceof ProtocolError) {
    return { status: STATUS_OF[err.code], body: { code: err.code, message: err.message, retryable: err.retryable, requestId }, internal: err.code === 'INTERNAL' };
  }
  if (err instanceof ApiError) {
    return { status: err.status, body: { code: err.code, message: err.message, retryable: API_ERROR_CODES[err.code].retryable, requestId }, internal: false };
  }
  const fe = err as Partial<FastifyError> | undefined;
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 413) return fromStatus('PAYLOAD_TOO_LARGE', fe?.message ?? 'body too large', requestId);
  if (status === 415) return fromStatus('UNSUPPORTED_MEDIA_TYPE', unsupportedType(media), requestId);
  if (status >= 400 && status < 500) {
    return { status: 400, body: { code: 'BAD_REQUEST', message: fe?.message ?? 'bad request', retryable: false, requestId }, internal: false };
  }
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error in the hub (see its log)', retryable: ERROR_CODES.INTERNAL.retryable, requestId }, internal: true };
}

/** `Content-Type text/plain is not accepted here: send Content-Type: application/json`. */
export function unsupportedType(media: MediaTypes): string {
  const sent = media.sent?.trim();
  const what = sent === undefined || sent === '' ? 'a body without a Content-Type' : `Content-Type ${JSON.stringify(sent.slice(0, 100))}`;
  return `${what} is not accepted here: send Content-Type: ${media.expected}`;
}

function fromStatus(code: ApiErrorCode, message: string, requestId: string): { status: number; body: ApiErrorBody; internal: boolean } {
  return { status: API_ERROR_CODES[code].status, body: { code, message, retryable: API_ERROR_CODES[code].retryable, requestId }, internal: false };
}

/** Fastify error handler: every failure answered as `{code, message, retryable, requestId}`. */
export function sendFailure(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body, internal } = describeFailure(err, req.id, { expected: expectedContentType(req.routeOptions.url), sent: req.headers['content-type'] });
  if (internal) req.log.error({ err }, 'API request failed unexpectedly');
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="datasync-hub"');
  if (body.retryable && (status === 503 || status === 429)) void reply.header('retry-after', String(retryAfterOf(err)));
  void reply.code(status).type('application/json').send(body);
}

/** Seconds for `Retry-After`: what the error says (a penalty window's rest), else 1. */
export function retryAfterOf(err: unknown): number {
  return err instanceof ApiError && err.retryAfterSeconds !== undefined ? Math.max(1, Math.ceil(err.retryAfterSeconds)) : 1;
}
