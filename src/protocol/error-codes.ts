/**
 * Protocol error codes, decided once here. `retryable` is the default answer to
 * "may the caller try the same request again later?"; an individual error may override it.
 */
export const ERROR_CODES = {
  BAD_FRAME: { retryable: false, meaning: 'a frame could not be decoded (bad JSON, unknown type, missing field, too large) or broke the protocol (wrong direction, a stream out of sequence or credit)' },
  BAD_REQUEST: { retryable: false, meaning: 'the request is well-formed but its parameters are invalid' },
  UNKNOWN_DATA_SOURCE: { retryable: false, meaning: 'no data source with that name is configured on the agent' },
  OPERATION_NOT_ALLOWED: { retryable: false, meaning: 'the data source does not allow this operation (allow-list) or the target is outside its scope' },
  TIMEOUT: { retryable: true, meaning: 'the request did not finish before its deadline' },
  CANCELLED: { retryable: false, meaning: 'the request was cancelled by the caller or by shutdown' },
  BUSY: { retryable: true, meaning: 'the agent is at its concurrency limit and its queue is full' },
  UPSTREAM_UNAVAILABLE: { retryable: true, meaning: 'the data source could not be reached' },
  UPSTREAM_AUTH_FAILED: { retryable: false, meaning: 'the data source refused the configured credentials' },
  NOT_FOUND: { retryable: false, meaning: 'the entry or resource does not exist' },
  ALREADY_EXISTS: { retryable: false, meaning: 'the entry or resource already exists' },
  CONSTRAINT_VIOLATION: { retryable: false, meaning: 'the data source refused the change (schema, uniqueness, policy)' },
  SIZE_LIMIT_EXCEEDED: { retryable: false, meaning: 'a size limit was reached; the result is truncated' },
  UPSTREAM_ERROR: { retryable: false, meaning: 'the data source failed in a way not covered by another code' },
  AGENT_DISCONNECTED: { retryable: true, meaning: 'the agent serving the request went away (hub side)' },
  INTERNAL: { retryable: false, meaning: 'a bug: an unexpected failure inside the agent or hub' },
  IDEMPOTENCY_NOT_SUPPORTED: { retryable: false, meaning: 'an export carries an idempotency key, but no agent offering the data source keeps an export journal' },
  IDEMPOTENCY_MISMATCH: { retryable: false, meaning: 'a resent export record differs from the record journaled under the same idempotency key and position; it was not written' },
  OUTCOME_UNKNOWN: { retryable: false, meaning: 'the agent stopped while writing this record and cannot tell whether the write was applied; check the data source' },
} as const satisfies Record<string, { retryable: boolean; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

/**
 * Registration refusal codes carried by a `reject` frame (the hub closes afterwards).
 * Kept apart from request error codes: they describe the session, not a request.
 */
export const REJECT_CODES = {
  AUTH_FAILED: 'credentials or client certificate not accepted',
  TENANT_MISMATCH: 'hello.tenantId is not the tenant the credentials belong to',
  UNSUPPORTED_PROTOCOL: 'the hub does not speak the protocol version in hello',
  BAD_HELLO: 'the first frame was not a valid hello',
  REGISTRATION_TIMEOUT: 'no hello arrived in time',
  SHUTTING_DOWN: 'the hub is shutting down',
} as const;

export type RejectCode = keyof typeof REJECT_CODES;

/** WebSocket close codes used by both ends (RFC 6455 §7.4; 4000–4999 are ours). */
export const CLOSE_CODES = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  RESTART: 1012,
  TRY_LATER: 1013,
  REJECTED: 4001,
  REPLACED: 4002,
  REGISTRATION_TIMEOUT: 4003,
} as const;
