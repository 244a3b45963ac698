/**
 * LDAP failures → protocol errors, decided once in one lookup table.
 *
 * ldapts throws `ResultCodeError` subclasses carrying the LDAPResult code (RFC 4511 §4.1.9,
 * Appendix A) and plain `Error`s for transport failures. Every mapped error keeps the server's
 * diagnostic message and says which result it was in `details` (`ldapResultCode`,
 * `ldapResultName`), so a caller can tell, e.g., an ACL refusal from the agent's own allow-list.
 * The ldif data source reports its directory's refusals with the same table.
 */
import { ResultCodeError } from 'ldapts';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { ErrorCode } from '../../protocol/error-codes.js';
import { SOCKET_ERROR_CODES } from '../../adapter-kit/decode.js';
import { scrub } from '../../adapter-kit/scrub.js';

export interface ResultCodeMapping {
  /** RFC 4511 name of the result code. */
  readonly name: string;
  readonly code: ErrorCode;
  /** Overrides the code's default `retryable`. */
  readonly retryable?: boolean;
}

/**
 * RFC 4511 Appendix A result codes. Codes not listed map to UPSTREAM_ERROR.
 *
 * Decisions worth knowing:
 * - 50 insufficientAccessRights → OPERATION_NOT_ALLOWED: the directory's ACLs do not let the
 *   configured service account do this; nothing the caller can retry, and not a credential
 *   problem (the bind succeeded). `details.ldapResultCode` tells it apart from the agent's own
 *   allow-list refusal.
 * - 7, 8, 13, 48, 49 (auth method, stronger auth / confidentiality required, inappropriate auth,
 *   invalid credentials) → UPSTREAM_AUTH_FAILED: the server refuses how we authenticate.
 * - 17, 18, 21, 34, 87: the caller's data is malformed for this server → BAD_REQUEST.
 * - 4 sizeLimitExceeded / 11 adminLimitExceeded → SIZE_LIMIT_EXCEEDED (search reports a size
 *   limit as `truncated: true` instead; this mapping is for the other operations).
 * - 51/52/53 busy, unavailable, unwillingToPerform → UPSTREAM_UNAVAILABLE, retryable. (Some
 *   servers also use 53 for policy refusals; the diagnostic message says which.)
 */
export const RESULT_CODES: Readonly<Record<number, ResultCodeMapping>> = {
  1: { name: 'operationsError', code: 'UPSTREAM_ERROR' },
  2: { name: 'protocolError', code: 'UPSTREAM_ERROR' },
  3: { name: 'timeLimitExceeded', code: 'TIMEOUT' },
  4: { name: 'sizeLimitExceeded', code: 'SIZE_LIMIT_EXCEEDED' },
  7: { name: 'authMethodNotSupported', code: 'UPSTREAM_AUTH_FAILED' },
  8: { name: 'strongerAuthRequired', code: 'UPSTREAM_AUTH_FAILED' },
  10: { name: 'referral', code: 'UPSTREAM_ERROR' },
  11: { name: 'adminLimitExceeded', code: 'SIZE_LIMIT_EXCEEDED' },
  12: { name: 'unavailableCriticalExtension', code: 'UPSTREAM_ERROR' },
  13: { name: 'confidentialityRequired', code: 'UPSTREAM_AUTH_FAILED' },
  16: { name: 'noSuchAttribute', code: 'CONSTRAINT_VIOLATION' },
  17: { name: 'undefinedAttributeType', code: 'BAD_REQUEST' },
  18: { name: 'inappropriateMatching', code: 'BAD_REQUEST' },
  19: { name: 'constraintViolation', code: 'CONSTRAINT_VIOLATION' },
  20: { name: 'attributeOrValueExists', code: 'CONSTRAINT_VIOLATION' },
  21: { name: 'invalidAttributeSyntax', code: 'BAD_REQUEST' },
  32: { name: 'noSuchObject', code: 'NOT_FOUND' },
  33: { name: 'aliasProblem', code: 'UPSTREAM_ERROR' },
  34: { name: 'invalidDNSyntax', code: 'BAD_REQUEST' },
  36: { name: 'aliasDereferencingProblem', code: 'UPSTREAM_ERROR' },
  48: { name: 'inappropriateAuthentication', code: 'UPSTREAM_AUTH_FAILED' },
  49: { name: 'invalidCredentials', code: 'UPSTREAM_AUTH_FAILED' },
  50: { name: 'insufficientAccessRights', code: 'OPERATION_NOT_ALLOWED' },
  51: { name: 'busy', code: 'UPSTREAM_UNAVAILABLE', retryable: true },
  52: { name: 'unavailable', code: 'UPSTREAM_UNAVAILABLE', retryable: true },
  53: { name: 'unwillingToPerform', code: 'UPSTREAM_UNAVAILABLE', retryable: true },
  54: { name: 'loopDetect', code: 'UPSTREAM_ERROR' },
  64: { name: 'namingViolation', code: 'CONSTRAINT_VIOLATION' },
  65: { name: 'objectClassViolation', code: 'CONSTRAINT_VIOLATION' },
  66: { name: 'notAllowedOnNonLeaf', code: 'CONSTRAINT_VIOLATION' },
  67: { name: 'notAllowedOnRDN', code: 'CONSTRAINT_VIOLATION' },
  68: { name: 'entryAlreadyExists', code: 'ALREADY_EXISTS' },
  69: { name: 'objectClassModsProhibited', code: 'CONSTRAINT_VIOLATION' },
  71: { name: 'affectsMultipleDSAs', code: 'UPSTREAM_ERROR' },
  80: { name: 'other', code: 'UPSTREAM_ERROR' },
  // Client-side result codes of the C API (RFC 4511 leaves 81+ to implementations).
  87: { name: 'filterError', code: 'BAD_REQUEST' },
};

