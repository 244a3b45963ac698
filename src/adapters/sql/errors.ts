/**
 * The error table of the SQL source: what PostgreSQL (by SQLSTATE) and MariaDB/MySQL (by errno)
 * answer, as the coded errors the hub's callers see. One table for both dialects; messages are
 * scrubbed of the configured password.
 *
 * | what happened | PostgreSQL | MariaDB/MySQL | code | retryable |
 * |---|---|---|---|---|
 * | wrong user or password | 28P01, 28000 | 1045, 1698 | `UPSTREAM_AUTH_FAILED` | no |
 * | no privilege on a table or column | 42501 | 1142, 1143, 1044 | `UPSTREAM_AUTH_FAILED` | no |
 * | unknown database | 3D000 | 1049 | `NOT_FOUND` (`details.reason: unknown-database`) | no |
 * | missing table or view | 42P01 | 1146 | `NOT_FOUND` (`details.reason: unknown-table`) | no |
 * | missing column (a mapping naming one) | 42703 | 1054 | `NOT_FOUND` (`details.reason: unknown-column`) | no |
 * | statement time limit, cancel | 57014 | 1969, 3024, 1317 | `TIMEOUT` | yes |
 * | duplicate key | 23505 | 1062 | `ALREADY_EXISTS` | no |
 * | NOT NULL, foreign key, CHECK, exclusion | 23502, 23503, 23514, 23P01 | 1048, 1364, 1451, 1452, 3819, 4025 | `CONSTRAINT_VIOLATION` | no |
 * | a value the column cannot hold | class 22 | 1264, 1265, 1292, 1366, 1406 | `CONSTRAINT_VIOLATION` in export, `BAD_REQUEST` in reads | no |
 * | deadlock, serialization failure, lock wait | 40P01, 40001, 55P03 | 1213, 1205 | `UPSTREAM_ERROR` | **yes** |
 * | server shutting down, too many connections, connection lost | 57P01–57P03, 53300, class 08 | 1040, 1053, 2006, 2013 | `UPSTREAM_UNAVAILABLE` | yes |
 * | socket errors (refused, reset, timeout, DNS) | | | `UPSTREAM_UNAVAILABLE` | yes |
 * | anything else | | | `UPSTREAM_ERROR` (`details.sqlstate` / `details.errno`) | no |
 */
import { errorTable, messageOf, type ErrorRule, type ProtocolError, type ProtocolErrorContext } from '../../adapter-kit/index.js';

interface DriverError {
  /** PostgreSQL SQLSTATE (pg) or a Node/driver code string (mysql2: `ER_…`). */
  readonly code?: unknown;
  /** mysql2: the server's error number. */
  readonly errno?: unknown;
  /** mysql2: the SQLSTATE. */
  readonly sqlState?: unknown;
}

const sqlstateOf = (err: unknown): string | undefined => {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as DriverError;
  if (typeof e.sqlState === 'string') return e.sqlState;
  return typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
};
const errnoOf = (err: unknown): number | undefined => {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as DriverError;
  return typeof e.errno === 'number' && typeof e.sqlState === 'string' ? e.errno : undefined;
};

/** Matches PostgreSQL SQLSTATEs (a two-character entry is a class) or MySQL errnos. */
const sql =
  (states: readonly string[], errnos: readonly number[] = []) =>
  (err: unknown): boolean => {
    const errno = errnoOf(err);
    if (errno !== undefined) return errnos.includes(errno);
    const state = sqlstateOf(err);
    return state !== undefined && states.some((s) => (s.length === 2 ? state.startsWith(s) : state === s));
  };

const details = (reason?: string) => (err: unknown): Record<string, unknown> => {
  const errno = errnoOf(err);
  const state = sqlstateOf(err);
  return { ...(reason === undefined ? {} : { reason }), ...(state === undefined ? {} : { sqlstate: state }), ...(errno === undefined ? {} : { errno }) };
};

/** pg reports a lost connection as plain Errors with these messages; mysql2 with these codes. */
const connectionLost = (err: unknown): boolean =>
  /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect)/.test(messageOf(err)) ||
  ['PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR'].includes(String((err as DriverError | null)?.code));

function rules(dataError: 'CONSTRAINT_VIOLATION' | 'BAD_REQUEST'): ErrorRule[] {
  return [
    { match: sql(['28P01', '28000'], [1045, 1698]), code: 'UPSTREAM_AUTH_FAILED', details: details('authentication') },
    { match: sql(['42501'], [1142, 1143, 1044]), code: 'UPSTREAM_AUTH_FAILED', details: details('permission') },
    { match: sql(['3D000'], [1049]), code: 'NOT_FOUND', details: details('unknown-database') },
    { match: sql(['42P01'], [1146]), code: 'NOT_FOUND', details: details('unknown-table') },
    { match: sql(['42703'], [1054]), code: 'NOT_FOUND', details: details('unknown-column') },
    { match: sql(['57014'], [1969, 3024, 1317]), code: 'TIMEOUT', details: details('statement-timeout') },
    { match: sql(['23505'], [1062]), code: 'ALREADY_EXISTS', details: details('unique') },
    { match: sql(['23502', '23503', '23514', '23P01', '23'], [1048, 1364, 1451, 1452, 3819, 4025]), code: 'CONSTRAINT_VIOLATION', details: details('constraint') },
    { match: sql(['22'], [1264, 1265, 1292, 1366, 1406]), code: dataError, details: details('invalid-value') },
    { match: sql(['40P01', '40001', '55P03'], [1213, 1205]), code: 'UPSTREAM_ERROR', retryable: true, details: details('conflict') },
    { match: sql(['57P01', '57P02', '57P03', '53300', '08'], [1040, 1053, 2006, 2013]), code: 'UPSTREAM_UNAVAILABLE', details: details('unavailable') },
    { match: connectionLost, code: 'UPSTREAM_UNAVAILABLE' },
    { match: (err) => sqlstateOf(err) !== undefined, code: 'UPSTREAM_ERROR', details: details() },
  ];
}

export type ToProtocolError = (err: unknown, context?: ProtocolErrorContext) => ProtocolError;

/** The tables for reads and for export, scrubbing `secrets`. */
export function sqlErrorTables(secrets: readonly string[]): { readonly read: ToProtocolError; readonly write: ToProtocolError } {
  return { read: errorTable(rules('BAD_REQUEST'), { secrets }), write: errorTable(rules('CONSTRAINT_VIOLATION'), { secrets }) };
}
