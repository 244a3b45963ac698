/**
 * ldif failures → protocol errors, in one place:
 * - directory refusals are LDAP result codes (ldapts `ResultCodeError`s thrown by
 *   directory.ts) and go through the directory's table (`../directory/errors.ts`) (`RESULT_CODES`), so `ALREADY_EXISTS`,
 *   `NOT_FOUND`, `CONSTRAINT_VIOLATION` and `details.ldapResultCode` mean the same as there;
 * - reading the files fails with Node file-system codes: `FILE_ERRORS` below;
 * - a file that does not parse or load (`LdifError`, `file:line`) is `UPSTREAM_ERROR`.
 * Messages go through the adapters' one scrubber (`../scrub.ts`) like the other tables'; an
 * LDIF data source configures no secret today, so `secrets` is empty unless a caller names one.
 */
import { ResultCodeError } from 'ldapts';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { ErrorCode } from '../../protocol/error-codes.js';
import { toProtocolError as ldapToProtocolError } from '../directory/errors.js';
import { scrub } from '../../adapter-kit/scrub.js';
import { LdifError } from './parse-ldif.js';

export interface FileErrorMapping {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly says: string;
}

/**
 * Node error codes of reading a file. Decisions worth knowing:
 * - a missing file (or directory on its path) is `UPSTREAM_UNAVAILABLE`, retryable: the source
 *   is not there *now* (a volume not mounted yet); the next operation tries to load it again;
 * - permission denied is `UPSTREAM_AUTH_FAILED`, not retryable: a file has no credentials of its
 *   own, the identity the agent runs as is what the file system refuses, and only an
 *   administrator changing the permissions (or the agent's user) fixes it.
 */
export const FILE_ERRORS: Readonly<Record<string, FileErrorMapping>> = {
  ENOENT: { code: 'UPSTREAM_UNAVAILABLE', retryable: true, says: 'file not found' },
  ENOTDIR: { code: 'UPSTREAM_UNAVAILABLE', retryable: true, says: 'a directory on the path does not exist' },
  ESTALE: { code: 'UPSTREAM_UNAVAILABLE', retryable: true, says: 'stale network file handle' },
  EIO: { code: 'UPSTREAM_UNAVAILABLE', retryable: true, says: 'I/O error' },
  EBUSY: { code: 'UPSTREAM_UNAVAILABLE', retryable: true, says: 'file busy' },
  EAGAIN: { code: 'UPSTREAM_UNAVAILABLE', retryable: true, says: 'resource temporarily unavailable' },
  EMFILE: { code: 'UPSTREAM_UNAVAILABLE', retryable: true, says: 'too many open files in the agent' },
  ENFILE: { code: 'UPSTREAM_UNAVAILABLE', retryable: true, says: 'too many open files on the system' },
  EACCES: { code: 'UPSTREAM_AUTH_FAILED', retryable: false, says: 'permission denied to the agent' },
  EPERM: { code: 'UPSTREAM_AUTH_FAILED', retryable: false, says: 'operation not permitted to the agent' },
  EISDIR: { code: 'UPSTREAM_ERROR', retryable: false, says: 'is a directory, not an LDIF file' },
  ELOOP: { code: 'UPSTREAM_ERROR', retryable: false, says: 'too many symbolic links' },
};

function fields(err: unknown): { code?: string; path?: string } {
  if (typeof err !== 'object' || err === null) return {};
  const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  const path = 'path' in err && typeof err.path === 'string' ? err.path : undefined;
  return { ...(code === undefined ? {} : { code }), ...(path === undefined ? {} : { path }) };
}

export interface ToProtocolErrorOptions {
  /** What was being done, e.g. `search ou=people,…` or `export record 3` (prefixed to the message). */
  readonly operation?: string;
  /** Strings that must never appear in a message (see `../scrub.ts`). */
  readonly secrets?: readonly string[];
}

/** Maps anything an ldif operation threw to a `ProtocolError` (a `ProtocolError` passes through). */
export function toProtocolError(err: unknown, context: ProtocolErrorContext = {}, options: ToProtocolErrorOptions = {}): ProtocolError {
  if (err instanceof ProtocolError) return err;
  if (err instanceof ResultCodeError) return ldapToProtocolError(err, context, options);
  const prefix = options.operation === undefined ? '' : `${options.operation}: `;
  const say = (m: string): string => scrub(prefix + m, options.secrets);
  if (err instanceof LdifError) {
    return new ProtocolError('UPSTREAM_ERROR', say(err.message), { ...context, details: { ...context.details, file: err.file, line: err.line } }, { cause: err });
  }
  const { code, path } = fields(err);
  const mapping = code === undefined ? undefined : FILE_ERRORS[code];
  if (mapping !== undefined) {
    return new ProtocolError(mapping.code, say(`${path ?? 'LDIF file'}: ${mapping.says} (${code})`), context, { cause: err, retryable: mapping.retryable });
  }
  // A bug: its message stays in the agent's log (the caller logs `cause`), not in the frame.
  return new ProtocolError('INTERNAL', say('internal error in the ldif adapter'), context, { cause: err });
}
