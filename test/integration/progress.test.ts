/**
 * Progress of long searches and exports, on the hub and on the agent, with a real hub and agent
 * over a socket and an adapter that holds its next page (or record) until the test opens a
 * gate: the test waits for a progress line showing what was written so far, then lets the work
 * go on — no sleeps. Both sides run with `logging.progressInterval: 200`.
 *
 * - The hub logs progress lines (entries, or ok/failed results, bytes, rate) that grow, and its
 *   `API request` line carries the counts and the summary outcome: `ok` with `entries` and
 *   `truncated` for a search; `partial` with `ok: 8, failed: 2` for an export of 10 records two
 *   of which failed; `cancelled` when the client goes away.
 * - `/metrics` counts the same lines (`datasync_hub_stream_items_total`, `…_bytes_total`) and
 *   the outcomes (`datasync_hub_streams_total`).
 * - The agent logs its own progress lines for the same request id.
 */
import { concatMap, from, map, of, type Observable } from 'rxjs';
import { request } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import type { DataSourceAdapter, ExportResult, PageSource } from '../../src/adapter-kit/adapter.js';
import { Hub } from '../../src/hub/hub.js';
import type { LogCapture } from '../helpers/log-capture.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { sample, sampleOr0 } from '../helpers/metrics.js';
import { API_TOKENS, basicAgentYaml, isState, memoryDataSourceYaml, relayFixture, startAgent, startHub } from '../helpers/relay-env.js';

const fx = relayFixture();
const PROGRESS_MS = 200;
const PAGE = 50;

interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}
function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * Search: three pages of PAGE entries, page i > 0 pulled only once `pages[i - 1]` is open.
 * Export: the result of record `holdAt` only once `records` is open; records with `fail` fail.
 */
function gatedAdapter(pages: readonly Gate[], records: Gate, holdAt: number): DataSourceAdapter {
  return {
    ...memoryAdapter(),
    search: (): PageSource<unknown> => {
      let page = 0;
      return {
        pull: () => {
          const index = page++;
          const items = Array.from({ length: PAGE }, (_, k) => ({ index: index * PAGE + k, name: `entry-${index * PAGE + k}` }));
          const result = { items, last: index === pages.length };
          return index === 0 ? of(result) : from(pages[index - 1]!.opened).pipe(map(() => result));
        },
        close: () => undefined,
      };
    },
    export: (records$: Observable<unknown>): Observable<ExportResult> => {
      let index = 0;
      return records$.pipe(
        concatMap((record) => {
          const i = index++;
          const result: ExportResult = (record as { fail?: boolean }).fail
            ? { index: i, ok: false, code: 'CONSTRAINT_VIOLATION', message: `record ${i} refused`, retryable: false }
            : { index: i, ok: true };
          return i === holdAt ? from(records.opened).pipe(map(() => result)) : of(result);
        }),
      );
    },
  };
}

interface Relay {
  readonly hub: Hub;
  readonly base: string;
  readonly hubLogs: LogCapture;
  readonly agentLogs: LogCapture;
  /** Each agent's logs by agent id (`site-a-1`, then `site-b-1`, … with more adapters). */
  readonly agents: ReadonlyMap<string, LogCapture>;
}

/**
 * A plain-HTTP hub and one agent per adapter (ids `site-a-1`, `site-b-1`, …), each serving its
 * adapter as `mem`, all logging progress every PROGRESS_MS.
 */
async function progressRelay(...adapters: DataSourceAdapter[]): Promise<Relay> {
  const logging = `logging: { level: trace, progressInterval: ${PROGRESS_MS} }`;
  const hub = await startHub(fx.env, { tls: false, extra: logging });
  fx.later(() => hub.close());
  const agents = new Map<string, LogCapture>();
  for (const [i, adapter] of adapters.entries()) {
    const id = `site-${String.fromCharCode(97 + i)}-1`;
    const agentYaml = basicAgentYaml(fx.env, [hub.url]).replace('id: site-a-1', `id: ${id}`);
    const agent = startAgent(fx.env, agentYaml, `${logging}\n${memoryDataSourceYaml()}`, { adapters: new Map([['mem', adapter]]) });
    fx.later(() => agent.stop());
    await agent.statuses.next(isState('registered'));
    agents.set(id, agent.logs);
  }
  return { hub: hub.hub, base: `http://127.0.0.1:${hub.port}`, hubLogs: hub.logs, agentLogs: agents.get('site-a-1')!, agents };
}

