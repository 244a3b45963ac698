/**
 * A reachability and credentials probe of one hub URL, for `datasync-agent check`: open the
 * WebSocket exactly as the agent does (`openSocket`: subprotocol, TLS, Basic header or client
 * certificate, proxy), succeed on the HTTP 101 upgrade, and close with 1000 at once.
 *
 * It never sends `hello`: a registration would make the hub replace the running agent that
 * has the same id (close 4002) — a check must not take production traffic away. So the tenant
 * and the data sources are not checked here (the hub only sees them at registration), but
 * everything the hub checks on the upgrade is: TLS both ways, the path and the credentials.
 *
 * ```
 *   probeHub(url)   ---------(101)R|       R = ProbeResult, then close 1000 in the background
 *   refused         -----------(401)#      # = RegistrationRejectedError HTTP_401
 *   nothing answers -------------------#   # = ConnectionError CONNECT_TIMEOUT after timeoutMs
 * ```
 */
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { Observable, asyncScheduler, throwError, timeout, type SchedulerLike, type Subscription } from 'rxjs';
import WebSocket from 'ws';
import { CLOSE_CODES, SUBPROTOCOL } from '../protocol/index.js';
import { openSocket, upgradeRefusedError, type SocketOptions } from './dial.js';
import { ConnectionError, RegistrationRejectedError, classifySocketError } from './errors.js';
import { redactUrl } from '../support/proxy-url.js';

export interface ProbeOptions extends Omit<SocketOptions, 'handshakeTimeoutMs'> {
  /** ms for TCP + TLS (+ proxy CONNECT) + upgrade; no default: the caller decides (check: 10 000). */
  readonly timeoutMs: number;
  /** ms the close handshake may take after success before the socket is cut. Default 2000. */
  readonly closeGraceMs?: number;
  readonly scheduler?: SchedulerLike;
}

export interface ProbeTls {
  /** Negotiated version, e.g. `TLSv1.3`. */
  readonly protocol: string | null;
  /** Common name of the hub's certificate, if it has one. */
  readonly subject?: string;
  /** `notAfter` of the hub's certificate (ISO 8601). */
  readonly validTo?: string;
  /** Whole days until the certificate expires (negative: never, the handshake would fail). */
  readonly daysLeft?: number;
}

export interface ProbeResult {
  /** The URL with any userinfo masked. */
  readonly url: string;
  /** The negotiated subprotocol (always `datasync.v1`: anything else fails the probe). */
  readonly protocol: string;
  /** ms from the start of the probe to the 101 response. */
  readonly latencyMs: number;
  /** Present for wss:// (also through a proxy tunnel). */
  readonly tls?: ProbeTls;
}

const DAY_MS = 86_400_000;
/** Enough of a refusal body to show the hub's reason; the hub sends `{code, message}`. */
const MAX_BODY_CHARS = 1024;

/**
 * Probes one hub URL; emits one {@link ProbeResult} and completes, or errors with a
 * `ConnectionError` / `RegistrationRejectedError` whose message names the URL (userinfo
 * masked) and what to fix. The Observable owns the socket: unsubscribing closes it.
 */
