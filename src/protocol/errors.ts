import { ERROR_CODES, type ErrorCode } from './error-codes.js';
import { RequestId, type ErrorFrame } from './frames.js';

export interface ProtocolErrorContext {
  readonly requestId?: string;
  readonly dataSource?: string;
  readonly url?: string;
  readonly details?: Record<string, unknown>;
}

/**
 * An error with a stable protocol code. Adapters and the pipeline throw these;
 * the hub turns received `error` frames back into them for its callers.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
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
