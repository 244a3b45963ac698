/**
 * The hub's side of one request to an agent, as cold Observables: subscribing sends the
 * `request`, unsubscribing before the end sends `cancel`. Streams are received under credit:
 * the hub grants a chunk of credit per chunk its subscriber has taken, or as an
 * explicit `demand$` says (an HTTP response that drains slowly), so a slow consumer stops the
 * agent's upstream pulls.
 *
 * A search's chunks arrive as bytes (`ScannedChunk`, read by agent-link.ts): the credit, seq
 * and count checks need only the item count, so items are passed on unparsed — an HTTP response
 * writes their bytes, the in-process API parses them when it reads `items`.
 */
import { randomUUID } from 'node:crypto';
import { Observable, timer, type SchedulerLike, type Subscription } from 'rxjs';
import {
  IdempotencyKey,
  ProtocolError,
  nonNegativeInt,
  parsedChunk,
  parsedResult,
  positiveInt,
  requestId,
  ResultData,
  type ChunkItems,
  type ErrorFrame,
  type Frame,
  type Operation,
  type ScannedChunk,
  type ScannedResult,
} from '../protocol/index.js';

export interface RequestSink {
  onFrame(frame: Frame): void;
  /** A chunk read by the scanner, items still bytes; without it the chunk comes parsed to `onFrame`. */
  onChunk?(chunk: ScannedChunk): void;
  /** A result read by the scanner, data still bytes; without it the result comes parsed to `onFrame`. */
  onResult?(result: ScannedResult): void;
  onClose(err: ProtocolError): void;
  /**
   * A frame about this request broke the protocol (refused by the link, e.g. a malformed chunk):
   * the request fails with `err` and is cancelled on the agent (docs/protocol.md, "Protocol errors").
   */
  onViolation(err: ProtocolError): void;
}

/** What a request needs of the agent connection. */
export interface LinkPort {
  readonly agentId: string;
  readonly maxFrameBytes: number;
  /** Records per export chunk the agent accepts (its hello's limits), where it said. */
  readonly maxChunkItems?: number;
  readonly scheduler?: SchedulerLike;
  send(frame: Frame): void;
  attach(id: string, sink: RequestSink): boolean;
  detach(id: string): boolean;
}

export interface RequestSpec {
  readonly op: Operation;
  readonly dataSource: string;
  readonly params: Record<string, unknown>;
  readonly timeoutMs: number;
  /** Correlation id, also in the agent's logs; generated when absent. */
  readonly id?: string;
  /** Export only: the caller's idempotency key (the agent journals the export under it). */
  readonly idempotencyKey?: string;
}

/** Brands a key the caller gave (checked by the HTTP API; a bad one from code is BAD_REQUEST). */
function idempotencyKey(key: string): IdempotencyKey {
  if (!IdempotencyKey.is(key)) throw new ProtocolError('BAD_REQUEST', 'an idempotency key is 1-255 printable ASCII characters');
  return key;
}

/** Extra time the hub waits beyond the agent's own deadline, so the agent's TIMEOUT arrives first. */
const DEADLINE_GRACE_MS = 1000;

export interface Exchange {
  readonly id: string;
  /** Sends a frame for this request unless it has finished. */
  send(frame: Frame): void;
}

export interface ExchangeSubscriber<T> {
  next(v: T): void;
  error(e: unknown): void;
  complete(): void;
}

export interface ExchangeHandlers {
  /** Frames for this request other than `error` (handled here). */
  onFrame(frame: Frame): void;
  /** A chunk whose items are still bytes; without it the chunk is parsed and goes to `onFrame`. */
  onChunk?(chunk: ScannedChunk): void;
  /** A result whose data is still bytes; without it the result is parsed and goes to `onFrame`. */
  onResult?(result: ScannedResult): void;
  /**
   * The agent's `error` frame ends the request: this may first emit what the frame carries (an
   * export's last results) and returns the error the request fails with (`err`, or BAD_FRAME
   * when what it carries is malformed).
   */
  onError?(frame: ErrorFrame, err: ProtocolError): ProtocolError;
  /** Runs once when the request finishes for any reason. */
  teardown?(): void;
}

/**
 * Runs `fn` after `ms` on `scheduler` (tests' virtual time), or on a plain timer — the one
 * timer a request schedules, cheaper than an rxjs action on the async scheduler. Returns the cancel.
 */
