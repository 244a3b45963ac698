/**
 * Every write accounted for, for real: when an export fails after the agent wrote records, the
 * caller gets a result for every record written — in chunks, or in the final error frame's
 * `details.results`, which the hub passes on as result lines before the error line.
 *
 * - A rogue hub (raw WebSocket) drives the real agent into a record chunk beyond its credit and
 *   an `end` whose count disagrees; the in-memory adapter counts its writes.
 * - A real hub and agent: the deadline mid-export (HubClient over HTTP), the hub's result window
 *   exhausted (no credit until the deadline) and the shutdown.
 * - A rogue agent answers the real hub's export with an error frame carrying results: they
 *   become result lines before the error line; malformed or inconsistent ones are BAD_FRAME,
 *   and the hub survives them.
 */
import { NEVER } from 'rxjs';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { ExportResult } from '../../src/adapter-kit/adapter.js';
import { HubApiError, HubClient } from '../../src/hub/client.js';
import type { ErrorFrame, Frame } from '../../src/protocol/index.js';
import { basicAuth, connectRaw, startRogueHub, watchCrashes, type Peer } from '../hostile/helpers.js';
import { memoryAdapter, type MemoryAdapter } from '../helpers/memory-adapter.js';
import { API_TOKENS, basicAgentYaml, isState, memoryDataSourceYaml, relayFixture, startAgent, startHub } from '../helpers/relay-env.js';

const fx = relayFixture();

const records = (n: number, from = 0): Array<{ i: number }> => Array.from({ length: n }, (_, k) => ({ i: from + k }));
const chunkFrame = (id: string, seq: number, items: unknown[]): Frame => ({ type: 'chunk', id, seq, items }) as Frame;

/** A rogue hub with the real agent serving `adapter` as `mem`; resolves with the registered session. */
async function agentUnderRogueHub(adapter: MemoryAdapter): Promise<Peer> {
  const rogue = await startRogueHub({ maxFrameBytes: 1_048_576 });
  fx.later(() => rogue.close());
  const agent = startAgent(fx.env, basicAgentYaml(fx.env, [rogue.url]), memoryDataSourceYaml(), { adapters: new Map([['mem', adapter]]) });
  fx.later(() => agent.stop());
  await agent.statuses.next(isState('registered'));
  return rogue.session(1);
}

/** Every frame the agent sent for request `id`, up to and including its error frame. */
async function untilError(hub: Peer, id: string, from: number): Promise<{ frames: Frame[]; error: ErrorFrame }> {
  const i = await hub.waitIndex((f) => f.type === 'error' && 'id' in f && f.id === id, from, 10_000);
  const frames = hub.frames(from).filter((f) => 'id' in f && f.id === id);
  return { frames, error: hub.frames(i)[0] as ErrorFrame };
}

function resultsIn(frames: Frame[], error: ErrorFrame): { inChunks: ExportResult[]; inError: ExportResult[] } {
  const inChunks = frames.flatMap((f) => (f.type === 'chunk' ? (f.items as ExportResult[]) : []));
  const details = error.details as { count: number; results: ExportResult[] };
  expect(details.count).toBe(inChunks.length + details.results.length);
  return { inChunks, inError: details.results };
}

describe('the agent accounts for every write when the hub breaks the export channel', () => {
  it('a record chunk beyond the credit: every record written has its result in the BAD_REQUEST', async () => {
    const adapter = memoryAdapter({ writeDelayMs: 5 });
    const hub = await agentUnderRogueHub(adapter);
    const from = hub.received.length;
    // No result credit: nothing can go out in a chunk.
    hub.sendFrame({ type: 'request', id: 'beyond', op: 'export', dataSource: 'mem', params: {}, timeoutMs: 30_000, credit: 0 });
    const credit = await hub.waitFor((f) => f.type === 'credit' && f.id === 'beyond', from);
    const window = (credit as { n: number }).n;
    for (let seq = 0; seq <= window; seq++) hub.sendFrame(chunkFrame('beyond', seq, records(2, 2 * seq)));
    const { frames, error } = await untilError(hub, 'beyond', from);
    expect(error).toMatchObject({ code: 'BAD_REQUEST', message: `export chunk ${window + 1} sent without credit (granted ${window})` });
    const { inChunks, inError } = resultsIn(frames, error);
    expect(inChunks).toEqual([]);
    expect(adapter.written.length).toBeGreaterThan(0);
    expect(inError.map((r) => r.index)).toEqual(adapter.written.map((_, i) => i));
    expect(inError.every((r) => r.ok)).toBe(true);
  });

  it('an end whose count disagrees: results that had credit came in a chunk, the rest in the error', async () => {
    const adapter = memoryAdapter();
    const hub = await agentUnderRogueHub(adapter);
    const from = hub.received.length;
    hub.sendFrame({ type: 'request', id: 'miscount', op: 'export', dataSource: 'mem', params: {}, timeoutMs: 30_000, credit: 1 });
    await hub.waitFor((f) => f.type === 'credit' && f.id === 'miscount', from);
    hub.sendFrame(chunkFrame('miscount', 0, records(300)));
    hub.sendFrame(chunkFrame('miscount', 1, records(300, 300)));
    hub.sendFrame({ type: 'end', id: 'miscount', count: 900 });
    const { frames, error } = await untilError(hub, 'miscount', from);
    expect(error).toMatchObject({ code: 'BAD_REQUEST', message: 'export end says 900 records, 600 arrived' });
    const { inChunks, inError } = resultsIn(frames, error);
    expect(adapter.written).toHaveLength(600);
    expect([...inChunks, ...inError].map((r) => r.index)).toEqual(adapter.written.map((_, i) => i));
    // One chunk of credit: one result chunk at most (500 results, maxChunkItems), the rest in the error.
    expect(frames.filter((f) => f.type === 'chunk').length).toBeLessThanOrEqual(1);
    expect(inError.length).toBeGreaterThanOrEqual(100);
  });
});

