/**
 * `search` and `export` as NDJSON streams, with backpressure from the HTTP client to the
 * upstream: credit goes back to the agent only once the client has read what was
 * written (the response's buffered bytes are below a mark), so a slow reader stops the agent's
 * page requests; a client that disconnects unsubscribes, which cancels the request on the
 * agent. Failures before the first line are JSON errors with a status; after it, a final error
 * line (never a silent short stream) whose `count` is the lines before it. A complete stream
 * ends with a summary line. A failed export reports every record the agent wrote: the results
 * its error frame carried arrive as a `results` event before the failure (export-request.ts),
 * so they are result lines before the error line, and the error line's `count` includes them.
 * A search chunk whose items came as bytes (request-sinks.ts) is written as those bytes, one
 * Buffer per chunk; items that came parsed are serialised here. Each stream counts what it
 * writes (request-progress.ts): progress lines while it runs, its metrics, and the counts and
 * outcome of its completion line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Subject, Subscription, type Observable } from 'rxjs';
import type { ExportEvent } from '../export-request.js';
import type { StreamEvent } from '../request-sinks.js';
import { errorLine, hubRequest, noBodyAsEmptyParams, paramsOf, writeFailure, type ApiContext } from './context.js';
import { ApiError, describeFailure } from './errors.js';
import { IdempotencyKey, ProtocolError } from '../../protocol/index.js';
import { NdjsonReader, NdjsonWriter } from './ndjson.js';
import { StreamProgress, trackStream, type StreamOp } from './request-progress.js';
import { ROUTE_SCHEMAS } from './schemas/routes.js';

/** Bytes of search output buffered for a slow reader before credit stops. */
const SEARCH_HIGH_WATER = 256 * 1024;
/**
 * Export results buffered before credit (and so the reading of the body) stops: generous, so
 * clients that send much of the body before they read the response do not deadlock.
 */
const EXPORT_HIGH_WATER = 8 * 1024 * 1024;
/** Chunks of credit granted up front. */
const WINDOW = 4;

export const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/json-seq'] as const;

/** What the stream has written. */
interface Written {
  started: boolean;
  count: number;
}

/** Lines of one `items`/`results` event: [succeeded, failed]. */
type Tally<E> = (e: Extract<E, { type: 'items' | 'results' }>, lines: number) => readonly [number, number];

/** Subscribes `events$`, writing lines; returns when the response is over. */
function pipeEvents<E extends StreamEvent | ExportEvent>(
  events$: (demand$: Observable<number>) => Observable<E>,
  req: FastifyRequest,
  reply: FastifyReply,
  highWater: number,
  progress: StreamProgress,
  tally: Tally<E>,
  finalLine: (end: Extract<E, { type: 'end' }>, written: Written) => { line: unknown } | { failure: unknown },
): Promise<void> {
  const res = reply.raw;
  const writer = new NdjsonWriter(res, highWater);
  const demand = new Subject<number>();
  const written: Written = { started: false, count: 0 };
  const failedWith = (err: unknown): void => progress.ended({ outcome: 'failed', errorCode: describeFailure(err, req.id).body.code });
  reply.hijack();
  return new Promise<void>((resolve) => {
    const start = (): void => {
      if (written.started) return;
      written.started = true;
      writer.start(req.id);
    };
    const fail = (err: unknown): void => {
      failedWith(err);
      if (!written.started) writeFailure(res, err, req.id);
      else writer.end(errorLine(err, req.id, written.count));
    };
    // A container, so that `next` may unsubscribe even before `subscribe` has returned.
    const sub = new Subscription();
    sub.add(
      events$(demand).subscribe({
        next: (e) => {
          if (e.type === 'end') {
            const end = e as Extract<E, { type: 'end' }>;
            const last = finalLine(end, written);
            if ('failure' in last) failedWith(last.failure);
            else progress.ended({ outcome: 'ok', ...('truncated' in end ? { truncated: end.truncated } : {}) });
            if ('failure' in last && !written.started) return writeFailure(res, last.failure, req.id, { connection: 'close' });
            start();
            writer.end('line' in last ? last.line : errorLine(last.failure, req.id, written.count));
            return;
          }
          const items = e as Extract<E, { type: 'items' | 'results' }>;
          let lines: string | Buffer;
          try {
            lines = 'bytes' in items && items.bytes ? items.bytes.ndjson() : NdjsonWriter.lines(items.items);
          } catch (err) {
            // An item we cannot write ends the stream (and cancels the request on the agent);
            // throwing here instead would escape RxJS as an uncaught exception.
            sub.unsubscribe();
            return fail(err);
          }
          start();
          const n = 'count' in items ? items.count : items.items.length;
          written.count += n;
          const [ok, failed] = tally(items, n);
          progress.written(ok, failed, typeof lines === 'string' ? Buffer.byteLength(lines) : lines.length);
          if (typeof lines === 'string') writer.write(lines);
          else writer.writeBytes(lines);
          writer.whenKeepingUp(() => demand.next(1));
        },
        error: fail,
      }),
    );
    res.once('close', () => {
      // Before the end: the client went away, so the request is cancelled on the agent.
      sub.unsubscribe();
      demand.complete();
      progress.close();
      resolve();
    });
  });
}

