/**
 * An export from a producer that sends a few records and then waits — an interactive client, a
 * body paused mid-stream — with a real hub and agent over a socket. The hub sends records to the
 * agent in chunks of up to the agent's `maxChunkItems` (500 here); records that waited
 * `lingerMs` for their chunk to fill go out as they are. Each round below sends 3 records and
 * waits for their 3 results before it sends the next: without the linger it would wait forever.
 * A bulk source still travels in full chunks (the agent's export log counts them).
 */
import { describe, expect, it } from 'vitest';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { relayFixture } from '../helpers/relay-env.js';

const fx = relayFixture();

interface Waiter {
  readonly until: (n: number) => Promise<void>;
  readonly arrived: (n: number) => void;
}
/** Resolves `until(n)` once `arrived` reported n results in all. */
function resultCounter(): Waiter {
  let count = 0;
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  return {
    until: (n) => new Promise<void>((resolve) => (count >= n ? resolve() : waiting.push({ n, resolve }))),
    arrived: (k) => {
      count += k;
      for (const w of waiting.splice(0)) if (count >= w.n) w.resolve();
      else waiting.push(w);
    },
  };
}

describe('export from a producer that waits for its answers', () => {
  it('3 records, wait for their results, 3 more, …: every round is answered without a full chunk', async () => {
    const adapter = memoryAdapter();
    const { hub } = await fx.memoryRelay(adapter);
    const counter = resultCounter();
    const ROUNDS = 4;
    async function* interactive(): AsyncGenerator<unknown> {
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < 3; k++) yield { round, k };
        // Wait for this round's answers before sending more: the records must not wait for 500.
        await counter.until(3 * (round + 1));
      }
    }
    const chunks: number[] = [];
    const results: Array<{ index: number; ok: boolean }> = [];
    await new Promise<void>((resolve, reject) =>
      hub.hub.exportEvents$({ tenantId: '1', dataSource: 'mem' }, interactive()).subscribe({
        next: (e) => {
          if (e.type !== 'results') return;
          chunks.push(e.items.length);
          results.push(...(e.items as Array<{ index: number; ok: boolean }>));
          counter.arrived(e.items.length);
        },
        error: reject,
        complete: resolve,
      }),
    );
    expect(results.map((r) => r.index)).toEqual(Array.from({ length: 3 * ROUNDS }, (_, i) => i));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(adapter.written).toEqual(Array.from({ length: 3 * ROUNDS }, (_, i) => ({ round: Math.floor(i / 3), k: i % 3 })));
  });

  it('a bulk source still goes out in full chunks', async () => {
    const adapter = memoryAdapter();
    const { hub, agent } = await fx.memoryRelay(adapter);
    const records = Array.from({ length: 2000 }, (_, i) => ({ i }));
    const results = await new Promise<number>((resolve, reject) => {
      let n = 0;
      hub.hub.exportEvents$({ tenantId: '1', dataSource: 'mem' }, records).subscribe({
        next: (e) => (n += e.type === 'results' ? e.items.length : 0),
        error: reject,
        complete: () => resolve(n),
      });
    });
    expect(results).toBe(2000);
    // The agent's trace log names each record chunk it received with its size.
    const sizes = agent.logs.records().filter((r) => r['msg'] === 'export chunk received').map((r) => r['items']);
    expect(sizes).toEqual([500, 500, 500, 500]);
  });
});
