import type { RejectCode } from '../protocol/index.js';

/** Why a connection attempt or a live connection ended; `code` is stable for logs and metrics. */
export type ConnectionErrorCode =
  | 'CONNECT_FAILED' // TCP/TLS/proxy could not be established
  | 'CONNECT_TIMEOUT' // TCP + TLS (+ proxy) + upgrade did not finish in time
  | 'TLS_FAILED' // certificate not trusted, hostname mismatch, expired …
  | 'PROXY_FAILED' // the proxy answered CONNECT with anything but 200, or could not be reached
  | 'HTTP_ERROR' // the upgrade got an unexpected HTTP status
  | 'REGISTRATION_TIMEOUT' // no welcome/reject in time
  | 'PROTOCOL_ERROR' // the hub spoke something we do not understand
  | 'CLOSED' // the socket closed
  | 'KEEPALIVE_TIMEOUT'; // no pong: half-open connection

export class ConnectionError extends Error {
  override readonly name: string = 'ConnectionError';
  constructor(
    readonly code: ConnectionErrorCode,
    message: string,
    readonly url: string,
    options: { cause?: unknown; closeCode?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.closeCode = options.closeCode;
  }
  readonly closeCode: number | undefined;
}

/**
 * The tunnel through the proxy could not be opened: the proxy answered CONNECT with a status
 * other than 200 (`answer`), or never answered (unreachable, closed, reset: the socket error is
 * the `cause`). `proxy` is the proxy URL with its userinfo masked; `target` the CONNECT target.
 */
export class ProxyTunnelError extends Error {
  override readonly name = 'ProxyTunnelError';
  readonly status: number | undefined;
  readonly reason: string | undefined;
  constructor(
    readonly proxy: string,
    readonly target: string,
    answer: { readonly status: number; readonly reason: string } | undefined,
    options: { cause?: unknown } = {},
  ) {
    const cause = options.cause instanceof Error ? options.cause : undefined;
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(
      answer !== undefined
        ? `proxy ${proxy} refused CONNECT ${target}: HTTP ${`${answer.status} ${answer.reason}`.trim()}`
        : `proxy ${proxy} did not open a tunnel to ${target}: ${errno !== undefined && !(cause?.message.includes(errno) ?? false) ? `${errno} ` : ''}${cause?.message ?? String(options.cause)}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.status = answer?.status;
    this.reason = answer?.reason;
  }
}

/** What an operator does about a proxy's refusal, by the CONNECT status. */
function proxyHint(e: ProxyTunnelError): string {
  const s = e.status;
  if (s === undefined) return 'the proxy is not reachable: check the host and port of agent.proxy / HTTPS_PROXY, and that the proxy runs';
  // RFC 9110 says 407; some proxies (tinyproxy) answer wrong credentials with 401.
  if (s === 407 || s === 401) return 'the proxy did not accept the credentials in the proxy URL (user:password, percent-encoded)';
  if (s === 403) return `the proxy's rules forbid a tunnel to ${e.target} (host or port not allowed): ask its administrators, or list the hub in noProxy / NO_PROXY if it is reachable directly`;
  if (s >= 500) return `the proxy could not reach the hub at ${e.target}: the hub is down, or the proxy cannot resolve or route to it`;
  return 'the proxy refused the tunnel';
}

/** The hub refused the registration: HTTP 401/403 on upgrade, or a `reject` frame. */
export class RegistrationRejectedError extends Error {
  override readonly name = 'RegistrationRejectedError';
  constructor(
    readonly code: RejectCode | 'HTTP_401' | 'HTTP_403',
    message: string,
    readonly url: string,
  ) {
    super(message);
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
]);

/** Which names the hub's certificate holds and which one the URL asked for. */
function altNameHint(e: Error): string {
  const { host, cert } = e as Error & { host?: string; cert?: { subjectaltname?: string; subject?: { CN?: string } } };
  const names = cert?.subjectaltname ?? (cert?.subject?.CN ? `CN=${cert.subject.CN}` : 'no names');
  return `the hub certificate does not match the host name in the URL: it is for ${names}, the URL names ${host ?? '?'}`;
}

/** Turns a socket-level error into a ConnectionError with a message an operator can act on. */
export function classifySocketError(err: unknown, url: string): ConnectionError {
  if (err instanceof ProxyTunnelError) {
    return new ConnectionError('PROXY_FAILED', `${err.message} (hub ${url}): ${proxyHint(err)}`, url, { cause: err });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) {
    const hint =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? altNameHint(e)
        : code === 'CERT_HAS_EXPIRED'
          ? 'the hub certificate has expired'
          : code.includes('ALERT')
            ? 'the hub refused our client certificate'
            : 'the hub certificate is not trusted: add its CA to agent.trustStore';
    return new ConnectionError('TLS_FAILED', `TLS handshake with ${url} failed (${code}): ${hint}`, url, { cause: e });
  }
  if (/Tunnel|proxy/i.test(e.message)) {
    return new ConnectionError('PROXY_FAILED', `proxy failed for ${url}: ${e.message}`, url, { cause: e });
  }
  const detail = code ? `${code} ${e.message}` : e.message;
  return new ConnectionError('CONNECT_FAILED', `cannot connect to ${url}: ${detail}`, url, { cause: e });
}