/** Progress lines, counts and metrics of the stream `req` serves (request-progress.ts). */
function streamProgress(ctx: ApiContext, req: FastifyRequest, op: StreamOp, dataSource: string): StreamProgress {
  const progress = new StreamProgress({
    op,
    everyMs: ctx.config.logging.progressInterval,
    log: req.log as Logger,
    tenantId: req.tenantId,
    dataSource,
    counters: ctx.hub.metrics,
  });
  return trackStream(req, progress);
}

export function registerStreamRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post('/v1/data-sources/:name/search', { schema: ROUTE_SCHEMAS.search, preValidation: noBodyAsEmptyParams }, async (req, reply) => {
    const request = hubRequest(ctx, req, 'search', paramsOf(req.body));
    const progress = streamProgress(ctx, req, 'search', request.dataSource);
    await pipeEvents<StreamEvent>(
      (demand$) => ctx.hub.searchEvents$(request, { window: WINDOW, demand$, servedBy: (agentId) => progress.servedBy(agentId) }),
      req,
      reply,
      SEARCH_HIGH_WATER,
      progress,
      (_e, lines) => [lines, 0],
      (end) => ({ line: { end: true, count: end.count, truncated: end.truncated, ...(end.total === undefined ? {} : { total: end.total }) } }),
    );
  });

  // The export body is a stream: its own content-type parser hands it over unread.
  void app.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser([...NDJSON_TYPES], (_req, payload, done) => done(null, payload));
    scope.post('/v1/data-sources/:name/export', { schema: ROUTE_SCHEMAS.export }, async (req, reply) => {
      const limits = { maxLineBytes: ctx.config.api.maxLineBytes, maxTotalBytes: ctx.config.api.maxExportBytes };
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > limits.maxTotalBytes) {
        throw new ApiError('PAYLOAD_TOO_LARGE', `the export body (${declared} bytes) is over api.maxExportBytes (${limits.maxTotalBytes} bytes)`);
      }
      const reader = new NdjsonReader(req.body as Readable, limits);
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IdempotencyKey.is(key))) {
        throw new ProtocolError('BAD_REQUEST', 'Idempotency-Key must be one header of 1-255 printable ASCII characters');
      }
      const request = { ...hubRequest(ctx, req, 'export'), ...(key === undefined ? {} : { idempotencyKey: key }) };
      const progress = streamProgress(ctx, req, 'export', request.dataSource);
      await pipeEvents<ExportEvent>(
        (demand$) => ctx.hub.exportEvents$(request, reader, { window: WINDOW, demand$, servedBy: (agentId) => progress.servedBy(agentId) }),
        req,
        reply,
        EXPORT_HIGH_WATER,
        progress,
        (e) => {
          let ok = 0;
          for (const r of e.items) if ((r as { ok?: unknown }).ok === true) ok += 1;
          return [ok, e.items.length - ok];
        },
        (end) => (reader.problem ? { failure: reader.problem } : { line: { end: true, count: end.count, ok: progress.ok, failed: progress.failed } }),
      );
      stopReading(req.raw, reply.raw);
    });
    done();
  });
}

/** A body not read to its end (a bad line, a failure) is not drained: the connection closes. */
function stopReading(body: IncomingMessage, res: ServerResponse): void {
  if (!body.readableEnded) {
    res.shouldKeepAlive = false;
    body.destroy();
  }
}
