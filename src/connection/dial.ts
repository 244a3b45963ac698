/**
 * One connection attempt to one hub URL: dial (TLS, auth, proxy), send `hello`, wait for
 * `welcome`, emit the live session, watch it with keep-alive. The Observable owns the socket:
 * unsubscribing closes it, and every way the socket can end is an error, so the
 * caller's backoff turns it into a reconnect.
 */
import type { Agent as HttpAgent } from 'node:http';
import { Observable, Subject, asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import WebSocket from 'ws';
import { firstWithin, keepAlive } from '../operators/index.js';
import {
  CLOSE_CODES,
  RequestId,
  SUBPROTOCOL,
  decodeFrame,
  streamViolation,
  type Frame,
  type StreamViolation,
  type Hello,
  type Reject,
  type Welcome,
} from '../protocol/index.js';
import { ConnectionError, RegistrationRejectedError, classifySocketError } from './errors.js';
import { WsSession, sendFrame, type Session } from './session.js';
import type { ClientTlsOptions } from '../support/tls-stores.js';

export interface DialOptions {
  /** The registration frame, or a function building it at each connection (its export journals change). */
  readonly hello: Hello | (() => Hello);
  /** Our frame-size limit in bytes; the session uses min(ours, the hub's). */
  readonly maxFrameBytes: number;
  /** ms allowed for TCP + TLS + upgrade, and again for hello → welcome. */
  readonly registrationTimeoutMs: number;
  /** ms of silence before a ping (config keepAliveInterval). */
  readonly keepAliveInterval: number;
  /** ms to wait for a pong after a ping (config keepAliveTimeout). */
  readonly keepAliveTimeout: number;
  /** Extra upgrade headers, e.g. `Authorization: Basic …`. */
  readonly headers?: Record<string, string>;
  readonly tls?: ClientTlsOptions;
  /** HTTP agent, e.g. an HttpsProxyAgent for an outbound CONNECT proxy. */
  readonly agent?: HttpAgent;
  readonly scheduler?: SchedulerLike;
  /** Called for every inbound frame refused as bad — undecodable or not one a hub sends — after the `error` frame went back. */
  readonly onBadFrame?: (message: string) => void;
}

export type DialEvent = { readonly type: 'connecting' } | { readonly type: 'registered'; readonly session: Session };

const isWelcomeOrReject = (f: Frame): f is Welcome | Reject => f.type === 'welcome' || f.type === 'reject';

/**
 * Frame types a hub sends: `welcome`/`reject` only before registration, the request
 * frames only after it. Anything else is a bad frame like an undecodable one — answered with
 * BAD_FRAME, never dropped silently (a `hello` or `result` from a hub is a protocol violation).
 */
const FROM_HUB_REGISTERING: ReadonlySet<Frame['type']> = new Set(['welcome', 'reject', 'error']);
const FROM_HUB_REGISTERED: ReadonlySet<Frame['type']> = new Set(['request', 'chunk', 'credit', 'end', 'cancel', 'error']);

/** Why `frame` is not one a hub sends at this point of the session; undefined when it is. */
function misdirected(frame: Frame, registered: boolean): { readonly message: string; readonly id?: string; readonly frameType: Frame['type'] } | undefined {
  if ((registered ? FROM_HUB_REGISTERED : FROM_HUB_REGISTERING).has(frame.type)) return undefined;
  const message = `unexpected ${frame.type} frame from a hub ${registered ? 'after' : 'before'} welcome`;
  return 'id' in frame ? { message, id: frame.id, frameType: frame.type } : { message, frameType: frame.type };
}

/** What opening the socket takes: the transport part of {@link DialOptions}. */
export interface SocketOptions {
  readonly maxFrameBytes: number;
  /** ms allowed for TCP + TLS (+ proxy CONNECT) + the HTTP upgrade. */
  readonly handshakeTimeoutMs: number;
  readonly headers?: Record<string, string>;
  readonly tls?: ClientTlsOptions;
  readonly agent?: HttpAgent;
}

/**
 * Opens the WebSocket to a hub exactly as the agent does (subprotocol, TLS options, auth
 * headers, proxy agent) and nothing more: no listeners, no `hello`. `dial` builds on it, and
 * `datasync-agent check` uses it to prove reachability and credentials without registering.
 */
export function openSocket(url: string, options: SocketOptions): WebSocket {
  // Oversized frames up to 2× the limit are refused with an `error` frame and the session
  // stays up; anything larger is cut by ws with close 1009 before it is buffered whole.
  // UTF-8 is checked by `decodeFrame` (BAD_FRAME, the session stays up): ws's own check would
  // close the whole session with 1007 for one bad text frame.
  return new WebSocket(url, SUBPROTOCOL, {
    perMessageDeflate: false,
    skipUTF8Validation: true,
    maxPayload: options.maxFrameBytes * 2,
    handshakeTimeout: options.handshakeTimeoutMs,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.tls ?? {}),
  });
}

