/**
 * The error table of the `jsonl` source: what reading or writing its file can throw, as the
 * coded errors the hub's callers see.
 *
 * | what happened                               | code                   | retryable |
 * |---------------------------------------------|------------------------|-----------|
 * | the file (or a directory on its path) is missing | `UPSTREAM_UNAVAILABLE` | yes (it may be mounted later) |
 * | the agent may not read or write it (EACCES, EPERM, EROFS) | `UPSTREAM_AUTH_FAILED` | no (a permission, like a credential, needs a person) |
 * | a line is not a JSON object, or has no key  | `UPSTREAM_ERROR`, `details.line` | no |
 * | anything else                               | `UPSTREAM_ERROR`       | no |
 */
import { errorTable, messageOf, ProtocolError, type ProtocolErrorContext } from 'datasync-agent/adapter-kit';

/** Matches a Node file-system error by its `code`. */
const errnoIs =
  (...codes: string[]) =>
  (err: unknown): boolean =>
    err instanceof Error && 'code' in err && codes.includes(String(err.code));

export const toProtocolError = errorTable([
  { match: errnoIs('ENOENT', 'ENOTDIR'), code: 'UPSTREAM_UNAVAILABLE', retryable: true, message: (err) => `the file is missing: ${messageOf(err)}` },
  { match: errnoIs('EACCES', 'EPERM', 'EROFS'), code: 'UPSTREAM_AUTH_FAILED', message: (err) => `the agent may not use the file: ${messageOf(err)}` },
]);

/** A line of the file that is not a record: the stream ends with this error, naming the line. */
export function badLine(file: string, line: number, why: string, context: ProtocolErrorContext = {}): ProtocolError {
  return new ProtocolError('UPSTREAM_ERROR', `${file}:${line}: ${why}`, { ...context, details: { line } });
}