/** Node socket error codes meaning "could not reach / lost the server". */
const TRANSPORT_CODES = new Set(SOCKET_ERROR_CODES);

/** ldapts' own transport failures are plain Errors; these are their messages (8.2.0). */
const TRANSPORT_MESSAGES =
  /^(Connection timeout|Connection closed before message response was received|Socket error\.|Socket connection not established)|Operation timed out$|socket hang up|connection lost/i;

/** TLS verification failures: the server was reached but not trusted — retrying will not help. */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_|HOSTNAME_MISMATCH)/;

function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** The LDAP result code of an ldapts error, if it is one. */
export function ldapResultCode(err: unknown): number | undefined {
  return err instanceof ResultCodeError && typeof err.code === 'number' ? err.code : undefined;
}

/** ldapts appends ` Code: 0x31` to the server's diagnostic message; keep the diagnostic only. */
function diagnostic(err: Error): string {
  return err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
}

export interface ToProtocolErrorOptions {
  /** What was being done, e.g. `bind` or `search ou=people,…` (prefixed to the message). */
  readonly operation?: string;
  /** Strings that must never appear in a message (the bind password); see `../scrub.ts`. */
  readonly secrets?: readonly string[];
}

/** Maps anything an LDAP call threw to a `ProtocolError` (a `ProtocolError` passes through). */
export function toProtocolError(err: unknown, context: ProtocolErrorContext = {}, options: ToProtocolErrorOptions = {}): ProtocolError {
  if (err instanceof ProtocolError) return err;
  const where = [context.url, options.operation].filter((s) => s !== undefined && s !== '').join(' ');
  const prefix = where === '' ? '' : `${where}: `;
  const say = (m: string): string => scrub(prefix + m, options.secrets);

  const resultCode = ldapResultCode(err);
  if (resultCode !== undefined && err instanceof Error) {
    const mapping = RESULT_CODES[resultCode];
    const name = mapping?.name ?? `resultCode${resultCode}`;
    const diag = diagnostic(err);
    const details = { ...context.details, ldapResultCode: resultCode, ldapResultName: name };
    const opts = mapping?.retryable === undefined ? { cause: err } : { cause: err, retryable: mapping.retryable };
    return new ProtocolError(mapping?.code ?? 'UPSTREAM_ERROR', say(`LDAP ${name} (${resultCode})${diag === '' ? '' : `: ${diag}`}`), { ...context, details }, opts);
  }

  const message = err instanceof Error ? err.message : String(err);
  const code = errorCodeOf(err);
  if (code !== undefined && TLS_CODES.test(code)) {
    return new ProtocolError('UPSTREAM_UNAVAILABLE', say(`TLS connection refused (${code}): ${message}`), context, { cause: err, retryable: false });
  }
  if ((code !== undefined && TRANSPORT_CODES.has(code)) || TRANSPORT_MESSAGES.test(message)) {
    return new ProtocolError('UPSTREAM_UNAVAILABLE', say(`LDAP server unreachable: ${message}`), context, { cause: err, retryable: true });
  }
  return new ProtocolError('UPSTREAM_ERROR', say(`LDAP error: ${message}`), context, { cause: err });
}
