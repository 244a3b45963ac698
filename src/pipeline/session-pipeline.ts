/**
 * Serves one registered session: every `request` frame flows through admission
 * (duplicate ids refused, at most `maxConcurrentRequests` running and `maxQueuedRequests`
 * waiting, then BUSY), `runRequest`, and the session writer (socket-writer.ts): each request
 * writes into its own lane, and its stream produces only while that lane can take a frame, so
 * the socket — not the hub's credit — paces the upstream. The session's other frames are routed
 * to their request by id; a `cancel` also drops the search chunks still queued for it. When the
 * socket goes, `frames$` completes and everything in flight is unsubscribed — upstream
 * operations are abandoned at once.
 */
import { EMPTY, connect, defer, endWith, filter, finalize, ignoreElements, map, merge, mergeMap, of, share, takeUntil, tap, type Observable } from 'rxjs';
import type { Session } from '../connection/session.js';
import { boundedMerge } from '../operators/index.js';
import { ProtocolError, type Frame, type OutgoingFrame, type Request } from '../protocol/index.js';
import { errorFrame } from './failures.js';
import { RequestInboxes } from './inbox.js';
import { runRequest, type RequestDeps } from './run-request.js';
import { SessionWriter } from './socket-writer.js';

type Admission =
  | { readonly ok: true; readonly request: Request }
  | { readonly ok: false; readonly request: Request; readonly why: 'duplicate' | 'draining' };

export function servePipeline(session: Session, deps: RequestDeps): Observable<never> {
  return defer(() => {
    const log = deps.log.child({ url: session.url, sessionId: session.sessionId });
    const inboxes = new RequestInboxes();
    const frames$ = session.frames$.pipe(share());
    const writer = new SessionWriter(session, {
      onError: (err, frame) => log.debug({ err, frameType: frame.type }, 'frame not written'),
      onWritable: (writable, bufferedAmount) =>
        log.debug({ bufferedAmount, ...writer.stats }, writable ? 'socket writable again' : 'socket not writable: streams wait'),
    });
    // Handed to runRequest: search and export streams wait for their lane (see RequestDeps).
    const requestDeps = { ...deps, log, writeReady: (id: string) => writer.ready$(id) };

    const requests$ = frames$.pipe(filter((f): f is Request => f.type === 'request'));
    const others$ = frames$.pipe(
      filter((f) => f.type !== 'request'),
      mergeMap((f): Observable<Frame> => {
        if (f.type === 'error') {
          log.warn({ code: f.code, reason: f.message, requestId: f.id }, 'hub reported an error about a frame we sent');
          return EMPTY;
        }
        const id = 'id' in f ? f.id : undefined;
        // A cancel reaches its request first (it stops producing), then its queued chunks go.
        const routed = id !== undefined && inboxes.route(id, f);
        if (f.type === 'cancel') {
          const dropped = writer.cancel(f.id);
          if (dropped > 0) log.debug({ requestId: f.id, dropped, framesDropped: writer.stats.framesDropped }, 'cancel: search chunks still queued for the socket dropped');
        }
        if (routed) return EMPTY;
        // credit/cancel/chunk for a request that already ended race with its end: not an error.
        log.debug({ frameType: f.type, requestId: id }, 'frame for no open request ignored');
        return EMPTY;
      }),
    );

    const answers$ = requests$.pipe(
      map((request): Admission => {
        if (inboxes.has(request.id)) return { ok: false, request, why: 'duplicate' };
        if (deps.drain?.draining) return { ok: false, request, why: 'draining' };
        inboxes.open(request.id);
        return { ok: true, request };
      }),
      connect((admissions$) =>
        merge(
          admissions$.pipe(
            filter((a) => !a.ok),
            map((a) => {
              const frame = errorFrame(
                a.ok
                  ? new ProtocolError('INTERNAL', 'admitted request in the refusal path')
                  : a.why === 'draining'
                    ? new ProtocolError('BUSY', 'agent is shutting down: send the request to another agent')
                    : new ProtocolError('BAD_REQUEST', `duplicate request id ${a.request.id}: a request with this id is still running`),
                a.request.id,
                a.request.dataSource,
                log,
              );
              deps.metrics?.requestRefused(a.request.op, a.request.dataSource, frame.code);
              return frame;
            }),
          ),
          admissions$.pipe(
            filter((a) => a.ok),
            map((a) => a.request),
            boundedMerge<Request, OutgoingFrame>({
              concurrent: deps.limits.maxConcurrentRequests,
              queue: deps.limits.maxQueuedRequests,
              project: (request) =>
                defer(() => {
                  // Taken when the stream starts (not when queued), released however it ends.
                  const isStream = request.op === 'search' || request.op === 'export';
                  if (isStream && deps.streams && !deps.streams.tryAcquire()) {
                    inboxes.close(request.id);
                    const frame = errorFrame(
                      new ProtocolError('BUSY', `agent busy: ${deps.streams.max} streams running (maxConcurrentStreams)`),
                      request.id,
                      request.dataSource,
                      log,
                    );
                    deps.metrics?.requestRefused(request.op, request.dataSource, frame.code);
                    return of<OutgoingFrame>(frame);
                  }
                  deps.drain?.started();
                  const lane = writer.open(request.id, { dropOnCancel: request.op === 'search' });
                  return runRequest(request, inboxes.frames$(request.id), requestDeps).pipe(
                    tap((frame) => lane.write(frame)),
                    ignoreElements(),
                    finalize(() => {
                      lane.end();
                      inboxes.close(request.id);
                      deps.drain?.finished();
                      if (isStream) deps.streams?.release();
                    }),
                  );
                }),
              reject: (request) => {
                inboxes.close(request.id);
                const frame = errorFrame(
                  new ProtocolError(
                    'BUSY',
                    `agent busy: ${deps.limits.maxConcurrentRequests} requests running and ${deps.limits.maxQueuedRequests} queued`,
                  ),
                  request.id,
                  request.dataSource,
                  log,
                );
                deps.metrics?.requestRefused(request.op, request.dataSource, frame.code);
                return of<OutgoingFrame>(frame);
              },
            }),
          ),
        ),
      ),
    );

    // The socket is gone when its frames complete: every request in flight is unsubscribed at
    // once, which abandons its upstream operation (nothing could be sent for it any more).
    const socketClosed$ = frames$.pipe(ignoreElements(), endWith(true));
    // What reaches here are the session's own answers (refusals); requests write to their lanes.
    return merge(answers$, others$).pipe(
      takeUntil(socketClosed$),
      tap((frame) => writer.control.write(frame)),
      ignoreElements(),
      finalize(() => {
        inboxes.closeAll();
        writer.close();
      }),
    );
  });
}
