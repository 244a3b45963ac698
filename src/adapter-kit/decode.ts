/**
 * Decoding helpers every adapter uses for what the hub sends (params, export records): io-ts
 * problems become one BAD_REQUEST listing them all (`details.problems`), never a crash.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { isRecord } from '../config/codecs.js';
import { reportErrors } from '../support/io-ts-report.js';
import { ProtocolError, type ProtocolErrorContext } from '../protocol/errors.js';

export function badRequest(message: string, context: ProtocolErrorContext = {}, problems?: string[]): never {
  throw new ProtocolError('BAD_REQUEST', message, problems === undefined ? context : { ...context, details: { ...context.details, problems } });
}

export function decodeOrThrow<A>(codec: t.Decoder<unknown, A>, input: unknown, what: string, context: ProtocolErrorContext = {}): A {
  const r = codec.validate(input, [{ key: '', type: codec, actual: input }]);
  if (!isLeft(r)) return r.right;
  const problems = reportErrors(r.left).map((p) => (p.path.length === 0 ? p.message : `${p.path.join('.')}: ${p.message}`));
  return badRequest(`invalid ${what}: ${problems.join('; ')}`, context, problems);
}

/**
 * A decoder of records discriminated on `op`: the codec of that op only, so the problems
 * reported are those of the record the caller meant (not of every union member).
 */
export function recordDecoder<A>(
  records: Readonly<Record<string, t.Decoder<unknown, A>>>,
): (input: unknown, context?: ProtocolErrorContext) => A {
  const ops = Object.keys(records);
  return (input, context = {}) => {
    const op = isRecord(input) ? input['op'] : undefined;
    const codec = typeof op === 'string' && Object.hasOwn(records, op) ? records[op] : undefined;
    if (codec === undefined) {
      return badRequest(`invalid export record: op: expected one of ${ops.join(' | ')}, got ${JSON.stringify(op) ?? 'nothing'}`, context);
    }
    return decodeOrThrow(codec, input, `${String(op)} record`, context);
  };
}

/** Node socket error codes meaning "could not reach, or lost, the server" (any transport). */
export const SOCKET_ERROR_CODES: readonly string[] = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ERR_SOCKET_CLOSED',
];
