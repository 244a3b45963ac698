/**
 * Writes frames to the session in order, under the socket's own backpressure:
 * while ws's `bufferedAmount` is below the high-water mark, frames are handed to the socket
 * without waiting; above it, the writer waits for the send callback of the frame it just
 * queued before taking the next one. Upstream producers are credit-gated, so what waits here
 * is bounded by the credit windows.
 */
import { concatMap, defer, from, of, type Observable } from 'rxjs';
import type { Session } from '../connection/session.js';
import type { OutgoingFrame } from '../protocol/index.js';

export interface SocketWriterOptions {
  /** Bytes queued in the socket above which the writer waits for drains. Default 1 MiB. */
  readonly highWaterMark?: number;
  /** Called when a frame could not be written (socket gone, frame too large). */
  readonly onError?: (err: unknown, frame: OutgoingFrame) => void;
}

export function writeFrames(session: Session, options: SocketWriterOptions = {}): (frames$: Observable<OutgoingFrame>) => Observable<void> {
  const hwm = options.highWaterMark ?? 1024 * 1024;
  const report = (err: unknown, frame: OutgoingFrame): void => options.onError?.(err, frame);
  return (frames$) =>
    frames$.pipe(
      concatMap((frame) =>
        defer(() => {
          const written = session.send(frame);
          if (session.bufferedAmount() < hwm) {
            written.catch((err: unknown) => report(err, frame));
            return of(undefined);
          }
          return from(written.catch((err: unknown) => report(err, frame)));
        }),
      ),
    );
}