/** The error for an HTTP answer other than 101 to the upgrade (ws `unexpected-response`). */
export function upgradeRefusedError(status: number, statusMessage: string | undefined, url: string): ConnectionError | RegistrationRejectedError {
  const reason = `${status} ${statusMessage ?? ''}`.trim();
  if (status === 401 || status === 403) {
    const why =
      status === 401
        ? 'the hub did not accept the credentials: check agent.userName/password or the client certificate'
        : 'the hub refused this agent (forbidden)';
    return new RegistrationRejectedError(status === 401 ? 'HTTP_401' : 'HTTP_403', `HTTP ${reason}: ${why}`, url);
  }
  if (status === 407) {
    // A forward proxy's refusal of the CONNECT never gets here (connection/proxy.ts fails the
    // request with it); this is a 407 in front of the hub itself, e.g. an authenticating gateway.
    return new ConnectionError('PROXY_FAILED', `HTTP ${reason} on WebSocket upgrade to ${url}: a proxy in front of the hub demands authentication`, url);
  }
  return new ConnectionError('HTTP_ERROR', `unexpected HTTP ${reason} on WebSocket upgrade to ${url}`, url);
}

export function dial(url: string, options: DialOptions): Observable<DialEvent> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return new Observable<DialEvent>((subscriber) => {
    const inbound = new Subject<Frame>();
    /** Refused frames naming a request, after welcome: the session's requests answer them. */
    const violations = new Subject<StreamViolation>();
    const liveness = new Subject<void>();
    const subs: Subscription[] = [];
    let done = false;
    let registered = false;
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      subscriber.error(err);
    };

    subscriber.next({ type: 'connecting' });
    const ws = openSocket(url, { ...options, handshakeTimeoutMs: options.registrationTimeoutMs });

    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      fail(upgradeRefusedError(res.statusCode ?? 0, res.statusMessage, url));
    });

    ws.on('open', () => {
      if (ws.protocol !== SUBPROTOCOL) {
        fail(new ConnectionError('PROTOCOL_ERROR', `hub did not accept subprotocol ${SUBPROTOCOL}`, url));
        return;
      }
      sendFrame(ws, typeof options.hello === 'function' ? options.hello() : options.hello, options.maxFrameBytes).catch((err: unknown) => fail(classifySocketError(err, url)));
      subs.push(
        inbound
          .pipe(
            firstWithin({
              predicate: isWelcomeOrReject,
              timeoutMs: options.registrationTimeoutMs,
              scheduler,
              onTimeout: () =>
                new ConnectionError('REGISTRATION_TIMEOUT', `no welcome from ${url} within ${options.registrationTimeoutMs} ms`, url),
            }),
          )
          .subscribe({
            next: (frame) => {
              if (frame.type === 'reject') {
                fail(new RegistrationRejectedError(frame.code, `hub rejected registration: ${frame.code}: ${frame.message}`, url));
                return;
              }
              registered = true;
              const maxFrameBytes = Math.min(options.maxFrameBytes, frame.limits.maxFrameBytes);
              const session = new WsSession(url, frame.sessionId, frame.limits, maxFrameBytes, inbound.asObservable(), ws, violations.asObservable());
              subs.push(
                liveness
                  .pipe(
                    keepAlive({
                      interval: options.keepAliveInterval,
                      timeout: options.keepAliveTimeout,
                      scheduler,
                      sendPing: () => ws.ping(),
                    }),
                  )
                  .subscribe({
                    error: (err: unknown) => {
                      // Half-open: close() would wait for a close handshake that never comes.
                      ws.terminate();
                      fail(
                        new ConnectionError(
                          'KEEPALIVE_TIMEOUT',
                          `no pong from ${url} within ${options.keepAliveTimeout} ms of a ping: connection presumed dead`,
                          url,
                          { cause: err },
                        ),
                      );
                    },
                  }),
              );
              subscriber.next({ type: 'registered', session });
            },
            error: (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
          }),
      );
    });

    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      liveness.next();
      const decoded = isBinary
        ? ({ ok: false, code: 'BAD_FRAME', message: 'binary frames are not part of the protocol' } as const)
        : decodeFrame(Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]), options.maxFrameBytes);
      const bad = decoded.ok ? misdirected(decoded.frame, registered) : decoded;
      if (decoded.ok && bad === undefined) {
        inbound.next(decoded.frame);
        return;
      }
      const message = bad?.message ?? 'bad frame';
      options.onBadFrame?.(message);
      // After welcome, a refused frame naming a request is that request's to answer: it ends
      // with BAD_FRAME, its error the last word on the id (docs/protocol.md, "Protocol errors").
      const violation = registered && bad !== undefined ? streamViolation(bad) : undefined;
      if (violation !== undefined) {
        violations.next(violation);
        return;
      }
      const reply: Frame = { type: 'error', code: 'BAD_FRAME', message, retryable: false, ...(RequestId.is(bad?.id) ? { id: bad.id } : {}) };
      sendFrame(ws, reply, options.maxFrameBytes).catch(() => undefined);
    });
    ws.on('pong', () => liveness.next());
    ws.on('close', (code: number, reason: Buffer) => {
      inbound.complete();
      violations.complete();
      const text = reason.toString('utf8');
      const why = code === CLOSE_CODES.REPLACED ? 'replaced by a newer registration of this agent id' : text || 'no reason given';
      fail(new ConnectionError('CLOSED', `connection to ${url} closed (${code}): ${why}`, url, { closeCode: code }));
    });
    ws.on('error', (err: Error) => fail(classifySocketError(err, url)));

    return () => {
      done = true;
      for (const s of subs) s.unsubscribe();
      liveness.complete();
      inbound.complete();
      violations.complete();
      if (ws.readyState === WebSocket.OPEN) ws.close(CLOSE_CODES.NORMAL, 'agent closing');
      else ws.terminate();
    };
  });
}
