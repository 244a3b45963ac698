/**
 * The hub's end of one agent socket: waits for `hello`, checks it, answers `welcome` or
 * `reject`, watches liveness with pings, and correlates `result`/`error` frames with the
 * requests it sent. Frames that do not decode get an `error` frame back; the socket stays up.
 *
 * Protocol errors (docs/protocol.md): a refused frame — undecodable, or not one an agent sends —
 * that names a request in flight ends that request: its caller gets BAD_FRAME and the agent a
 * `cancel`. Frames for a request that ended lately are dropped (counted in `stats`, logged at
 * debug); a refused frame naming no request gets an `error` frame without an id.
 *
 * Once the agent is registered, a `chunk` frame is read by the validating scanner
 * (`readChunkFrame`): its items stay bytes, passed to a search as they arrived. A `result`
 * frame (one that starts `{"type":"result",`, as every agent writes it) is read the same way
 * (`readResultFrame`): its data stays bytes for the HTTP answer. Every other frame — and a
 * chunk or result the scanner does not take (invalid, too deep, not quite that frame) — is
 * decoded by `decodeFrame`, which accepts or refuses it exactly as before.
 */
import { randomUUID } from 'node:crypto';
import { Subject, asyncScheduler, firstValueFrom, map, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type WebSocket from 'ws';
import type { Logger } from 'pino';
import { firstWithin, keepAlive } from '../operators/index.js';
import {
  CLOSE_CODES,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeFrame,
  frameData,
  looksLikeResult,
  nonNegativeInt,
  parsedChunk,
  parsedResult,
  readChunkFrame,
  readResultFrame,
  positiveInt,
  streamViolation,
  violationError,
  type Frame,
  type FrameType,
  type StreamViolation,
  type Hello,
  type RejectCode,
  type ResultData,
  type ScannedChunk,
  type ScannedResult,
} from '../protocol/index.js';
import { sendWsMessage } from '../support/ws-send.js';
import type { AgentPrincipal } from './auth.js';
import { exportRequest, type ExportEvent, type ExportOptions, type RecordSource } from './export-request.js';
import {
  resultRequest,
  streamRequest,
  type LinkPort,
  type RequestSink,
  type RequestSpec,
  type StreamEvent,
  type StreamOptions,
} from './request-sinks.js';

export interface AgentLinkOptions {
  readonly maxFrameBytes: number;
  readonly registrationTimeoutMs: number;
  readonly keepAliveInterval: number;
  readonly keepAliveTimeout: number;
  readonly scheduler?: SchedulerLike;
  /** Told of every frame the link did not deliver (for the hub's metrics; `stats` counts the same). */
  readonly onFrameOutcome?: (outcome: FrameOutcome) => void;
}

/**
 * What became of a frame the link did not deliver: `dropped` — for a request that ended lately;
 * `violation` — a refused frame that ended its request; `refused` — answered with an `error`
 * frame without an id (it named no open request).
 */
export type FrameOutcome = 'dropped' | 'violation' | 'refused';

export class AgentLink {
  readonly connectedAt = new Date();
  readonly sessionId = randomUUID();
  private helloFrame: Hello | undefined;
  private readonly inbound = new Subject<Frame>();
  private readonly liveness = new Subject<void>();
  private readonly pending = new Map<string, RequestSink>();
  /** Ids of requests that ended lately: their in-flight frames are dropped quietly. */
  private readonly recentlyEnded = new Set<string>();
  private readonly subs: Subscription[] = [];
  private readonly counters = { framesDropped: 0, violations: 0, framesRefused: 0 };
  private readonly closedSubject = new Subject<void>();
  private closed = false;
  private registeredPort: LinkPort | undefined;
  /** Emits once when the socket is gone, for whatever reason. */
  readonly closed$: Observable<void> = this.closedSubject.asObservable();

  constructor(
    private readonly ws: WebSocket,
    readonly principal: AgentPrincipal,
    readonly remoteAddress: string,
    private readonly options: AgentLinkOptions,
    private readonly log: Logger,
  ) {}

  get hello(): Hello | undefined {
    return this.helloFrame;
  }
  get tenantId(): string | undefined {
    return this.helloFrame?.tenantId;
  }
  /** Which of its agent's sessions this is (`hello.sessionKey`; '' from an agent that sends none). */
  get sessionKey(): string {
    return this.helloFrame?.sessionKey ?? '';
  }
  get agentId(): string | undefined {
    return this.helloFrame?.agent.id;
  }

  offers(dataSource: string, op: string): boolean {
    return this.helloFrame?.dataSources.some((d) => d.name === dataSource && (d.operations as string[]).includes(op)) ?? false;
  }

  /** Does the agent journal exports of this data source (so an export may carry an idempotency key)? */
  keepsExportJournal(dataSource: string): boolean {
    return this.helloFrame?.dataSources.some((d) => d.name === dataSource && d.idempotentExport === true) ?? false;
  }

  /**
   * Frames dropped because their request had ended (a stream's frames in flight when it ended,
   * an agent that goes on after its end or error), requests ended by a protocol violation, and
   * frames refused with an `error` frame without an id.
   */
  get stats(): { readonly framesDropped: number; readonly violations: number; readonly framesRefused: number } {
    return { ...this.counters };
  }

  inFlight(): number {
    return this.pending.size;
  }

  /**
   * Starts reading the socket. `onHello` decides on registration: it returns a reject reason,
   * or undefined to accept (the caller then registers the link).
   */
  start(onHello: (hello: Hello) => { code: RejectCode; message: string } | undefined, onRegistered: () => void): void {
    const scheduler = this.options.scheduler ?? asyncScheduler;
    this.ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    this.ws.on('pong', () => this.liveness.next());
    this.ws.on('close', (code: number) => this.onClose(code));
    // ws crashes the process on an unhandled socket error (docs/architecture.md, "Library behaviours"): always listen.
    this.ws.on('error', (err: Error) => this.log.warn({ err }, 'agent socket error'));

    this.subs.push(
      this.inbound
        .pipe(
          firstWithin({
            predicate: (_f: Frame): _f is Frame => true,
            timeoutMs: this.options.registrationTimeoutMs,
            scheduler,
            onTimeout: () => new Error('REGISTRATION_TIMEOUT'),
          }),
        )
        .subscribe({
          next: (frame) => {
            if (frame.type !== 'hello') return this.reject('BAD_HELLO', `expected hello, got ${frame.type}`);
            if (frame.protocol !== PROTOCOL_VERSION) {
              return this.reject('UNSUPPORTED_PROTOCOL', `protocol ${frame.protocol} not supported; this hub speaks ${PROTOCOL_VERSION}`);
            }
            const refusal = onHello(frame);
            if (refusal) return this.reject(refusal.code, refusal.message);
            this.helloFrame = frame;
            this.send({
              type: 'welcome',
              sessionId: this.sessionId,
              limits: { maxFrameBytes: positiveInt(this.options.maxFrameBytes), keepAliveIntervalMs: nonNegativeInt(this.options.keepAliveInterval) },
            });
            this.watchLiveness(scheduler);
            onRegistered();
          },
          error: () => this.reject('REGISTRATION_TIMEOUT', `no hello within ${this.options.registrationTimeoutMs} ms`),
        }),
    );
  }

  /** The port request Observables use to talk to this agent (see request-sinks.ts); one per registered link. */
  port(): LinkPort {
    if (this.helloFrame === undefined) return this.makePort();
    this.registeredPort ??= this.makePort();
    return this.registeredPort;
  }

  private makePort(): LinkPort {
    return {
      agentId: this.agentId ?? '?',
      maxFrameBytes: this.options.maxFrameBytes,
      ...(this.helloFrame?.limits?.maxChunkItems === undefined ? {} : { maxChunkItems: this.helloFrame.limits.maxChunkItems }),
      ...(this.options.scheduler ? { scheduler: this.options.scheduler } : {}),
      send: (frame) => this.send(frame),
      attach: (id, sink) => {
        if (this.closed || !this.helloFrame) return false;
        if (this.pending.has(id)) throw new ProtocolError('BAD_REQUEST', `request id ${id} is already in use`);
        this.pending.set(id, sink);
        return true;
      },
      detach: (id) => {
        if (!this.pending.delete(id)) return false;
        this.recentlyEnded.add(id);
        if (this.recentlyEnded.size > 1024) {
          const oldest = this.recentlyEnded.values().next().value;
          if (oldest !== undefined) this.recentlyEnded.delete(oldest);
        }
        return true;
      },
    };
  }

  /** A request–response operation (test, schema, attributes, resourceTypes, get): its data as a value. */
  result$(spec: RequestSpec): Observable<unknown> {
    return this.answer$(spec).pipe(map((data) => data.value()));
  }

  /** A request–response operation: its data as the agent's bytes where they were scanned (`ResultData`). */
  answer$(spec: RequestSpec): Observable<ResultData> {
    return resultRequest(this.port(), spec);
  }

  /** A `search` stream under credit. */
  stream$(spec: RequestSpec, options?: StreamOptions): Observable<StreamEvent> {
    return streamRequest(this.port(), spec, options);
  }

  /** An `export` channel. */
  export$(spec: RequestSpec, records: RecordSource, options?: ExportOptions): Observable<ExportEvent> {
    return exportRequest(this.port(), spec, records, options);
  }

  /** Promise form of `result$`. */
  request(spec: RequestSpec): Promise<unknown> {
    return firstValueFrom(this.result$(spec));
  }

  close(code: number = CLOSE_CODES.NORMAL, reason = ''): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  private watchLiveness(scheduler: SchedulerLike): void {
    this.subs.push(
      this.liveness
        .pipe(keepAlive({ interval: this.options.keepAliveInterval, timeout: this.options.keepAliveTimeout, scheduler, sendPing: () => this.ws.ping() }))
        .subscribe({
          error: () => {
            this.log.warn({ agentId: this.agentId, timeoutMs: this.options.keepAliveTimeout }, 'agent did not answer ping: terminating');
            this.ws.terminate();
          },
        }),
    );
  }

  private reject(code: RejectCode, message: string): void {
    this.log.warn({ code, reason: message, principal: this.principal, remote: this.remoteAddress }, 'agent registration rejected');
    this.write({ type: 'reject', code, message })
      .catch(() => undefined)
      .finally(() => this.close(CLOSE_CODES.REJECTED, code));
  }

  /** Encodes one frame and writes it as one message; settles once written. */
  private write(frame: Frame): Promise<void> {
    return sendWsMessage(this.ws, () => frameData(frame, this.options.maxFrameBytes));
  }

  private send(frame: Frame): void {
    this.write(frame).catch((err: unknown) =>
      this.log.debug({ err, frameType: frame.type }, 'send to agent failed'),
    );
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    this.liveness.next();
    const buf = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
    if (!isBinary && this.helloFrame && buf.length <= this.options.maxFrameBytes) {
      if (looksLikeResult(buf)) {
        const result = readResultFrame(buf);
        if (result) return this.onResult(result);
      } else {
        const chunk = readChunkFrame(buf);
        if (chunk) return this.onChunk(chunk);
      }
    }
    const decoded = isBinary
      ? ({ ok: false, code: 'BAD_FRAME', message: 'binary frames are not part of the protocol' } as const)
      : decodeFrame(buf, this.options.maxFrameBytes);
    if (!decoded.ok) {
      this.log.warn({ agentId: this.agentId, reason: decoded.message, requestId: decoded.id }, 'bad frame from agent');
      const violation = streamViolation(decoded);
      if (violation && this.helloFrame) return this.onViolation(violation);
      // Before hello no request exists: whatever id the frame names, it names no open request.
      const message = violation ? `${decoded.message} (about request ${violation.id}, which is not pending)` : decoded.message;
      return this.refuse(message);
    }
    const frame = decoded.frame;
    if (!this.helloFrame) {
      this.inbound.next(frame);
      return;
    }
    this.onRegisteredFrame(frame);
  }

  private onRegisteredFrame(frame: Frame): void {
    const id = 'id' in frame ? frame.id : undefined;
    if (frame.type === 'error' && id === undefined) {
      this.log.warn({ agentId: this.agentId, code: frame.code, reason: frame.message }, 'agent reported an error about a frame we sent');
      return;
    }
    const answers = frame.type === 'result' || frame.type === 'error' || frame.type === 'chunk' || frame.type === 'end' || frame.type === 'credit';
    if (!answers || id === undefined) {
      // A frame type without an `id` field may still carry an extra `id` key of any value:
      // it names a request only when it is a request id.
      const message = `unexpected ${frame.type} frame from an agent`;
      const violation = streamViolation({ message, id, frameType: frame.type });
      if (violation) return this.onViolation(violation);
      return this.refuse(message);
    }
    const sink = this.pending.get(id);
    if (sink) return sink.onFrame(frame);
    this.notPending(id, frame.type);
  }

  /**
   * A frame for request `id`, which is not in flight: dropped when the request ended lately (in
   * flight when it ended: a cancel, a deadline, a violation, the agent's own error); otherwise
   * refused — an agent may only answer ids it was sent (tenant isolation).
   */
  private notPending(id: string, frameType: FrameType | undefined, message = `no pending request with id ${id}`): void {
    if (this.recentlyEnded.has(id)) {
      this.counted('dropped');
      this.log.debug({ agentId: this.agentId, requestId: id, frameType, framesDropped: this.counters.framesDropped }, 'frame for an ended request dropped');
      return;
    }
    this.refuse(message);
  }

  /** Answers a frame that names no open request: an `error` frame without an id; the socket stays up. */
  private refuse(message: string): void {
    this.counted('refused');
    this.send({ type: 'error', code: 'BAD_FRAME', message, retryable: false });
  }

  private counted(outcome: FrameOutcome): void {
    if (outcome === 'dropped') this.counters.framesDropped += 1;
    else if (outcome === 'violation') this.counters.violations += 1;
    else this.counters.framesRefused += 1;
    this.options.onFrameOutcome?.(outcome);
  }

  /** A refused frame naming request `violation.id`: the request in flight ends (BAD_FRAME to its caller, `cancel` to the agent). */
  private onViolation(violation: StreamViolation): void {
    const sink = this.pending.get(violation.id);
    if (!sink) return this.notPending(violation.id, violation.frameType, `${violation.message} (about request ${violation.id}, which is not pending)`);
    this.counted('violation');
    this.log.info({ agentId: this.agentId, requestId: violation.id, frameType: violation.frameType, reason: violation.message }, 'protocol violation by the agent: request ended');
    sink.onViolation(violationError(violation, 'agent'));
  }

  /** A scanned chunk: to its request (as bytes to a stream, parsed to any other), as `onRegisteredFrame` routes a chunk. */
  private onChunk(chunk: ScannedChunk): void {
    const sink = this.pending.get(chunk.id);
    if (sink) return sink.onChunk ? sink.onChunk(chunk) : sink.onFrame(parsedChunk(chunk));
    this.notPending(chunk.id, 'chunk');
  }

  /** A scanned result: to its request (as bytes where it takes them), as `onRegisteredFrame` routes a result. */
  private onResult(result: ScannedResult): void {
    const sink = this.pending.get(result.id);
    if (sink) return sink.onResult ? sink.onResult(result) : sink.onFrame(parsedResult(result));
    this.notPending(result.id, 'result');
  }

  private onClose(code: number): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subs) s.unsubscribe();
    this.liveness.complete();
    this.inbound.complete();
    const err = (id: string) =>
      new ProtocolError('AGENT_DISCONNECTED', `agent ${this.agentId ?? '?'} disconnected (close ${code}) before answering`, { requestId: id });
    const sinks = [...this.pending.entries()];
    this.pending.clear();
    for (const [id, sink] of sinks) sink.onClose(err(id));
    this.closedSubject.next();
    this.closedSubject.complete();
  }
}
