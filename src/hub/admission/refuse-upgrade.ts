/**
 * The answer to an agent upgrade the hub refuses (wrong path, failed authentication, penalty
 * window, busy, shutting down): a plain HTTP error with a coded JSON body, written on the raw
 * socket because no WebSocket exists yet.
 */
import type { Duplex } from 'node:stream';

/** Answers an upgrade with a plain HTTP error; the socket is then ended (the guard destroys a client that lingers). */
export function refuse(socket: Duplex, status: number, reason: string, retryAfterSeconds?: number): void {
  const text =
    { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }[status] ??
    'Error';
  const body = JSON.stringify({ code: status === 401 || status === 403 ? 'AUTH_FAILED' : 'REFUSED', message: reason });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      (status === 401 ? 'WWW-Authenticate: Basic realm="datasync-hub"\r\n' : '') +
      (retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`) +
      `\r\n${body}`,
  );
}
