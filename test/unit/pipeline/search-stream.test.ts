/**
 * The two forms of a search source give the same bytes on the wire: pages of values (each
 * serialised and joined into the frame's text) and pages that are `JsonBatch`es (sliced, the
 * items never copied). Same chunk cut, same frames byte for byte, same counts for the meter,
 * same refusal of an item too large for a frame.
 */
import { firstValueFrom, NEVER, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { BatchPageSource, PageSource } from '../../../src/adapter-kit/adapter.js';
import { JsonBatch } from '../../../src/adapter-kit/json-batch.js';
import { ItemTooLargeError } from '../../../src/operators/chunk.js';
import { CHUNK_ENVELOPE_BYTES, type PipelineLimits } from '../../../src/pipeline/limits.js';
import { NO_METER, type RequestMeter } from '../../../src/pipeline/meter.js';
import { searchFrames } from '../../../src/pipeline/search-stream.js';
import { decodeFrame, frameData, type OutgoingFrame, type Request } from '../../../src/protocol/index.js';

const request = (credit: number): Request => ({ type: 'request', id: 'req-1', op: 'search', dataSource: 'ds', params: {}, timeoutMs: 5000, credit }) as unknown as Request;

function limits(maxFrameBytes: number, maxChunkItems: number): PipelineLimits {
  return { maxConcurrentRequests: 1, maxQueuedRequests: 1, maxRequestTimeoutMs: 10_000, maxFrameBytes, maxChunkItems, maxConcurrentStreams: 1, streamWindow: 1 };
}

const valuePages = (pages: unknown[][]): PageSource<unknown> => {
  let i = 0;
  return { pull: () => of({ items: pages[i] ?? [], last: ++i >= pages.length }), close: () => undefined };
};

const batchPages = (pages: unknown[][]): BatchPageSource => {
  let i = 0;
  return {
    itemFormat: 'json-batch',
    pull: () => of({ items: JsonBatch.fromTexts((pages[i] ?? []).map((v) => JSON.stringify(v))), last: ++i >= pages.length }),
    close: () => undefined,
  };
};

/** Each frame as the bytes the socket gets. */
const wire = (f: OutgoingFrame): Buffer => {
  const data = frameData(f, 1 << 30);
  return typeof data === 'string' ? Buffer.from(data) : Buffer.concat(data);
};

function recordingMeter(): { meter: RequestMeter; sent: Array<[number, number]> } {
  const sent: Array<[number, number]> = [];
  return { meter: { ...NO_METER, chunkSent: (items, bytes) => void sent.push([items, bytes]) }, sent };
}

async function run(source: PageSource<unknown> | BatchPageSource, l: PipelineLimits): Promise<{ frames: Buffer[]; sent: Array<[number, number]> }> {
  const { meter, sent } = recordingMeter();
  const frames = await firstValueFrom(searchFrames(request(1_000_000), source, NEVER, l, meter).pipe(toArray()));
  return { frames: frames.map(wire), sent };
}

const people = (n: number, from = 0): unknown[] =>
  Array.from({ length: n }, (_, k) => ({
    dn: `uid=p${from + k},ou=people,dc=example,dc=com`,
    attributes: { cn: [`Zoë "${from + k}" Ågren`, '\u0000\ufeffbom'], mail: [`p${from + k}@example.com`], description: ['x'.repeat((from + k) % 97)] },
  }));

describe('searchFrames: batch pages and value pages give the same frames', () => {
  it('byte for byte, cut by bytes and by count, over several pages; the meter sees the same', async () => {
    const pages = [people(37), people(0), people(50, 37), [null, 'text\n', 12, { 'a;binary': ['AAEC'] }]];
    // Frames small enough that the byte limit cuts most chunks, and a count limit of 7.
    const l = limits(CHUNK_ENVELOPE_BYTES + 700, 7);
    const text = await run(valuePages(pages), l);
    const batch = await run(batchPages(pages), l);
    expect(batch.frames.length).toBeGreaterThan(10);
    expect(batch.frames.map((b) => b.toString('hex'))).toEqual(text.frames.map((b) => b.toString('hex')));
    expect(batch.sent).toEqual(text.sent);
    // And what the hub reads: every item once, in order, then end with the count.
    const decoded = batch.frames.map((b) => decodeFrame(b, 1 << 30));
    const items = decoded.flatMap((d) => (d.ok && d.frame.type === 'chunk' ? d.frame.items : []));
    expect(items).toEqual(pages.flat());
    expect(decoded.at(-1)).toEqual({ ok: true, frame: { type: 'end', id: 'req-1', count: items.length } });
  });

  it('an item too large for a frame alone is refused the same way', async () => {
    const pages = [[{ a: 'x'.repeat(300) }]];
    const l = limits(CHUNK_ENVELOPE_BYTES + 100, 7);
    await expect(run(valuePages(pages), l)).rejects.toBeInstanceOf(ItemTooLargeError);
    await expect(run(batchPages(pages), l)).rejects.toBeInstanceOf(ItemTooLargeError);
  });

  it('a batch frame holds the batch slice itself, not a copy', async () => {
    const batch = JsonBatch.fromTexts(['1', '2', '3']);
    const source: BatchPageSource = { itemFormat: 'json-batch', pull: () => of({ items: batch, last: true }), close: () => undefined };
    const frames = await firstValueFrom(searchFrames(request(1), source, NEVER, limits(1 << 20, 100)).pipe(toArray()));
    const parts = frameData(frames[0] as OutgoingFrame, 1 << 20) as readonly Buffer[];
    expect(parts[1]?.buffer).toBe(batch.bytes.buffer);
    expect(Buffer.concat(parts).toString()).toBe('{"type":"chunk","id":"req-1","seq":0,"items":[1,2,3]}');
  });
});
