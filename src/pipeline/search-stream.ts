/**
 * `search` → `chunk`… `end` frames under the hub's credit (DESIGN §6): a page is pulled from
 * the adapter only when there is credit to send what it yields, and `end {count}` carries the
 * exact number of items sent. Closing the page source abandons the upstream search.
 */
import { map, type Observable } from 'rxjs';
import type { PageSource } from '../adapters/adapter.js';
import { chunkBySize, creditStream } from '../operators/index.js';
import { nonNegativeInt, type Frame, type Request } from '../protocol/index.js';
import { CHUNK_ENVELOPE_BYTES, type PipelineLimits } from './limits.js';

export function searchFrames(
  request: Request,
  source: PageSource<unknown>,
  credit$: Observable<number>,
  limits: PipelineLimits,
): Observable<Frame> {
  const id = request.id;
  return creditStream<unknown>({
    pull: () => source.pull(),
    credit$,
    initialCredit: request.credit ?? 0,
    chunk: (items) => chunkBySize(items, { maxItems: limits.maxChunkItems, maxBytes: limits.maxFrameBytes - CHUNK_ENVELOPE_BYTES }),
    close: () => source.close(),
  }).pipe(
    map((event): Frame =>
      event.type === 'chunk'
        ? { type: 'chunk', id, seq: nonNegativeInt(event.seq), items: event.items }
        : { type: 'end', id, count: nonNegativeInt(event.count), ...(event.truncated ? { truncated: true } : {}) },
    ),
  );
}
