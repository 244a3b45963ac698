/**
 * The agent's configurable limits, each over real TLS sockets hub ↔ agent: maxConcurrentStreams
 * (the stream beyond it is BUSY, a freed slot is reused), maxChunkItems (chunks sent stay under
 * it; the hub learns it from hello and cuts export chunks to fit), and maxFrameBytes (no chunk
 * frame over it, however big the items). The HTTP API's body limits are in http-api.test.ts.
 */
import { Subject, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { exportRequest } from '../../src/hub/export-request.js';
import type { StreamEvent } from '../../src/hub/request-sinks.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { memoryAdapter, type MemoryAdapter } from '../helpers/memory-adapter.js';
import { relayFixture, type RunningHub } from '../helpers/relay-env.js';

const fx = relayFixture();
const req = { tenantId: '1', dataSource: 'mem' };

async function setup(adapter: MemoryAdapter, extra: string): Promise<RunningHub> {
  return (await fx.memoryRelay(adapter, { agentExtra: extra })).hub;
}

describe('maxConcurrentStreams', () => {
  it('answers the stream beyond the bound BUSY while short requests still run, and reuses a freed slot', async () => {
    const adapter = memoryAdapter({ items: 10_000, pageSize: 100 });
    const hub = await setup(adapter, 'maxConcurrentStreams: 2\n');
    // Two streams held open: no demand after the first window.
    const held: Subscription[] = [];
    const firstChunks: Array<Promise<unknown>> = [];
    for (let i = 0; i < 2; i++) {
      const got = new Subject<void>();
      firstChunks.push(lastValueFrom(got, { defaultValue: undefined }));
      held.push(hub.hub.searchEvents$(req, { window: 1, demand$: new Subject<number>() }).subscribe(() => got.complete()));
    }
    fx.later(() => held.forEach((s) => s.unsubscribe()));
    await Promise.all(firstChunks);
    await expect(lastValueFrom(hub.hub.searchEvents$(req))).rejects.toMatchObject({ code: 'BUSY', retryable: true });
    // Not a request cap: a short request still runs.
    await expect(hub.hub.request({ ...req, op: 'test' })).resolves.toMatchObject({ ok: true });
    held[0]!.unsubscribe();
    const events = await lastValueFrom(hub.hub.searchEvents$(req).pipe(toArray()));
    expect(events.at(-1)).toEqual({ type: 'end', count: 10_000, truncated: false });
  });
});

describe('maxChunkItems', () => {
  it('bounds the items of every chunk the agent sends', async () => {
    const hub = await setup(memoryAdapter({ items: 1000, pageSize: 300 }), 'maxChunkItems: 40\n');
    const events: StreamEvent[] = await lastValueFrom(hub.hub.searchEvents$(req).pipe(toArray()));
    const sizes = events.flatMap((e) => (e.type === 'items' ? [e.items.length] : []));
    expect(Math.max(...sizes)).toBe(40);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('the hub cuts export chunks to the agent\'s limit from hello; a bigger chunk forced on it is BAD_REQUEST', async () => {
    const adapter = memoryAdapter();
    const hub = await setup(adapter, 'maxChunkItems: 25\n');
    const records = Array.from({ length: 300 }, (_, i) => ({ i }));
    const results = await lastValueFrom(hub.hub.export$(req, records).pipe(toArray()));
    expect(results).toHaveLength(300);
    expect(adapter.written).toHaveLength(300);
    // Without the hello's limit the hub would send 100-record chunks: the agent refuses them.
    const link = hub.hub.registry.agents('1')[0]!;
    const unlimited = { ...link.port(), maxChunkItems: 1000 };
    const err = await lastValueFrom(exportRequest(unlimited, { op: 'export', dataSource: 'mem', params: {}, timeoutMs: 10_000 }, records, { maxChunkItems: 100 })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('BAD_REQUEST');
    expect((err as ProtocolError).message).toMatch(/exceeds the limit of 25/);
    expect(adapter.written).toHaveLength(300);
  });
});

describe('maxFrameBytes', () => {
  it('cuts chunks by serialized size so no frame exceeds the negotiated limit', async () => {
    const hub = await setup(memoryAdapter({ items: 400, pageSize: 100, padChars: 900 }), 'maxFrameBytes: 16384\n');
    const events: StreamEvent[] = await lastValueFrom(hub.hub.searchEvents$(req).pipe(toArray()));
    const chunks = events.filter((e): e is Extract<StreamEvent, { type: 'items' }> => e.type === 'items');
    for (const c of chunks) expect(JSON.stringify(c.items).length).toBeLessThan(16384);
    expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil((400 * 950) / 16384));
    expect(events.at(-1)).toEqual({ type: 'end', count: 400, truncated: false });
  });
});
