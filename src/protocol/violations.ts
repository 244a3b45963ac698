/**
 * Protocol violations that name a request: the one rule both ends follow (docs/protocol.md,
 * "Protocol errors"). A frame that carries the id of an open request and breaks the protocol —
 * it does not decode (a `credit` of -1, 0.5, "8" or 2^31), it is not one that peer sends, it
 * does not fit the request (a `chunk` for a search) — ends that request on both sides: the
 * receiver stops it and sends its last word on the id (the agent its `error` frame, the hub its
 * `cancel`), and every later frame for the id is dropped. A bad frame that names no open
 * request gets an `error` frame without an id; the connection stays up either way.
 *
 * The socket layers (the agent's dial, the hub's agent link) only find the id; what it names is
 * known to the requests, which answer it.
 */
import { ProtocolError } from './errors.js';
import { RequestId, type FrameType } from './frames.js';

/** A refused frame that names a request. */
export interface StreamViolation {
  readonly id: RequestId;
  /** The refused frame's type, when it had one of the protocol's. */
  readonly frameType?: FrameType | undefined;
  /** Why it was refused (the codec's words). */
  readonly message: string;
}

/** What the socket layer knows of a refused frame: the codec's refusal, or a frame out of place. */
export interface Refusal {
  readonly message: string;
  readonly id?: unknown;
  readonly frameType?: FrameType | undefined;
}

/**
 * The violation a refused frame is, when it names a request id; undefined when it names none
 * (the socket layer then answers it with an `error` frame without an id). An `error` frame that
 * names a request is a violation like any other frame: it is never answered, but it ends the request.
 */
export function streamViolation(refusal: Refusal): StreamViolation | undefined {
  if (!RequestId.is(refusal.id)) return undefined;
  return { id: refusal.id, message: refusal.message, ...(refusal.frameType === undefined ? {} : { frameType: refusal.frameType }) };
}

/** The error a request ends with when a frame about it broke the protocol. */
export function violationError(violation: StreamViolation, by: 'hub' | 'agent'): ProtocolError {
  const what = violation.frameType === undefined ? 'a frame' : `a ${violation.frameType} frame`;
  return new ProtocolError('BAD_FRAME', `the ${by} broke the protocol on request ${violation.id} with ${what}: ${violation.message}`, {
    requestId: violation.id,
  });
}