export function probeHub(url: string, options: ProbeOptions): Observable<ProbeResult> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const shown = redactUrl(url);
  const attempt$ = new Observable<ProbeResult>((subscriber) => {
    const started = performance.now();
    let settled = false;
    let tls: ProbeTls | undefined;
    let closeTimer: Subscription | undefined;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      subscriber.error(err);
    };
    // The ws deadline is only a backstop behind the `timeout` below, which names the cause.
    const ws = openSocket(url, { ...options, handshakeTimeoutMs: options.timeoutMs + 1000 });

    ws.on('upgrade', (res: IncomingMessage) => {
      tls = describeTls(res.socket);
    });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      // Read the refusal's body (the hub says why: unknown user, untrusted certificate, …),
      // then cut the socket (without terminate() it hangs: docs/architecture.md, "Library behaviours").
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < MAX_BODY_CHARS) body += chunk;
      });
      const done = (): void => {
        fail(withHubReason(upgradeRefusedError(res.statusCode ?? 0, res.statusMessage, shown), res.statusCode ?? 0, body));
        ws.terminate();
      };
      res.once('end', done);
      res.once('error', done);
    });
    ws.on('open', () => {
      if (ws.protocol !== SUBPROTOCOL) {
        fail(new ConnectionError('PROTOCOL_ERROR', `${shown} accepted the upgrade but not subprotocol ${SUBPROTOCOL}: is this a datasync hub?`, shown));
        return;
      }
      settled = true;
      subscriber.next({
        url: shown,
        protocol: ws.protocol,
        latencyMs: Math.round(performance.now() - started),
        ...(tls === undefined ? {} : { tls }),
      });
      subscriber.complete();
    });
    ws.on('close', () => closeTimer?.unsubscribe());
    // Always listen: ws emits 'error' after terminate() in CONNECTING, and an unhandled one crashes.
    ws.on('error', (err: Error) => fail(classifySocketError(err, shown)));

    return () => {
      settled = true;
      if (ws.readyState === WebSocket.OPEN) {
        // 1000 without hello: the hub drops the unregistered socket, the running agent is untouched.
        ws.close(CLOSE_CODES.NORMAL, 'datasync-agent check');
        // ws waits up to 30 s for the hub's close frame; a check should not.
        closeTimer = scheduler.schedule(() => ws.terminate(), options.closeGraceMs ?? 2000);
      } else if (ws.readyState === WebSocket.CONNECTING) {
        ws.terminate();
      }
    };
  });
  return attempt$.pipe(
    timeout({
      first: options.timeoutMs,
      scheduler,
      with: () =>
        throwError(
          () =>
            new ConnectionError(
              'CONNECT_TIMEOUT',
              `no WebSocket upgrade from ${shown} within ${options.timeoutMs} ms (TCP, TLS${options.agent ? ', proxy CONNECT' : ''} or the hub did not answer)`,
              shown,
            ),
        ),
    }),
  );
}

/** An operator's hint for the socket-level cause of a failed probe, by errno code. */
export function connectHint(err: unknown): string | undefined {
  let e: unknown = err;
  // ConnectionError → its cause (the socket error) → a nested cause (AggregateError of happy eyeballs).
  for (let depth = 0; depth < 3 && e instanceof Error; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && HINTS[code] !== undefined) return HINTS[code];
    e = e instanceof AggregateError ? e.errors[0] : e.cause;
  }
  return undefined;
}

const HINTS: Readonly<Record<string, string>> = {
  ENOTFOUND: 'DNS: the host name does not resolve',
  EAI_AGAIN: 'DNS: temporary failure resolving the host name',
  ECONNREFUSED: 'connection refused: nothing listens on that host and port',
  ECONNRESET: 'the connection was reset (a firewall, or a proxy/TLS mismatch?)',
  ETIMEDOUT: 'the TCP connection timed out (a firewall dropping packets?)',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
};

function describeTls(socket: unknown): ProbeTls | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const cert = socket.getPeerCertificate();
  const cn: unknown = cert.subject?.CN;
  const subject = typeof cn === 'string' ? cn : Array.isArray(cn) ? cn.join(', ') : undefined;
  const notAfter = cert.valid_to ? new Date(cert.valid_to) : undefined;
  const valid = notAfter !== undefined && !Number.isNaN(notAfter.getTime());
  return {
    protocol: socket.getProtocol(),
    ...(subject === undefined ? {} : { subject }),
    ...(valid ? { validTo: notAfter.toISOString(), daysLeft: Math.floor((notAfter.getTime() - Date.now()) / DAY_MS) } : {}),
  };
}

/** Adds the hub's own words (`{"message": …}` in the refusal body) to the error message. */
function withHubReason(
  err: ConnectionError | RegistrationRejectedError,
  status: number,
  body: string,
): ConnectionError | RegistrationRejectedError {
  let reason: string | undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    const message = typeof parsed === 'object' && parsed !== null ? (parsed as { message?: unknown }).message : undefined;
    if (typeof message === 'string' && message !== '') reason = message.slice(0, 200);
  } catch {
    // Not the hub's JSON (a proxy's or a web server's page): the status says enough.
  }
  const hint = status === 404 ? ': no agent endpoint at this path, check the path in agent.urls' : '';
  if (reason === undefined && hint === '') return err;
  const message = `${err.message}${hint}${reason === undefined ? '' : ` (hub says: ${reason})`}`;
  return err instanceof RegistrationRejectedError
    ? new RegistrationRejectedError(err.code, message, err.url)
    : new ConnectionError(err.code, message, err.url);
}