describe('a real hub and agent: the caller gets a result for every record written', () => {
  // A reading client has credit to spare: the results not yet sent (the chunk being filled, the
  // record being written) go out in a last chunk before the error line.
  it('the deadline mid-export: HubClient yields a result for every record written, then throws TIMEOUT', async () => {
    const adapter = memoryAdapter({ writeDelayMs: 10 });
    const { hub } = await fx.memoryRelay(adapter, { hub: { tls: false } });
    const client = new HubClient({ url: `http://127.0.0.1:${hub.port}`, token: API_TOKENS.tenant1 });
    fx.later(() => client.close());
    const stream = client.export('mem', records(5000), { timeoutMs: 600 });
    const got: Array<{ index: number }> = [];
    let failure: unknown;
    try {
      for await (const r of stream) got.push(r);
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(HubApiError);
    expect(failure).toMatchObject({ code: 'TIMEOUT', retryable: true, count: got.length });
    expect(adapter.written.length).toBeGreaterThan(0);
    expect(adapter.written.length).toBeLessThan(5000);
    expect(got.map((r) => r.index)).toEqual(adapter.written.map((_, i) => i));
  });

  it('the result window exhausted (the consumer grants no credit): at the deadline the results not sent arrive with the TIMEOUT', async () => {
    const adapter = memoryAdapter();
    const { hub } = await fx.memoryRelay(adapter);
    const batches: number[] = [];
    const failure = await new Promise<unknown>((resolve) => {
      hub.hub
        .exportEvents$({ tenantId: '1', dataSource: 'mem', timeoutMs: 1000, params: {} }, records(10_000), { window: 1, demand$: NEVER, maxChunkItems: 100 })
        .subscribe({
          next: (e) => {
            if (e.type === 'results') batches.push(e.items.length);
          },
          error: resolve,
          complete: () => resolve(undefined),
        });
    });
    expect(failure).toMatchObject({ code: 'TIMEOUT', retryable: true });
    // The carried results are passed on as results, not left in the error's details.
    expect((failure as { context: { details?: Record<string, unknown> } }).context.details).toEqual({ count: adapter.written.length });
    // One result chunk under the one credit, then the rest with the error: nothing written is missing.
    expect(batches).toHaveLength(2);
    expect(batches[0]).toBeGreaterThan(0);
    expect(batches[1]).toBeGreaterThan(0);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(adapter.written.length);
  });

  it('the shutdown mid-export over HTTP: result lines for every record written, then the CANCELLED line', async () => {
    const adapter = memoryAdapter({ writeDelayMs: 20 });
    const { hub, agent } = await fx.memoryRelay(adapter, { hub: { tls: false } });
    const client = new HubClient({ url: `http://127.0.0.1:${hub.port}`, token: API_TOKENS.tenant1 });
    fx.later(() => client.close());
    const got: Array<{ index: number }> = [];
    let failure: unknown;
    const reading = (async () => {
      try {
        for await (const r of client.export('mem', records(2000))) got.push(r);
      } catch (err) {
        failure = err;
      }
    })();
    await expect.poll(() => got.length).toBeGreaterThan(3);
    await expect(agent.agent.shutdown(50)).resolves.toBe(false);
    await reading;
    expect(failure).toMatchObject({ code: 'CANCELLED', retryable: true, count: got.length });
    expect(got.map((r) => r.index)).toEqual(adapter.written.map((_, i) => i));
  });
});

describe('the hub passes on the results an agent’s error frame carries, and refuses malformed ones', () => {
  const AUTH = basicAuth('agent', 'agent-secret-123');

  async function rogueAgentHub(): Promise<{ base: string; rogue: Peer }> {
    const hub = await startHub(fx.env, { tls: false });
    fx.later(() => hub.close());
    const rogue = await connectRaw(hub.url, AUTH);
    fx.later(() => rogue.close());
    rogue.sendFrame({
      type: 'hello',
      protocol: 1,
      agent: { id: 'rogue-1', version: '0.0.0-rogue', hostname: 'rogue' },
      tenantId: '1',
      dataSources: [{ name: 'rogue-ds', type: 'ldap', operations: ['export'] }],
    });
    await rogue.waitFor((f) => f.type === 'welcome');
    return { base: `http://127.0.0.1:${hub.port}`, rogue };
  }

  /**
   * Posts `n` records to the rogue's data source; the rogue grants credit, takes the records
   * and answers with `answer(id)`. Resolves with the HTTP status and lines.
   */
  async function exportThroughRogue(base: string, rogue: Peer, n: number, answer: (id: string) => unknown[]): Promise<{ status: number; lines: Array<Record<string, unknown>> }> {
    const from = rogue.received.length;
    const response = request(`${base}/v1/data-sources/rogue-ds/export`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKENS.tenant1}`, 'content-type': 'application/x-ndjson' },
      body: records(n).map((r) => JSON.stringify(r)).join('\n'),
    });
    const req = (await rogue.waitFor((f) => f.type === 'request', from)) as { id: string };
    rogue.sendFrame({ type: 'credit', id: req.id, n: 4 });
    await rogue.waitFor((f) => f.type === 'end' && 'id' in f && f.id === req.id, from);
    for (const f of answer(req.id)) rogue.sendFrame(f);
    const r = await response;
    const text = await r.body.text();
    const lines = text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    return { status: r.statusCode, lines };
  }

  const ok = (index: number) => ({ index, ok: true });

  it('results in the error frame become result lines before the error line, whose count is every result', async () => {
    const crashes = watchCrashes();
    fx.later(() => crashes.dispose());
    const { base, rogue } = await rogueAgentHub();
    const { status, lines } = await exportThroughRogue(base, rogue, 5, (id) => [
      chunkFrame(id, 0, [ok(0), ok(1)]),
      { type: 'error', id, code: 'TIMEOUT', message: 'export on rogue-ds did not finish within 100 ms', retryable: true, details: { count: 5, results: [ok(2), ok(3), { index: 4, ok: false, code: 'OUTCOME_UNKNOWN', message: 'unknown', retryable: false }] } },
    ]);
    expect(status).toBe(200);
    expect(lines.slice(0, 5)).toEqual([ok(0), ok(1), ok(2), ok(3), { index: 4, ok: false, code: 'OUTCOME_UNKNOWN', message: 'unknown', retryable: false }]);
    expect(lines[5]).toMatchObject({ error: { code: 'TIMEOUT', retryable: true }, count: 5 });
    expect(lines).toHaveLength(6);
    expect(crashes.errors).toEqual([]);
  });

  it('malformed or inconsistent results in an error frame → BAD_FRAME, none of them passed on; the hub goes on', async () => {
    const crashes = watchCrashes();
    fx.later(() => crashes.dispose());
    const { base, rogue } = await rogueAgentHub();
    const error = (id: string, details: unknown) => ({ type: 'error', id, code: 'TIMEOUT', message: 'rogue', retryable: true, details });
    const bad: Array<[string, unknown]> = [
      ['results not an array', { count: 1, results: { 0: ok(0) } }],
      ['a result without ok', { count: 1, results: [{ index: 0 }] }],
      ['a negative index', { count: 1, results: [{ index: -1, ok: true }] }],
      ['a failure without its code', { count: 1, results: [{ index: 0, ok: false, message: 'x', retryable: false }] }],
      ['a polluting result', { count: 1, results: [JSON.parse('{"__proto__":{"polluted":true},"index":0,"ok":true,"constructor":{"prototype":{"isAdmin":true}}}') as unknown] }],
      ['a count that disagrees', { count: 9, results: [ok(0)] }],
      ['no count', { results: [ok(0)] }],
      ['more results than records', { count: 4, results: [ok(0), ok(1), ok(2), ok(3)] }],
    ];
    for (const [why, details] of bad) {
      const { status, lines } = await exportThroughRogue(base, rogue, 3, (id) => [error(id, details)]);
      if (why === 'a polluting result') {
        // `__proto__` from JSON is an own key: the result is well-formed, and nothing is polluted.
        expect([status, lines[0], ({} as Record<string, unknown>)['polluted']], why).toEqual([200, expect.objectContaining({ index: 0, ok: true }), undefined]);
        continue;
      }
      expect([status, lines], why).toEqual([502, [expect.objectContaining({ code: 'BAD_FRAME' })]]);
    }
    // After a chunk was passed on: the error line says BAD_FRAME and counts only that chunk.
    const { status, lines } = await exportThroughRogue(base, rogue, 3, (id) => [chunkFrame(id, 0, [ok(0)]), error(id, { count: 2, results: [ok(1), 'not a result'] })]);
    expect(status).toBe(200);
    expect(lines).toEqual([ok(0), expect.objectContaining({ error: expect.objectContaining({ code: 'BAD_FRAME' }) as unknown, count: 1 })]);
    // The hub still serves a well-formed export.
    const good = await exportThroughRogue(base, rogue, 2, (id) => [chunkFrame(id, 0, [ok(0), ok(1)]), { type: 'end', id, count: 2 }]);
    expect(good.lines).toEqual([ok(0), ok(1), { end: true, count: 2, ok: 2, failed: 0 }]);
    expect(crashes.errors).toEqual([]);
  });
});
