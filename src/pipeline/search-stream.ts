/**
 * `search` → `chunk`… `end` frames under the hub's credit: a page is pulled from
 * the adapter only when there is credit to send what it yields, and `end {count}` carries the
 * exact number of items sent. Closing the page source abandons the upstream search.
 */
import { map, tap, type Observable } from 'rxjs';
import type { PageSource } from '../adapters/adapter.js';
import { chunkBySize, creditStream } from '../operators/index.js';
import { encodeChunk, nonNegativeInt, ProtocolError, type OutgoingFrame, type Request } from '../protocol/index.js';
import { CHUNK_ENVELOPE_BYTES, type PipelineLimits } from './limits.js';
import { NO_METER, type RequestMeter } from './meter.js';

/** Items an adapter serialised itself: checked to be texts, passed through. */
function jsonTexts(items: readonly unknown[]): readonly string[] {
  for (const item of items) {
    if (typeof item !== 'string') throw new ProtocolError('INTERNAL', `a pre-serialised page holds a ${typeof item}, not JSON text`);
  }
  return items as readonly string[];
}

export function searchFrames(
  request: Request,
  source: PageSource<unknown>,
  credit$: Observable<number>,
  limits: PipelineLimits,
  meter: RequestMeter = NO_METER,
): Observable<OutgoingFrame> {
  const id = request.id;
  let firstPage = true;
  // Each item is serialised once — here, or by the adapter (`itemFormat: 'json'`) — and its text
  // is measured for chunking and sent as is.
  const texts = source.itemFormat === 'json' ? jsonTexts : (items: readonly unknown[]): readonly string[] => items.map((item) => JSON.stringify(item) ?? 'null');
  return creditStream<string>({
    pull: () =>
      source.pull().pipe(
        tap(() => {
          if (firstPage) meter.firstResult();
          firstPage = false;
        }),
        map((page) => ({ ...page, items: texts(page.items) })),
      ),
    credit$,
    initialCredit: request.credit ?? 0,
    chunk: (texts) =>
      chunkBySize(texts, {
        maxItems: limits.maxChunkItems,
        maxBytes: limits.maxFrameBytes - CHUNK_ENVELOPE_BYTES,
        measure: (text) => Buffer.byteLength(text as string),
      }),
    close: () => source.close(),
    prefetch: true,
    onStall: () => meter.creditStalled(),
  }).pipe(
    tap((event) => {
      if (event.type === 'chunk') meter.chunkSent(event.items.length, itemsBytes(event.items));
    }),
    map((event): OutgoingFrame =>
      event.type === 'chunk'
        ? encodeChunk(id, event.seq, event.items)
        : {
            type: 'end',
            id,
            count: nonNegativeInt(event.count),
            ...(event.truncated ? { truncated: true } : {}),
            ...(event.total === undefined ? {} : { total: nonNegativeInt(event.total) }),
          },
    ),
  );
}

/** Bytes of `[text,text,…]`: what `JSON.stringify` of the items array would be. */
function itemsBytes(texts: readonly string[]): number {
  let bytes = 1 + Math.max(texts.length, 1);
  for (const text of texts) bytes += Buffer.byteLength(text);
  return bytes;
}
