/**
 * The request pipeline over real TLS sockets, hub ↔ agent, with an in-memory data source that
 * records every page pull and write: credit-driven pulling, stalls, cancel, upstream failure,
 * deadlines, the concurrency cap, and the export channel. Nothing sleeps: "nothing more was
 * pulled" is checked after round trips to the agent (`roundTrips`), which prove it has acted on
 * everything the hub sent before them; "while a request runs" waits for the adapter to start it.
 */
import { Subject, firstValueFrom, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/protocol/index.js';
import type { StreamEvent } from '../../src/hub/request-sinks.js';
import { memoryAdapter, type MemoryAdapter } from '../helpers/memory-adapter.js';
import { relayFixture, roundTrips, type RunningHub, type TestAgent } from '../helpers/relay-env.js';

const fx = relayFixture();

async function setup(adapter: MemoryAdapter, extra = ''): Promise<RunningHub> {
  return (await setupBoth(adapter, extra)).hub;
}

async function setupBoth(adapter: MemoryAdapter, extra = ''): Promise<{ hub: RunningHub; agent: TestAgent }> {
  return fx.memoryRelay(adapter, { agentExtra: extra });
}

const req = { tenantId: '1', dataSource: 'mem' };

describe('search streams under credit', () => {
  it('streams every item with the exact count, one page pull per needed page', async () => {
    const adapter = memoryAdapter({ items: 2500, pageSize: 100 });
    const hub = await setup(adapter);
    const events = await lastValueFrom(hub.hub.searchEvents$(req).pipe(toArray()));
    const items = events.flatMap((e) => (e.type === 'items' ? e.items : []));
    expect(items).toHaveLength(2500);
    expect((items[2499] as { index: number }).index).toBe(2499);
    expect(events.at(-1)).toEqual({ type: 'end', count: 2500, truncated: false });
    expect(adapter.pulls.map((p) => p.page)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(adapter.closed).toEqual([1]);
  });

  it('a stalled consumer stops the page pulls; granting credit resumes them', async () => {
    const adapter = memoryAdapter({ items: 5000, pageSize: 100 });
    const hub = await setup(adapter);
    const demand$ = new Subject<number>();
    const got: StreamEvent[] = [];
    const sub: Subscription = hub.hub.searchEvents$(req, { window: 2, demand$ }).subscribe((e) => got.push(e));
    fx.later(() => sub.unsubscribe());
    await expect.poll(() => got.length).toBe(2);
    await roundTrips(hub.hub);
    const pulledWhileStalled = adapter.pulls.length;
    // Two chunks sent; at most the page behind them was pulled, never more.
    expect(pulledWhileStalled).toBeLessThanOrEqual(3);
    await roundTrips(hub.hub);
    expect(adapter.pulls.length).toBe(pulledWhileStalled);
    demand$.next(100);
    await expect.poll(() => got.at(-1)?.type, { timeout: 30_000 }).toBe('end');
    expect(got.at(-1)).toEqual({ type: 'end', count: 5000, truncated: false });
  });

  it('unsubscribing mid-stream cancels: the agent closes the page source and stops pulling', async () => {
    const adapter = memoryAdapter({ items: 100_000, pageSize: 100, pullDelayMs: 5 });
    const hub = await setup(adapter);
    let n = 0;
    await new Promise<void>((resolve) => {
      const sub = hub.hub.search$(req).subscribe(() => {
        if (++n === 1000) {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    await expect.poll(() => adapter.closed, { timeout: 30_000 }).toEqual([1]);
    const after = adapter.pulls.length;
    await roundTrips(hub.hub);
    expect(adapter.counts.pullsAfterClose).toBe(0);
    expect(adapter.pulls.length).toBe(after);
    expect(after).toBeLessThan(1000);
  });

  it('losing the socket mid-stream abandons the upstream operation on the agent', async () => {
    const adapter = memoryAdapter({ items: 100_000, pageSize: 100 });
    const hub = await setup(adapter);
    const demand$ = new Subject<number>();
    let error: unknown;
    const got: StreamEvent[] = [];
    const sub = hub.hub.searchEvents$(req, { window: 1, demand$ }).subscribe({ next: (e) => got.push(e), error: (e: unknown) => (error = e) });
    fx.later(() => sub.unsubscribe());
    await expect.poll(() => got.length).toBe(1);
    expect(adapter.closed).toEqual([]);
    for (const l of hub.hub.registry.agents('1')) l.terminate();
    await expect.poll(() => adapter.closed).toEqual([1]);
    await expect.poll(() => error).toMatchObject({ code: 'AGENT_DISCONNECTED' });
  });

  it('an upstream failure mid-stream reaches the subscriber as a coded error, never as a short complete stream', async () => {
    const adapter = memoryAdapter({ items: 1000, pageSize: 100, failAtPage: 3 });
    const hub = await setup(adapter);
    const err = await lastValueFrom(hub.hub.search$(req)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    expect(adapter.closed).toEqual([1]);
  });
});

describe('deadlines, concurrency, errors', () => {
  it('a request over its deadline fails with TIMEOUT', async () => {
    const hub = await setup(memoryAdapter({ testDelayMs: 10_000 }));
    const t0 = performance.now();
    // The deadline's own error (its message names it), not a slow answer: the adapter never answers in time.
    const err = await hub.hub.request({ ...req, op: 'test', timeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'TIMEOUT' });
    expect(String((err as Error).message)).toContain('300 ms');
    console.info(`[measured] TIMEOUT of a 300 ms deadline after ${(performance.now() - t0).toFixed(0)} ms`);
  });

  it('beyond maxConcurrentRequests + maxQueuedRequests the agent answers BUSY', async () => {
    let finish = (): void => undefined;
    const adapter = memoryAdapter({ testGate: new Promise<void>((resolve) => (finish = resolve)) });
    const hub = await setup(adapter, 'maxConcurrentRequests: 1\nmaxQueuedRequests: 1\n');
    const settled = [1, 2, 3].map((): Promise<PromiseSettledResult<unknown>> => hub.hub.request({ ...req, op: 'test' }).then(
      (value) => ({ status: 'fulfilled', value }),
      (reason: unknown) => ({ status: 'rejected', reason }),
    ));
    // The first runs (held by the gate) and the second waits in the queue until one is refused.
    await Promise.race(settled);
    finish();
    const results = await Promise.all(settled);
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as ProtocolError).code));
    expect(codes.sort()).toEqual(['BUSY', 'ok', 'ok']);
  });

  it('get answers NOT_FOUND with the adapter message', async () => {
    const hub = await setup(memoryAdapter({ items: 3 }));
    await expect(hub.hub.request({ ...req, op: 'get', params: { index: 1 } })).resolves.toEqual({ index: 1, name: 'item-1' });
    await expect(hub.hub.request({ ...req, op: 'get', params: { index: 7 } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('export channel', () => {
  it('writes every record, one result per record in order, and goes on after a failed record', async () => {
    const adapter = memoryAdapter();
    const hub = await setup(adapter);
    const records = Array.from({ length: 2500 }, (_, i) => ({ i, ...(i === 1234 ? { fail: true } : {}) }));
    const events = await lastValueFrom(hub.hub.exportEvents$(req, records).pipe(toArray()));
    const results = events.flatMap((e) => (e.type === 'results' ? e.items : [])) as Array<{ index: number; ok: boolean; code?: string }>;
    expect(results).toHaveLength(2500);
    expect(results.map((r) => r.index)).toEqual(records.map((_, i) => i));
    expect(results.filter((r) => !r.ok)).toEqual([
      { index: 1234, ok: false, code: 'CONSTRAINT_VIOLATION', message: 'record 1234 refused', retryable: false },
    ]);
    expect(events.at(-1)).toEqual({ type: 'end', count: 2500 });
    expect(adapter.written).toHaveLength(2499);
  });

  it('pulls records from an async iterable only as the agent grants credit', async () => {
    const adapter = memoryAdapter();
    const hub = await setup(adapter);
    let produced = 0;
    async function* records() {
      for (let i = 0; i < 5000; i++) {
        // A real source (an HTTP body) yields to the event loop between records.
        if (i % 100 === 0) await Promise.resolve();
        produced += 1;
        yield { i };
      }
    }
    const demand$ = new Subject<number>();
    const got: unknown[] = [];
    const sub = hub.hub.exportEvents$(req, records(), { window: 1, demand$, maxChunkItems: 100 }).subscribe((e) => got.push(e));
    fx.later(() => sub.unsubscribe());
    await expect.poll(() => got.length, { timeout: 30_000 }).toBe(1);
    await roundTrips(hub.hub);
    // One result chunk taken, nothing more granted. In flight at most: the records whose results
    // went out in that chunk were credited back once (2 × streamWindow 4 × 100 records), plus
    // one chunk the hub buffered — the producer is never drained.
    const producedWhileStalled = produced;
    expect(producedWhileStalled).toBeLessThanOrEqual(100 * (2 * 4 + 1));
    await roundTrips(hub.hub);
    expect(produced).toBe(producedWhileStalled);
    demand$.next(1000);
    await expect.poll(() => (got.at(-1) as { type?: string } | undefined)?.type, { timeout: 30_000 }).toBe('end');
    expect(adapter.written).toHaveLength(5000);
  });

  it('fails a result request cleanly when the agent goes away', async () => {
    const adapter = memoryAdapter({ testGate: new Promise(() => undefined) });
    const hub = await setup(adapter);
    const p = firstValueFrom(hub.hub.result$({ ...req, op: 'test' }));
    await expect.poll(() => adapter.counts.tests).toBe(1); // the request runs on the agent
    for (const l of hub.hub.registry.agents('1')) l.terminate();
    await expect(p).rejects.toMatchObject({ code: 'AGENT_DISCONNECTED' });
  });
});

describe('graceful shutdown', () => {
  it('refuses new requests with BUSY, lets those in flight finish, then closes normally', async () => {
    let finish = (): void => undefined;
    const adapter = memoryAdapter({ testGate: new Promise<void>((resolve) => (finish = resolve)) });
    const { hub, agent } = await setupBoth(adapter);
    const inFlight = hub.hub.request({ ...req, op: 'test' });
    await expect.poll(() => adapter.counts.tests).toBe(1); // in flight on the agent
    const stopping = agent.agent.shutdown(60_000);
    await expect(hub.hub.request({ ...req, op: 'test' })).rejects.toMatchObject({ code: 'BUSY', retryable: true });
    expect(adapter.counts.tests).toBe(1);
    finish(); // the request in flight answers only now: the shutdown waited for it
    await expect(inFlight).resolves.toEqual({ ok: true, items: 1000 });
    await expect(stopping).resolves.toBe(true);
    await expect.poll(() => hub.hub.registry.agents('1')).toHaveLength(0);
    expect(hub.logs.text()).toMatch(/"msg":"agent disconnected"/);
  });

  it('stops what is still running when the grace period is over, with a retryable CANCELLED', async () => {
    const adapter = memoryAdapter({ testGate: new Promise(() => undefined) });
    const { hub, agent } = await setupBoth(adapter);
    const inFlight = hub.hub.request({ ...req, op: 'test' });
    await expect.poll(() => adapter.counts.tests).toBe(1);
    await expect(agent.agent.shutdown(200)).resolves.toBe(false);
    await expect(inFlight).rejects.toMatchObject({ code: 'CANCELLED', retryable: true });
  });

  it('an export running when the grace period is over reports every record it wrote, then CANCELLED', async () => {
    const adapter = memoryAdapter({ writeDelayMs: 20 });
    const { hub, agent } = await setupBoth(adapter);
    const records = Array.from({ length: 2000 }, (_, i) => ({ i }));
    const results: Array<{ index: number }> = [];
    let error: unknown;
    const sub = hub.hub.export$(req, records).subscribe({ next: (r) => results.push(r as { index: number }), error: (e: unknown) => (error = e) });
    fx.later(() => sub.unsubscribe());
    await expect.poll(() => results.length).toBeGreaterThan(5);
    await expect(agent.agent.shutdown(100)).resolves.toBe(false);
    await expect.poll(() => error).toMatchObject({ code: 'CANCELLED', retryable: true });
    // Nothing written without its result, nothing answered without being written.
    expect(results.map((r) => r.index)).toEqual(adapter.written.map((_, i) => i));
    expect(results.length).toBeLessThan(records.length);
  });
});
