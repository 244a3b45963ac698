/**
 * Messages between the agent's main thread and an LDAP search worker thread (`search-worker.ts`,
 * `search-threads.ts`). Both ends are this package, but they may be different builds (tests run
 * the sources against the built worker), so the worker checks every message it gets and the
 * main thread checks the `type` and `stream` of what comes back.
 *
 * One worker serves many streams at once, each named by a number the main thread picks. The
 * credit contract lives in the main thread: the worker asks the server for a page
 * only on `pull`, at most one page per `pull`.
 */
import { ERROR_CODES, type ErrorCode } from '../../protocol/error-codes.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { ClientPoolOptions } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import type { SearchPlan } from './search.js';

/** What a worker is started with (`workerData`). */
export interface SearchWorkerData {
  readonly dataSource: string;
  readonly config: LdapDataSourceConfig;
  readonly pool: ClientPoolOptions;
  /** pino level name of the main thread's logger: records below it are not even sent. */
  readonly logLevel: string;
}

/** main → worker */
export type ToWorker =
  | { readonly type: 'open'; readonly stream: number; readonly plan: SearchPlan; readonly requestId: string }
  | { readonly type: 'pull'; readonly stream: number }
  | { readonly type: 'close'; readonly stream: number }
  /** Close every stream and connection, then exit. */
  | { readonly type: 'shutdown' };

/** A `ProtocolError` as it crosses threads (the `cause` stays behind). */
export interface ErrorData {
  readonly code: ErrorCode;
  readonly message: string;
  readonly retryable: boolean;
  readonly context: ProtocolErrorContext;
}

/** worker → main */
export type FromWorker =
  /** Started: the modules loaded and the pool was built. */
  | { readonly type: 'ready' }
  /**
   * One page as the parts of a `JsonBatch` (each item the JSON of one protocol entry), the
   * memory transferred, not copied: `bytes` the items comma-separated, `ends` where each ends.
   */
  | { readonly type: 'page'; readonly stream: number; readonly bytes: Uint8Array; readonly ends: Uint32Array; readonly last: boolean; readonly truncated: boolean }
  | { readonly type: 'error'; readonly stream: number; readonly error: ErrorData }
  /** The worker's LDAP connections now open (after a page, a failure or a close). */
  | { readonly type: 'connections'; readonly open: number }
  /** A pino record (JSON) for the main thread's logger; `stream` when it is about one stream. */
  | { readonly type: 'log'; readonly line: string };

export function errorData(err: ProtocolError): ErrorData {
  return { code: err.code, message: err.message, retryable: err.retryable, context: err.context };
}

export function fromErrorData(data: ErrorData): ProtocolError {
  return new ProtocolError(data.code, data.message, data.context, { retryable: data.retryable });
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null;
const isStream = (u: unknown): u is number => Number.isSafeInteger(u);

/** Checks a message sent to the worker; `undefined` if it is not one. */
export function toWorker(u: unknown): ToWorker | undefined {
  if (!isObject(u)) return undefined;
  switch (u['type']) {
    case 'open':
      return isStream(u['stream']) && isObject(u['plan']) && typeof u['requestId'] === 'string' ? (u as unknown as ToWorker) : undefined;
    case 'pull':
    case 'close':
      return isStream(u['stream']) ? (u as unknown as ToWorker) : undefined;
    case 'shutdown':
      return { type: 'shutdown' };
    default:
      return undefined;
  }
}

/** Checks a message from the worker; `undefined` if it is not one. */
export function fromWorker(u: unknown): FromWorker | undefined {
  if (!isObject(u)) return undefined;
  switch (u['type']) {
    case 'ready':
      return { type: 'ready' };
    case 'page':
      return isStream(u['stream']) && u['bytes'] instanceof Uint8Array && u['ends'] instanceof Uint32Array && typeof u['last'] === 'boolean' ? (u as unknown as FromWorker) : undefined;
    case 'error': {
      const e = u['error'];
      return isStream(u['stream']) && isObject(e) && typeof e['code'] === 'string' && Object.hasOwn(ERROR_CODES, e['code']) && typeof e['message'] === 'string'
        ? (u as unknown as FromWorker)
        : undefined;
    }
    case 'connections':
      return isStream(u['open']) ? (u as unknown as FromWorker) : undefined;
    case 'log':
      return typeof u['line'] === 'string' ? (u as unknown as FromWorker) : undefined;
    default:
      return undefined;
  }
}
