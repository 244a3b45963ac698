/**
 * Serves one registered session: every `request` frame goes through admission (duplicate ids
 * refused, at most `maxConcurrentRequests` running and `maxQueuedRequests` waiting, then BUSY),
 * `runRequest`, and the session writer (socket-writer.ts): each request writes into its own
 * lane, and its stream produces only while that lane can take a frame, so the socket — not the
 * hub's credit — paces the upstream. The session's other frames are routed to their request by
 * id; a `cancel` also drops the search chunks still queued for it. When the socket goes,
 * `frames$` completes and everything in flight is unsubscribed — upstream operations are
 * abandoned at once.
 *
 * Protocol errors (docs/protocol.md): a frame the socket layer refused that names an open
 * request (`violations$`), or a `request` reusing the id of one still open, ends that request
 * with BAD_FRAME — its `error` frame with the id is the last word on it (a request still
 * waiting for a slot is answered so without starting). A refused frame naming no open request
 * gets an `error` frame without an id (a refused `request` is answered with its own id: that
 * answer ends the hub's request); the session stays up.
 *
 * One subscriber takes every inbound frame and switches on its type: a request is admitted,
 * queued or refused right there, anything else goes straight to its request's inbox. (A chain
 * of shared, filtered and merged streams did the same with several hops per frame, which a
 * one-entry `get` paid for on every request.)
 */
import { Observable, type Subscription } from 'rxjs';
import type { Session } from '../connection/session.js';
import { ProtocolError, violationError, type Frame, type Request, type StreamViolation } from '../protocol/index.js';
import { errorFrame } from './failures.js';
import { RequestInboxes } from './inbox.js';
import { runRequest, type RequestDeps } from './run-request.js';
import { SessionWriter } from './socket-writer.js';

/**
 * Refused frames that name a request, from the socket layer (the agent's dial): the requests
 * answer them, not the socket layer. Absent: the socket layer answers every refused frame.
 */
export interface ViolationSource {
  readonly violations$?: Observable<StreamViolation>;
}

