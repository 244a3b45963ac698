/** WebSocket subprotocol (RFC 6455 §1.9) negotiated on every agent ↔ hub connection. */
export const SUBPROTOCOL = 'datasync.v1';
/** Protocol version carried in `hello.protocol`. */
export const PROTOCOL_VERSION = 1;
/** Default upper bound for one frame, both directions. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
