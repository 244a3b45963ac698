import { ERROR_CODES, type ErrorCode } from './error-codes.js';
import { RequestId, type ErrorFrame } from './frames.js';

export interface ProtocolErrorContext {
  readonly requestId?: string;
  readonly dataSource?: string;
  readonly url?: string;
  readonly details?: Record<string, unknown>;
}

/**
 * Marks a `ProtocolError` of any copy of this package: a plugin that brings its own copy
 * throws its own class, which `instanceof` does not recognise (`isProtocolError` does).
 */
export const PROTOCOL_ERROR_BRAND: unique symbol = Symbol.for('datasync-agent.ProtocolError');

/**
 * An error with a stable protocol code. Adapters and the pipeline throw these;
 * the hub turns received `error` frames back into them for its callers.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly [PROTOCOL_ERROR_BRAND] = true;
  readonly retryable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly context: ProtocolErrorContext = {},
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }

  toFrame(): ErrorFrame {
    const frame: ErrorFrame = { type: 'error', code: this.code, message: this.message, retryable: this.retryable };
    if (RequestId.is(this.context.requestId)) frame.id = this.context.requestId;
    if (this.context.details !== undefined) frame.details = this.context.details;
    return frame;
  }

  static fromFrame(frame: ErrorFrame, context: ProtocolErrorContext = {}): ProtocolError {
    const ctx: ProtocolErrorContext = { ...context };
    return new ProtocolError(
      frame.code,
      frame.message,
      frame.id === undefined ? ctx : { ...ctx, requestId: frame.id, ...(frame.details ? { details: frame.details } : {}) },
      { retryable: frame.retryable },
    );
  }
}

/** The shape a `ProtocolError` of another copy of this package has. */
export interface ProtocolErrorLike {
  readonly [PROTOCOL_ERROR_BRAND]: true;
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly context?: ProtocolErrorContext;
  readonly cause?: unknown;
}

/** A `ProtocolError` of this copy of the package or of any other (a plugin's own copy). */
export function isProtocolError(err: unknown): err is ProtocolError | ProtocolErrorLike {
  if (err instanceof ProtocolError) return true;
  return typeof err === 'object' && err !== null && (err as { [PROTOCOL_ERROR_BRAND]?: unknown })[PROTOCOL_ERROR_BRAND] === true;
}

/**
 * A protocol error of another copy of the package as one of this copy, or `undefined` when its
 * code is not one this version knows (it is then an internal error).
 */
export function adoptProtocolError(err: ProtocolError | ProtocolErrorLike): ProtocolError | undefined {
  if (err instanceof ProtocolError) return err;
  if (typeof err.code !== 'string' || !Object.hasOwn(ERROR_CODES, err.code)) return undefined;
  const context = typeof err.context === 'object' && err.context !== null ? err.context : {};
  return new ProtocolError(err.code as ErrorCode, String(err.message), context, {
    cause: err.cause,
    retryable: typeof err.retryable === 'boolean' ? err.retryable : ERROR_CODES[err.code as ErrorCode].retryable,
  });
}
