/**
 * The hub's side of an `export` channel: records go to the agent in chunks, only
 * under the agent's credit; results come back under ours. Records are pulled from an
 * (async) iterable only when the agent has granted room for them, so a huge export never sits
 * in memory. An Observable source cannot be paused (RxJS pushes): its records wait in a
 * bounded buffer, and a source that outruns the agent by more than `maxBufferedRecords`
 * fails the export instead of growing memory — pass an AsyncIterable for large exports.
 *
 * A chunk goes out when it is full (`maxChunkItems`) or the source ended — or when records have
 * waited `lingerMs` (20 ms) for the chunk to fill: a client that sends a few records and then
 * waits (an interactive producer, a body paused mid-stream) has them written and answered
 * instead of held until it sends more. A fast source fills its chunks well within that time, so
 * a bulk export still travels in full chunks.
 *
 * An agent that fails the export reports in its `error` frame the results it had not sent yet
 * (`details.results`, `details.count` = every result of the export): they are emitted as a
 * last `results` event before the error, so the caller has a result for every record written.
 */
import { asyncScheduler, isObservable, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { chunkBySize } from '../operators/index.js';
import { ProtocolError, nonNegativeInt, requestId, type ErrorFrame, type Frame } from '../protocol/index.js';
import { CreditLedger, exchange, type LinkPort, type RequestSpec } from './request-sinks.js';

export type ExportEvent =
  | { readonly type: 'results'; readonly items: readonly unknown[] }
  | { readonly type: 'end'; readonly count: number };

export type RecordSource = AsyncIterable<unknown> | Iterable<unknown> | Observable<unknown>;

export interface ExportOptions {
  /** Result chunks granted up front (default 8). */
  readonly window?: number;
  /** Records per chunk at most (default: the agent's `maxChunkItems` from its hello, else 500). */
  readonly maxChunkItems?: number;
  /** Observable sources only: records waiting for agent credit before the export fails (default 10,000). */
  readonly maxBufferedRecords?: number;
  /** Consumer-driven credit for results, as for streams. */
  readonly demand$?: Observable<number>;
  /** How long records wait for their chunk to fill before they are sent as they are (default 20 ms). */
  readonly lingerMs?: number;
  /** Schedules the linger timer (a TestScheduler in marble tests). */
  readonly scheduler?: SchedulerLike;
}

/** Default of `ExportOptions.lingerMs`. */
export const EXPORT_LINGER_MS = 20;

/** Bytes a chunk frame needs besides its items (see the agent's CHUNK_ENVELOPE_BYTES). */
const ENVELOPE_BYTES = 512;

export function exportRequest(port: LinkPort, spec: RequestSpec, records: RecordSource, options: ExportOptions = {}): Observable<ExportEvent> {
  const maxItems = Math.min(options.maxChunkItems ?? Infinity, port.maxChunkItems ?? 500);
  const maxBuffered = options.maxBufferedRecords ?? 10_000;
  const window = options.window ?? 8;
  return exchange<ExportEvent>(port, { ...spec, op: 'export' }, window, (sub, ex) => {
    const id = requestId(ex.id);
    const resultCredit = new CreditLedger(window);
    let agentCredit = 0;
    let seq = 0;
    let sentRecords = 0;
    let received = 0;
    let nextResultSeq = 0;
    let sourceDone = false;
    let sentEnd = false;
    let pulling = false;
    const buffer: unknown[] = [];
    /** The records buffered waited `lingerMs`: send them without waiting for a full chunk. */
    let lingered = false;
    let linger: Subscription | undefined;
    const lingerMs = options.lingerMs ?? EXPORT_LINGER_MS;
    /** Records are waiting for their chunk to fill: send them anyway if that takes `lingerMs`. */
    const armLinger = (): void => {
      if (linger !== undefined || lingered || buffer.length === 0 || buffer.length >= maxItems) return;
      linger = (options.scheduler ?? asyncScheduler).schedule(() => {
        linger = undefined;
        lingered = true;
        pump();
      }, lingerMs);
    };
    let sourceSub: Subscription | undefined;
    let iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;

    // `sub.error` cancels the export on the agent (see `exchange`).
    const fail = (err: unknown): void => sub.error(err);

    const pump = (): void => {
      while (agentCredit > 0 && buffer.length > 0 && (buffer.length >= maxItems || sourceDone || lingered)) {
        let first: unknown[];
        try {
          first = chunkBySize(buffer.slice(0, maxItems), { maxItems, maxBytes: port.maxFrameBytes - ENVELOPE_BYTES })[0] ?? [];
        } catch (err) {
          return fail(new ProtocolError('BAD_REQUEST', `record ${sentRecords + 1} is too large for one frame: ${String(err)}`));
        }
        buffer.splice(0, first.length);
        agentCredit -= 1;
        sentRecords += first.length;
        ex.send({ type: 'chunk', id, seq: nonNegativeInt(seq++), items: first });
        if (buffer.length === 0) {
          // Sent: the next records wait for a chunk of their own.
          lingered = false;
          linger?.unsubscribe();
          linger = undefined;
        }
      }
      if (sourceDone && buffer.length === 0 && !sentEnd) {
        sentEnd = true;
        ex.send({ type: 'end', id, count: nonNegativeInt(sentRecords) });
        return;
      }
      if (iterator && !sourceDone && agentCredit > 0 && buffer.length < maxItems) void pullMore();
    };

    /** Pulls records from an (async) iterable until a chunk is full or it ends. */
    const pullMore = async (): Promise<void> => {
      if (pulling || !iterator) return;
      pulling = true;
      try {
        while (buffer.length < maxItems) {
          const r = await iterator.next();
          if (r.done) {
            sourceDone = true;
            break;
          }
          buffer.push(r.value);
          armLinger();
        }
      } catch (err) {
        pulling = false;
        return fail(new ProtocolError('BAD_REQUEST', `record source failed: ${err instanceof Error ? err.message : String(err)}`));
      }
      pulling = false;
      pump();
    };

    const start = (): void => {
      if (isObservable(records)) {
        sourceSub = records.subscribe({
          next: (r) => {
            buffer.push(r);
            armLinger();
            if (buffer.length > maxBuffered) {
              fail(
                new ProtocolError(
                  'BAD_REQUEST',
                  `more than ${maxBuffered} records waiting for the agent: the source pushes faster than the agent writes (pass an AsyncIterable)`,
                ),
              );
              return;
            }
            pump();
          },
          error: (err: unknown) => fail(new ProtocolError('BAD_REQUEST', `record source failed: ${err instanceof Error ? err.message : String(err)}`)),
          complete: () => {
            sourceDone = true;
            pump();
          },
        });
      } else if (Symbol.asyncIterator in records) {
        iterator = records[Symbol.asyncIterator]();
      } else {
        iterator = records[Symbol.iterator]();
      }
    };

    const demandSub = options.demand$?.subscribe((n) => {
      if (n >= 1) ex.send(resultCredit.grant(id, Math.floor(n)));
    });
    let started = false;

    return {
      teardown: () => {
        demandSub?.unsubscribe();
        sourceSub?.unsubscribe();
        linger?.unsubscribe();
        if (iterator && !sourceDone) void Promise.resolve(iterator.return?.()).catch(() => undefined);
      },
      // The agent failed the export: the results of the records it wrote and had not sent yet
      // come in the error frame; they are the caller's before the error.
      onError: (frame: ErrorFrame, err: ProtocolError): ProtocolError => {
        const carried = carriedResults(frame, received, sentRecords);
        if (carried instanceof ProtocolError) return carried;
        received += carried.length;
        if (carried.length > 0) sub.next({ type: 'results', items: carried });
        return withoutResults(err);
      },
      onFrame: (frame: Frame) => {
        switch (frame.type) {
          case 'credit':
            agentCredit += frame.n;
            // Past 2^53 − 1 counting is no longer exact: a protocol violation (docs/protocol.md).
            if (agentCredit > Number.MAX_SAFE_INTEGER) return sub.error(new ProtocolError('BAD_FRAME', `the agent granted more than ${Number.MAX_SAFE_INTEGER} record chunks of credit`));
            if (!started) {
              started = true;
              start();
            }
            pump();
            return;
          case 'chunk': {
            if (frame.seq !== nextResultSeq) return sub.error(new ProtocolError('BAD_FRAME', `result chunk seq ${frame.seq}, expected ${nextResultSeq}`));
            const violation = resultCredit.check(frame.seq);
            if (violation) return sub.error(violation);
            nextResultSeq += 1;
            received += frame.items.length;
            sub.next({ type: 'results', items: frame.items });
            if (!options.demand$) ex.send(resultCredit.grant(id, 1));
            return;
          }
          case 'end':
            // The agent's answer does not add up: its fault (502), not the hub's (500).
            if (frame.count !== sentRecords || received !== sentRecords) {
              return sub.error(
                new ProtocolError('BAD_FRAME', `export ended with ${frame.count} results (${received} received) for ${sentRecords} records`),
              );
            }
            sub.next({ type: 'end', count: frame.count });
            return sub.complete();
          default:
            return sub.error(new ProtocolError('BAD_FRAME', `unexpected ${frame.type} frame in an export`));
        }
      },
    };
  });
}

/** A well-formed export result: what the HTTP API writes as a result line. */
function isResult(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  if (!Number.isSafeInteger(r['index']) || (r['index'] as number) < 0) return false;
  if (r['ok'] === true) return true;
  return r['ok'] === false && typeof r['code'] === 'string' && typeof r['message'] === 'string' && typeof r['retryable'] === 'boolean';
}

/**
 * The results an export's `error` frame carries (`details.results`, with `details.count` = all
 * results of the export), checked against what the hub knows: `received` results came in
 * chunks, for `sentRecords` records. No `results` (an agent that failed the request before its
 * channel ran, or an older agent): none. Anything malformed or not adding up is the agent's
 * fault: BAD_FRAME, and none of it is passed on.
 */
function carriedResults(frame: ErrorFrame, received: number, sentRecords: number): readonly unknown[] | ProtocolError {
  const details = frame.details;
  if (details === undefined || !('results' in details)) return [];
  const bad = (why: string): ProtocolError => new ProtocolError('BAD_FRAME', `the agent's export error (${frame.code}: ${frame.message.slice(0, 200)}) ${why}`);
  const { results, count } = details as { results: unknown; count?: unknown };
  if (!Array.isArray(results)) return bad('carries details.results that is not an array');
  const i = results.findIndex((r) => !isResult(r));
  if (i >= 0) return bad(`carries details.results[${i}] that is not an export result`);
  if (count !== received + results.length) {
    return bad(`says details.count ${JSON.stringify(count)}, but ${received} results came in chunks and ${results.length} in details.results`);
  }
  if (received + results.length > sentRecords) return bad(`reports ${received + results.length} results for the ${sentRecords} records sent`);
  return results as readonly unknown[];
}

/** `err` without the results it carried (they were passed on as results), keeping `count`. */
function withoutResults(err: ProtocolError): ProtocolError {
  const details = err.context.details;
  if (details === undefined || !('results' in details)) return err;
  const { results: _results, ...rest } = details;
  return new ProtocolError(err.code, err.message, { ...err.context, details: rest }, { retryable: err.retryable });
}
