/**
 * The error-table helper: one function from anything an upstream throws to a coded, scrubbed
 * `ProtocolError` — the same rules the built-in adapters follow:
 *
 * - a `ProtocolError` (of any copy of this package) passes through;
 * - the adapter's own rules are tried in order (first match wins);
 * - a Node socket error (`SOCKET_ERROR_CODES`) is `UPSTREAM_UNAVAILABLE`, retryable;
 * - anything else is the fallback (default `UPSTREAM_ERROR`);
 * - every message has the data source's secrets scrubbed (`scrub.ts`), and keeps its cause.
 */
import { isProtocolError, ProtocolError, type ProtocolErrorContext } from '../protocol/errors.js';
import type { ErrorCode } from '../protocol/error-codes.js';
import { SOCKET_ERROR_CODES } from './decode.js';
import { scrubber } from './scrub.js';

export interface ErrorRule {
  /** Does this rule apply? (e.g. `(e) => e.code === '28P01'`). */
  readonly match: (err: unknown) => boolean;
  readonly code: ErrorCode;
  /** Overrides the code's default `retryable`. */
  readonly retryable?: boolean;
  /** The message (default: the error's own message). */
  readonly message?: (err: unknown) => string;
  /** Extra `details` for the error frame (e.g. the upstream's own error code). */
  readonly details?: (err: unknown) => Record<string, unknown>;
}

export interface ErrorTableOptions {
  /** The secrets the upstream might echo (passwords, tokens): redacted from every message. */
  readonly secrets?: readonly string[];
  /** The code of an error no rule matched (default `UPSTREAM_ERROR`). */
  readonly fallback?: ErrorCode;
}

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const errnoOf = (err: unknown): unknown => (typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined);

export function errorTable(rules: readonly ErrorRule[], options: ErrorTableOptions = {}): (err: unknown, context?: ProtocolErrorContext) => ProtocolError {
  const scrub = scrubber(options.secrets ?? []);
  return (err, context = {}) => {
    if (isProtocolError(err)) {
      return err instanceof ProtocolError ? err : new ProtocolError(err.code as ErrorCode, scrub(err.message), context, { cause: err, retryable: err.retryable });
    }
    const rule = rules.find((r) => r.match(err));
    if (rule !== undefined) {
      const details = rule.details?.(err);
      return new ProtocolError(rule.code, scrub(rule.message?.(err) ?? messageOf(err)), details === undefined ? context : { ...context, details: { ...context.details, ...details } }, {
        cause: err,
        ...(rule.retryable === undefined ? {} : { retryable: rule.retryable }),
      });
    }
    const errno = errnoOf(err);
    if (typeof errno === 'string' && SOCKET_ERROR_CODES.includes(errno)) {
      return new ProtocolError('UPSTREAM_UNAVAILABLE', scrub(`cannot reach the upstream: ${messageOf(err)}`), context, { cause: err });
    }
    return new ProtocolError(options.fallback ?? 'UPSTREAM_ERROR', scrub(messageOf(err)), context, { cause: err });
  };
}