export function servePipeline(session: Session & ViolationSource, deps: RequestDeps): Observable<never> {
  return new Observable<never>((subscriber) => {
    const log = deps.log.child({ url: session.url, sessionId: session.sessionId });
    const { maxConcurrentRequests, maxQueuedRequests } = deps.limits;
    const inboxes = new RequestInboxes();
    const writer = new SessionWriter(session, {
      onError: (err, frame) => log.debug({ err, frameType: frame.type }, 'frame not written'),
      onWritable: (writable, bufferedAmount) =>
        log.debug({ bufferedAmount, ...writer.stats }, writable ? 'socket writable again' : 'socket not writable: streams wait'),
    });
    // Handed to runRequest: search and export streams wait for their lane (see RequestDeps).
    const requestDeps = { ...deps, log, writeReady: (id: string) => writer.ready$(id) };
    /** Requests running (their subscriptions) and admitted requests waiting for a slot, in order. */
    const running = new Set<Subscription>();
    const waiting: Request[] = [];
    let active = 0;
    let closed = false;

    /** Answers a request with an error frame without running it (the session's own lane). */
    const refuse = (request: Request, err: ProtocolError): void => {
      const frame = errorFrame(err, request.id, request.dataSource, log);
      deps.metrics?.requestRefused(request.op, request.dataSource, frame.code);
      writer.control.write(frame);
    };

    const startWaiting = (): void => {
      while (!closed && active < maxConcurrentRequests && waiting.length > 0) start(waiting.shift() as Request);
    };

    /** Runs an admitted request in a slot, which frees (and starts the next waiting) however it ends. */
    const start = (request: Request): void => {
      // A stream slot is taken when the stream starts (not when queued), released however it ends.
      const isStream = request.op === 'search' || request.op === 'export';
      if (isStream && deps.streams && !deps.streams.tryAcquire()) {
        inboxes.close(request.id);
        refuse(request, new ProtocolError('BUSY', `agent busy: ${deps.streams.max} streams running (maxConcurrentStreams)`));
        return;
      }
      active += 1;
      deps.drain?.started();
      const lane = writer.open(request.id, { dropOnCancel: request.op === 'search' });
      let subscription: Subscription | undefined;
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        lane.end();
        inboxes.close(request.id);
        deps.drain?.finished();
        if (isStream) deps.streams?.release();
        active -= 1;
        if (subscription !== undefined) running.delete(subscription);
        startWaiting();
      };
      subscription = runRequest(request, inboxes.frames$(request.id), requestDeps).subscribe({
        next: (frame) => lane.write(frame),
        error: (err: unknown) => {
          end();
          subscriber.error(err);
        },
        complete: end,
      });
      // Unsubscribed from outside (the session closed): the request ends all the same.
      subscription.add(end);
      if (!ended) running.add(subscription);
    };

    /**
     * A frame about request `violation.id` broke the protocol: the request ends with BAD_FRAME
     * (see the file comment); without an open request, the frame gets its answer here.
     */
    const violated = (violation: StreamViolation): void => {
      const { id } = violation;
      const err = violationError(violation, 'hub');
      log.info({ requestId: id, frameType: violation.frameType, reason: violation.message }, 'protocol violation by the hub');
      const queued = waiting.findIndex((r) => r.id === id);
      if (queued >= 0) {
        const [request] = waiting.splice(queued, 1) as [Request];
        inboxes.close(id);
        refuse(request, err);
      } else if (inboxes.has(id)) {
        inboxes.route(id, { type: 'violation', violation });
      } else {
        // No open request: a refused request is answered with its id (which ends it on the hub);
        // any other frame with an error without one, naming the id in its message.
        const message = violation.frameType === 'request' ? violation.message : `${violation.message} (about request ${id}, which is not open)`;
        writer.control.write({ type: 'error', code: 'BAD_FRAME', message, retryable: false, ...(violation.frameType === 'request' ? { id } : {}) });
      }
    };

    const admit = (request: Request): void => {
      if (inboxes.has(request.id)) {
        violated({ id: request.id, frameType: 'request', message: `request id ${request.id} reused while a request with this id is open` });
      } else if (deps.drain?.draining) {
        refuse(request, new ProtocolError('BUSY', 'agent is shutting down: send the request to another agent'));
      } else if (active < maxConcurrentRequests && waiting.length === 0) {
        inboxes.open(request.id);
        start(request);
      } else if (waiting.length < maxQueuedRequests) {
        inboxes.open(request.id);
        waiting.push(request);
      } else {
        refuse(request, new ProtocolError('BUSY', `agent busy: ${maxConcurrentRequests} requests running and ${maxQueuedRequests} queued`));
      }
    };

    const route = (frame: Frame): void => {
      if (frame.type === 'error') {
        log.warn({ code: frame.code, reason: frame.message, requestId: frame.id }, 'hub reported an error about a frame we sent');
        // An error naming an open request is the hub's last word on it: the request stops.
        if (frame.id !== undefined) inboxes.route(frame.id, frame);
        return;
      }
      const id = 'id' in frame ? frame.id : undefined;
      // A cancel reaches its request first (it stops producing), then its queued chunks go.
      const routed = id !== undefined && inboxes.route(id, frame);
      if (frame.type === 'cancel') {
        const dropped = writer.cancel(frame.id);
        if (dropped > 0) log.debug({ requestId: frame.id, dropped, framesDropped: writer.stats.framesDropped }, 'cancel: search chunks still queued for the socket dropped');
      }
      // credit/cancel/chunk for a request that already ended race with its end: not an error.
      if (!routed) log.debug({ frameType: frame.type, requestId: id }, 'frame for no open request ignored');
    };

    // The socket is gone when its frames complete: every request in flight is unsubscribed at
    // once, which abandons its upstream operation (nothing could be sent for it any more).
    const inbound = session.frames$.subscribe({
      next: (frame) => (frame.type === 'request' ? admit(frame) : route(frame)),
      error: (err: unknown) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });

    const refused = session.violations$?.subscribe(violated);

    return () => {
      closed = true;
      inbound.unsubscribe();
      refused?.unsubscribe();
      waiting.length = 0;
      for (const subscription of [...running]) subscription.unsubscribe();
      inboxes.closeAll();
      writer.close();
    };
  });
}