type LogRecord = Record<string, unknown>;
const withMsg = (logs: LogCapture, prefix: string, requestId: string): LogRecord[] =>
  logs.records().filter((r) => typeof r['msg'] === 'string' && r['msg'].startsWith(prefix) && r['requestId'] === requestId);

/** Waits for a progress line of `requestId` whose `key` is at least `atLeast`; returns every such line so far. */
async function progressReaching(logs: LogCapture, prefix: string, requestId: string, key: string, atLeast: number): Promise<LogRecord[]> {
  return vi.waitFor(
    () => {
      const lines = withMsg(logs, prefix, requestId);
      if (!lines.some((l) => Number(l[key]) >= atLeast)) throw new Error(`no "${prefix}" line with ${key} >= ${atLeast} yet: ${JSON.stringify(lines)}`);
      return lines;
    },
    { timeout: 30_000, interval: 20 },
  );
}

async function completionLine(logs: LogCapture, requestId: string): Promise<LogRecord> {
  return vi.waitFor(
    () => {
      const line = withMsg(logs, 'API request', requestId)[0];
      if (line === undefined) throw new Error('no API request line yet');
      return line;
    },
    { timeout: 30_000, interval: 20 },
  );
}

const headers = (requestId: string, type = 'application/json'): Record<string, string> => ({
  authorization: `Bearer ${API_TOKENS.tenant1}`,
  'content-type': type,
  'x-request-id': requestId,
});

