/**
 * Any failure of a request → one `error` frame with a stable code. Adapters throw
 * `ProtocolError`s; anything else is a bug and becomes INTERNAL (logged with its stack, but its
 * message is not sent to the hub, where it could leak internals).
 */
import type { Logger } from 'pino';
import { adoptProtocolError, isProtocolError, ProtocolError, type ErrorFrame } from '../protocol/index.js';

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

export function toProtocolError(err: unknown, requestId: string, dataSource: string): ProtocolError {
  // A plugin with its own copy of the package throws its own class: recognised by its brand.
  const adopted = isProtocolError(err) ? adoptProtocolError(err) : undefined;
  if (adopted !== undefined) {
    err = adopted;
  }
  if (err instanceof ProtocolError) {
    return err.context.requestId === requestId
      ? err
      : new ProtocolError(err.code, err.message, { ...err.context, requestId, dataSource }, { cause: err.cause, retryable: err.retryable });
  }
  if (err instanceof Error && codeOf(err) === 'SIZE_LIMIT_EXCEEDED') {
    return new ProtocolError('SIZE_LIMIT_EXCEEDED', err.message, { requestId, dataSource }, { cause: err });
  }
  return new ProtocolError('INTERNAL', `internal error while serving request ${requestId}`, { requestId, dataSource }, { cause: err });
}

/**
 * Failures an operator must act on — the data source cannot be reached, refuses the configured
 * credentials, or fails on its own — are logged at warn (what `journalctl -p warning` shows);
 * the caller's own mistakes (a bad filter, a missing entry, a cancel) stay at info.
 */
const OPERATOR_CODES: ReadonlySet<string> = new Set(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_AUTH_FAILED', 'UPSTREAM_ERROR']);

export function errorFrame(err: unknown, requestId: string, dataSource: string, log: Logger): ErrorFrame {
  const pe = toProtocolError(err, requestId, dataSource);
  if (pe.code === 'INTERNAL') log.error({ err, requestId, dataSource }, 'request failed unexpectedly');
  else if (OPERATOR_CODES.has(pe.code)) log.warn({ requestId, dataSource, code: pe.code, reason: pe.message }, `data source ${dataSource} failed: ${pe.message}`);
  else log.info({ requestId, dataSource, code: pe.code, reason: pe.message }, 'request failed');
  return pe.toFrame();
}
