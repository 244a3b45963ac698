/**
 * `search` → `chunk`… `end` frames under the hub's credit: a page is pulled from
 * the adapter only when there is credit to send what it yields — and, with a `gate`, only when
 * the session writer has room for this request's next frame, so a hub that grants much credit
 * and stops reading its socket stops the upstream too. `end {count}` carries the exact number
 * of items sent. Closing the page source abandons the upstream search.
 *
 * Two forms of source: pages of values or JSON texts (each item serialised here or by the
 * adapter, then joined into the frame's text), and pages that are `JsonBatch`es (items already
 * serialised into one buffer): those are cut into chunks by their items' byte lengths and each
 * chunk frame is the batch's slice between a head and a tail — the items are never copied.
 */
import { map, tap, type Observable } from 'rxjs';
import type { BatchPageSource, Page, PageSource, SearchSource } from '../adapter-kit/adapter.js';
import { isBatchSource } from '../adapter-kit/adapter.js';
import type { JsonBatch } from '../adapter-kit/json-batch.js';
import { chunkBySize, creditStream, type ChunkLimits, type CreditStreamEvent, type PulledPage } from '../operators/index.js';
import { chunkFromBytes, encodeChunk, nonNegativeInt, ProtocolError, type OutgoingFrame, type Request } from '../protocol/index.js';
import { CHUNK_ENVELOPE_BYTES, type PipelineLimits } from './limits.js';
import { NO_METER, type RequestMeter } from './meter.js';

/** Items an adapter serialised itself: checked to be texts, passed through. */
function jsonTexts(items: readonly unknown[]): readonly string[] {
  for (const item of items) {
    if (typeof item !== 'string') throw new ProtocolError('INTERNAL', `a pre-serialised page holds a ${typeof item}, not JSON text`);
  }
  return items as readonly string[];
}

/** Items `[from, to)` of one batch: one chunk frame's items. */
interface BatchRange {
  readonly batch: JsonBatch;
  readonly from: number;
  readonly to: number;
}

/**
 * @param gate whether the session writer can take this request's next frame now (see
 *   `SessionWriter.ready$`); absent: credit alone paces the stream.
 */
export function searchFrames(
  request: Request,
  source: SearchSource,
  credit$: Observable<number>,
  limits: PipelineLimits,
  meter: RequestMeter = NO_METER,
  gate?: Observable<boolean>,
): Observable<OutgoingFrame> {
  return isBatchSource(source) ? batchFrames(request, source, credit$, limits, meter, gate) : textFrames(request, source, credit$, limits, meter, gate);
}

/** The chunk limits of a frame: `maxChunkItems`, and the frame size less the envelope. */
function chunkLimits(limits: PipelineLimits): Pick<ChunkLimits, 'maxItems' | 'maxBytes'> {
  return { maxItems: limits.maxChunkItems, maxBytes: limits.maxFrameBytes - CHUNK_ENVELOPE_BYTES };
}

function textFrames(
  request: Request,
  source: PageSource<unknown>,
  credit$: Observable<number>,
  limits: PipelineLimits,
  meter: RequestMeter,
  gate: Observable<boolean> | undefined,
): Observable<OutgoingFrame> {
  const id = request.id;
  // Each item is serialised once — here, or by the adapter (`itemFormat: 'json'`) — and its text
  // is measured for chunking and sent as is.
  const texts = source.itemFormat === 'json' ? jsonTexts : (items: readonly unknown[]): readonly string[] => items.map((item) => JSON.stringify(item) ?? 'null');
  const firstPage = firstPageMeter<Page<unknown>>(meter);
  return creditStream<string>({
    pull: () => source.pull().pipe(firstPage, map((page) => ({ ...page, items: texts(page.items) }))),
    credit$,
    initialCredit: request.credit ?? 0,
    chunk: (texts) => chunkBySize(texts, { ...chunkLimits(limits), measure: (text) => Buffer.byteLength(text as string) }),
    close: () => source.close(),
    prefetch: true,
    onStall: () => meter.creditStalled(),
    ...(gate === undefined ? {} : { gate }),
  }).pipe(
    tap((event) => {
      if (event.type === 'chunk') meter.chunkSent(event.items.length, itemsBytes(event.items));
    }),
    map((event): OutgoingFrame => (event.type === 'chunk' ? encodeChunk(id, event.seq, event.items) : endFrame(id, event))),
  );
}

function batchFrames(
  request: Request,
  source: BatchPageSource,
  credit$: Observable<number>,
  limits: PipelineLimits,
  meter: RequestMeter,
  gate: Observable<boolean> | undefined,
): Observable<OutgoingFrame> {
  const id = request.id;
  const cut = chunkLimits(limits);
  const firstPage = firstPageMeter<BatchPage>(meter);
  return creditStream<BatchRange>({
    pull: () =>
      source.pull().pipe(
        firstPage,
        map((page): PulledPage<BatchRange> => ({ ...page, items: batchRanges(page.items, cut) })),
      ),
    credit$,
    initialCredit: request.credit ?? 0,
    // Each range is one chunk already (cut by the same rules as the text path).
    chunk: (ranges) => ranges.map((range) => [range]),
    weight: (range) => range.to - range.from,
    close: () => source.close(),
    prefetch: true,
    onStall: () => meter.creditStalled(),
    ...(gate === undefined ? {} : { gate }),
  }).pipe(
    map((event): OutgoingFrame => {
      if (event.type !== 'chunk') return endFrame(id, event);
      const { batch, from, to } = event.items[0] as BatchRange;
      const items = batch.slice(from, to);
      // `[` + the slice + `]`: what the text path measures for the same items.
      meter.chunkSent(to - from, items.length + 2);
      return chunkFromBytes(id, event.seq, items);
    }),
  );
}

/**
 * A batch cut into chunks by its items' byte lengths, within `maxItems` and `maxBytes` — the
 * same greedy cut (and the same `ItemTooLargeError`) as `chunkBySize` over the items' texts.
 */
export function batchRanges(batch: JsonBatch, limits: Pick<ChunkLimits, 'maxItems' | 'maxBytes'>): BatchRange[] {
  const indices = Array.from({ length: batch.count }, (_, i) => i);
  const chunks = chunkBySize(indices, { ...limits, measure: (i) => batch.itemBytes(i as number) });
  return chunks.map((c) => ({ batch, from: c[0] as number, to: (c.at(-1) as number) + 1 }));
}

type BatchPage = BatchPageSource extends { pull(): Observable<infer P> } ? P : never;

/** Tells the meter of the stream's first page (one operator per stream: its flag is shared). */
function firstPageMeter<P>(meter: RequestMeter): (page$: Observable<P>) => Observable<P> {
  let first = true;
  return tap(() => {
    if (first) meter.firstResult();
    first = false;
  });
}

function endFrame(id: Request['id'], event: Extract<CreditStreamEvent<unknown>, { type: 'end' }>): OutgoingFrame {
  return {
    type: 'end',
    id,
    count: nonNegativeInt(event.count),
    ...(event.truncated ? { truncated: true } : {}),
    ...(event.total === undefined ? {} : { total: nonNegativeInt(event.total) }),
  };
}

/** Bytes of `[text,text,…]`: what `JSON.stringify` of the items array would be. */
function itemsBytes(texts: readonly string[]): number {
  let bytes = 1 + Math.max(texts.length, 1);
  for (const text of texts) bytes += Buffer.byteLength(text);
  return bytes;
}