function afterMs(ms: number, scheduler: SchedulerLike | undefined, fn: () => void): () => void {
  if (scheduler !== undefined) {
    const sub: Subscription = timer(ms, scheduler).subscribe(fn);
    return () => sub.unsubscribe();
  }
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
}

/**
 * Shared skeleton: attach a sink, send the request, enforce the hub-side deadline, and cancel
 * on early unsubscribe. `setup` returns the sink handlers for this request kind.
 */
export function exchange<T>(
  port: LinkPort,
  spec: RequestSpec,
  credit: number | undefined,
  setup: (subscriber: ExchangeSubscriber<T>, ex: Exchange) => ExchangeHandlers,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    const id = requestId(spec.id ?? randomUUID());
    let finished = false;
    let deadline: (() => void) | undefined;
    let handlers: ExchangeHandlers | undefined;
    const finish = (): void => {
      finished = true;
      port.detach(id);
      deadline?.();
      handlers?.teardown?.();
    };
    const ex: Exchange = { id, send: (frame) => !finished && port.send(frame) };
    /**
     * Ends the request with `e`. A failure the hub detects itself (its deadline, a protocol
     * violation such as a chunk out of sequence or without credit) cancels the request on the
     * agent, which would otherwise go on holding its upstream operation; after the agent's own
     * `error` or a lost socket there is nothing to cancel.
     */
    const fail = (e: unknown, cancel: boolean): void => {
      if (finished) return;
      if (cancel) ex.send({ type: 'cancel', id });
      finish();
      subscriber.error(e);
    };
    const guarded = {
      next: (v: T) => subscriber.next(v),
      error: (e: unknown) => fail(e, true),
      complete: () => {
        if (finished) return;
        finish();
        subscriber.complete();
      },
    };
    const attached = port.attach(id, {
      onFrame: (frame) => {
        if (frame.type === 'error') {
          if (finished) return;
          const err = ProtocolError.fromFrame(frame, { requestId: id, dataSource: spec.dataSource });
          fail(handlers?.onError ? handlers.onError(frame, err) : err, false);
          return;
        }
        handlers?.onFrame(frame);
      },
      onChunk: (chunk) => (handlers?.onChunk ? handlers.onChunk(chunk) : handlers?.onFrame(parsedChunk(chunk))),
      onResult: (result) => (handlers?.onResult ? handlers.onResult(result) : handlers?.onFrame(parsedResult(result))),
      onClose: (err) => fail(err, false),
      onViolation: (err) => fail(err, true),
    });
    deadline = afterMs(spec.timeoutMs + DEADLINE_GRACE_MS, port.scheduler, () =>
      fail(
        new ProtocolError('TIMEOUT', `${spec.op} on ${spec.dataSource} timed out after ${spec.timeoutMs} ms`, {
          requestId: id,
          dataSource: spec.dataSource,
        }),
        true,
      ),
    );
    if (!attached) {
      fail(new ProtocolError('AGENT_DISCONNECTED', `agent ${port.agentId} is not connected`, { requestId: id }), false);
      return;
    }
    port.send({
      type: 'request',
      id,
      op: spec.op,
      dataSource: spec.dataSource,
      params: spec.params,
      timeoutMs: positiveInt(spec.timeoutMs),
      ...(credit === undefined ? {} : { credit: nonNegativeInt(credit) }),
      ...(spec.idempotencyKey === undefined ? {} : { idempotencyKey: idempotencyKey(spec.idempotencyKey) }),
    });
    // After the request is on its way, so no frame of ours (e.g. a credit) can precede it.
    handlers = setup(guarded, ex);
    return () => {
      if (finished) return;
      ex.send({ type: 'cancel', id });
      finish();
    };
  });
}

const unexpected = (frame: Frame, op: string): ProtocolError =>
  new ProtocolError('BAD_FRAME', `unexpected ${frame.type} frame in answer to ${op}`);

/**
 * A request–response operation: emits the `result` data once, as bytes when the frame was
 * scanned (`ResultData.json` writes them, `value` parses them), else as the decoded value.
 */