describe('progress of long searches and exports', () => {
  it('a search: growing progress lines on the hub and the agent, then the counts on the completion line and in /metrics', async () => {
    const pages = [gate(), gate()];
    const relay = await progressRelay(gatedAdapter(pages, gate(), -1));
    const id = 'long-search-1';
    const res = await request(`${relay.base}/v1/data-sources/mem/search`, { method: 'POST', headers: headers(id), body: '{}' });
    expect(res.statusCode).toBe(200);
    const body = res.body.text();

    const first = await progressReaching(relay.hubLogs, 'search in progress', id, 'entries', PAGE);
    await progressReaching(relay.agentLogs, 'search in progress', id, 'items', PAGE);
    pages[0]!.open();
    await progressReaching(relay.hubLogs, 'search in progress', id, 'entries', 2 * PAGE);
    pages[1]!.open();

    const lines = (await body).trim().split('\n').map((l) => JSON.parse(l) as LogRecord);
    expect(lines.at(-1)).toEqual({ end: true, count: 3 * PAGE, truncated: false });
    const done = await completionLine(relay.hubLogs, id);
    expect(done).toMatchObject({ status: 200, outcome: 'ok', entries: 3 * PAGE, truncated: false, tenantId: '1' });

    const progress = withMsg(relay.hubLogs, 'search in progress', id);
    expect(first.find((l) => l['entries'] === PAGE)).toMatchObject({ op: 'search', tenantId: '1', dataSource: 'mem', agentId: 'site-a-1', entries: PAGE });
    const entries = progress.map((l) => Number(l['entries']));
    expect(entries).toEqual([...entries].sort((a, b) => a - b));
    expect(entries.at(-1)).toBeGreaterThan(entries[0]!);
    for (const line of progress) expect(Object.keys(line)).toEqual(expect.arrayContaining(['bytes', 'perSecond', 'elapsedMs', 'client']));
    // The agent's end line after its progress lines: the totals.
    await vi.waitFor(() => expect(withMsg(relay.agentLogs, 'search finished', id)[0]).toMatchObject({ items: 3 * PAGE, outcome: 'OK' }));

    const metrics = await relay.hub.metrics.registry.metrics();
    expect(sample(metrics, 'datasync_hub_stream_items_total', { op: 'search', outcome: 'ok' })).toBe(3 * PAGE);
    expect(sample(metrics, 'datasync_hub_stream_bytes_total', { op: 'search' })).toBe(done['bytes']);
    expect(Number(done['bytes'])).toBe(Buffer.byteLength(lines.slice(0, -1).map((l) => `${JSON.stringify(l)}\n`).join('')));
    await vi.waitFor(async () => expect(sample(await relay.hub.metrics.registry.metrics(), 'datasync_hub_streams_total', { op: 'search', outcome: 'ok' })).toBe(1));
  });

  it('an export of 10 records, 2 failing: progress with ok and failed, then partial with ok 8, failed 2 on the completion line and in /metrics', async () => {
    const records = gate();
    const relay = await progressRelay(gatedAdapter([], records, 5));
    const id = 'long-export-1';
    const body = Array.from({ length: 10 }, (_, i) => `${JSON.stringify(i === 3 || i === 7 ? { i, fail: true } : { i })}\n`).join('');
    const res = await request(`${relay.base}/v1/data-sources/mem/export`, { method: 'POST', headers: headers(id, 'application/x-ndjson'), body });
    expect(res.statusCode).toBe(200);
    const text = res.body.text();

    // Records 0-4 have their results (record 3 failed); record 5's waits for the gate.
    const held = await progressReaching(relay.hubLogs, 'export in progress', id, 'ok', 4);
    expect(held.at(-1)).toMatchObject({ op: 'export', dataSource: 'mem', agentId: 'site-a-1', ok: 4, failed: 1 });
    await progressReaching(relay.agentLogs, 'export in progress', id, 'items', 5);
    records.open();

    const lines = (await text).trim().split('\n').map((l) => JSON.parse(l) as LogRecord);
    expect(lines.at(-1)).toEqual({ end: true, count: 10, ok: 8, failed: 2 });
    const done = await completionLine(relay.hubLogs, id);
    expect(done).toMatchObject({ status: 200, outcome: 'partial', ok: 8, failed: 2 });

    const metrics = await relay.hub.metrics.registry.metrics();
    expect(sample(metrics, 'datasync_hub_stream_items_total', { op: 'export', outcome: 'ok' })).toBe(8);
    expect(sample(metrics, 'datasync_hub_stream_items_total', { op: 'export', outcome: 'failed' })).toBe(2);
    expect(sample(metrics, 'datasync_hub_stream_bytes_total', { op: 'export' })).toBe(done['bytes']);
    await vi.waitFor(async () => expect(sample(await relay.hub.metrics.registry.metrics(), 'datasync_hub_streams_total', { op: 'export', outcome: 'partial' })).toBe(1));
  });

  it('two agents offer the data source: each search names the agent the hub picked, on its progress and completion lines', async () => {
    const a = [gate(), gate()];
    const b = [gate(), gate()];
    const relay = await progressRelay(gatedAdapter(a, gate(), -1), gatedAdapter(b, gate(), -1));
    const ids = ['picked-1', 'picked-2'];
    // Two searches at once: the hub spreads them (least busy first), one per agent.
    const bodies = ids.map(async (id) => {
      const res = await request(`${relay.base}/v1/data-sources/mem/search`, { method: 'POST', headers: headers(id), body: '{}' });
      return res.body.text();
    });
    const served = new Map<string, string>();
    for (const id of ids) {
      const [line] = await progressReaching(relay.hubLogs, 'search in progress', id, 'entries', PAGE);
      // The agent named is the one whose own log shows this request in progress.
      const agentId = String(line!['agentId']);
      await progressReaching(relay.agents.get(agentId)!, 'search in progress', id, 'items', PAGE);
      served.set(id, agentId);
    }
    expect(new Set(served.values())).toEqual(new Set(['site-a-1', 'site-b-1']));
    for (const g of [...a, ...b]) g.open();
    await Promise.all(bodies);
    for (const id of ids) expect(await completionLine(relay.hubLogs, id)).toMatchObject({ outcome: 'ok', agentId: served.get(id), entries: 3 * PAGE });
  });

  it('a client that goes away mid-search: the completion line says cancelled with the entries written, and so does /metrics', async () => {
    const pages = [gate(), gate()];
    const relay = await progressRelay(gatedAdapter(pages, gate(), -1));
    const id = 'abandoned-search-1';
    const abort = new AbortController();
    const res = await request(`${relay.base}/v1/data-sources/mem/search`, { method: 'POST', headers: headers(id), body: '{}', signal: abort.signal });
    const body = res.body.text().catch(() => 'aborted');
    await progressReaching(relay.hubLogs, 'search in progress', id, 'entries', PAGE);
    abort.abort();
    await body;

    const done = await completionLine(relay.hubLogs, id);
    expect(done).toMatchObject({ outcome: 'cancelled', entries: PAGE });
    await vi.waitFor(async () => expect(sample(await relay.hub.metrics.registry.metrics(), 'datasync_hub_streams_total', { op: 'search', outcome: 'cancelled' })).toBe(1));
    expect(sampleOr0(await relay.hub.metrics.registry.metrics(), 'datasync_hub_streams_total', { op: 'search', outcome: 'ok' })).toBe(0);
  });
});