export function resultRequest(port: LinkPort, spec: RequestSpec): Observable<ResultData> {
  return exchange<ResultData>(port, spec, undefined, (sub) => {
    const answer = (data: ResultData): void => {
      sub.next(data);
      sub.complete();
    };
    return {
      onResult: (result) => answer(result.data),
      onFrame: (frame) => (frame.type === 'result' ? answer(ResultData.ofValue(frame.data)) : sub.error(unexpected(frame, spec.op))),
    };
  });
}

/** One chunk of a search. */
export interface ItemsEvent {
  readonly type: 'items';
  /** How many items the chunk holds. */
  readonly count: number;
  /** The items as values (parsed on first read when they came as bytes). */
  readonly items: readonly unknown[];
  /** The items as the agent sent them, when the chunk was scanned rather than parsed: write `bytes.ndjson()`. */
  readonly bytes?: ChunkItems;
}

export type StreamEvent = ItemsEvent | { readonly type: 'end'; readonly count: number; readonly truncated: boolean; readonly total?: number };

/** The event of a scanned chunk: `items` parses on first read. */
function bytesEvent(items: ChunkItems): ItemsEvent {
  return {
    type: 'items',
    count: items.count,
    bytes: items,
    get items(): readonly unknown[] {
      return items.values();
    },
  };
}

export interface StreamOptions {
  /** Chunks granted up front (default 8). */
  readonly window?: number;
  /**
   * Credit grants driven by the consumer. Without it, one credit is granted back for each chunk
   * once the subscriber's `next` has returned (synchronous consumers).
   */
  readonly demand$?: Observable<number>;
}

/**
 * Credit the hub has granted for a stream, and the check that the agent keeps to it: a chunk
 * beyond the credit would otherwise be buffered for a consumer that did not ask for it.
 */
export class CreditLedger {
  private granted: number;
  constructor(initial: number) {
    this.granted = initial;
  }

  /** Records a grant of `n` chunks and returns the frame that grants it. */
  grant(id: string, n: number): Frame {
    this.granted += n;
    return { type: 'credit', id: requestId(id), n: positiveInt(n) };
  }

  /** The violation when chunk number `seq` (0-based) arrives, if it was not granted. */
  check(seq: number): ProtocolError | undefined {
    return seq < this.granted ? undefined : new ProtocolError('BAD_FRAME', `chunk ${seq} sent without credit (${this.granted} granted)`);
  }
}

/** A `search`: item chunks under credit, then `end` with the exact count (checked). */
export function streamRequest(port: LinkPort, spec: RequestSpec, options: StreamOptions = {}): Observable<StreamEvent> {
  const window = options.window ?? 8;
  return exchange<StreamEvent>(port, spec, window, (sub, ex) => {
    let received = 0;
    let nextSeq = 0;
    const credit = new CreditLedger(window);
    const demandSub = options.demand$?.subscribe((n) => {
      if (n >= 1) ex.send(credit.grant(ex.id, Math.floor(n)));
    });
    /** The checks every chunk passes, then its event: seq in order, within credit, counted. */
    const onChunk = (seq: number, count: number, event: () => ItemsEvent): void => {
      if (seq !== nextSeq) return sub.error(new ProtocolError('BAD_FRAME', `chunk seq ${seq}, expected ${nextSeq}`));
      const violation = credit.check(seq);
      if (violation) return sub.error(violation);
      nextSeq += 1;
      received += count;
      sub.next(event());
      if (!options.demand$) ex.send(credit.grant(ex.id, 1));
    };
    return {
      teardown: () => demandSub?.unsubscribe(),
      onChunk: (chunk) => onChunk(chunk.seq, chunk.items.count, () => bytesEvent(chunk.items)),
      onFrame: (frame) => {
        if (frame.type === 'chunk') {
          const items = frame.items;
          return onChunk(frame.seq, items.length, () => ({ type: 'items', count: items.length, items }));
        }
        if (frame.type === 'end') {
          // The agent's count disagrees with what it sent: its fault (502), not the hub's (500).
          if (frame.count !== received) {
            return sub.error(new ProtocolError('BAD_FRAME', `stream ended with count ${frame.count} but ${received} items arrived`));
          }
          sub.next({ type: 'end', count: frame.count, truncated: frame.truncated ?? false, ...(frame.total === undefined ? {} : { total: frame.total }) });
          return sub.complete();
        }
        sub.error(unexpected(frame, spec.op));
      },
    };
  });
}
