/**
 * The socket, not the hub's credit, paces a search: a real agent (its own LDAP adapter against a
 * private slapd loaded with the realistic directory) registered with a hostile hub — a raw `ws`
 * server that grants a credit of 1,000,000 and stops reading its socket (`ws.pause()`).
 *
 * - Paused: the agent's writer reports the socket not writable, its streams stop pulling LDAP
 *   pages, and what was pulled is bounded by what the kernel and ws hold plus two pages — not
 *   the whole result. Resumed: every entry arrives, `end.count` exact.
 * - A `cancel` while paused drops the chunks queued for that search (the agent counts them);
 *   after resume, only what was already handed to ws arrives for it, and a concurrent search
 *   loses nothing.
 *
 * Everything waits for events (log records of the writer, pages delivered, frames received),
 * never for time. Kernel queues are read from /proc/net/tcp (Linux).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'ldapts';
import { tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBatchSource, type DataSourceAdapter, type OperationContext, type SearchSource } from '../../src/adapter-kit/adapter.js';
import { createLdapAdapter } from '../../src/adapters/ldap/index.js';
import type { LdapDataSourceConfig } from '../../src/adapters/ldap/config.js';
import { Agent } from '../../src/agent/agent.js';
import { loadAgentConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log/logger.js';
import type { Frame } from '../../src/protocol/index.js';
import { realisticEntryCount, writeRealisticLdif } from '../fixtures/ldap/realistic.js';
import { startRogueHub, type Peer, type RogueHub } from '../hostile/helpers.js';
import { basicAgentYaml, makeEnv, type Env } from '../helpers/relay-env.js';
import { printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';

const PEOPLE = 20_000;
const PAGE = 500;
const MAX_FRAME_BYTES = 1024 * 1024;
/** The writer's high-water mark (socket-writer.ts default). */
const HWM = 1024 * 1024;
const HUGE_CREDIT = 1_000_000;

let env: Env;
let slapd: Slapd;
let rogue: RogueHub;
let agent: Agent;
let hub: Peer;
const records: Array<Record<string, unknown>> = [];
const wakers = new Set<() => void>();
const wake = (): void => {
  for (const w of [...wakers]) w();
};
/** Pages pulled from LDAP, pages delivered, items delivered — per request id. */
const pulls = new Map<string, { started: number; delivered: number; items: number }>();

/** Resolves once `pred` holds, re-checked on every log record, page and frame (no clock). */
function until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!pred()) return;
      clearTimeout(timer);
      wakers.delete(check);
      resolve();
    };
    // A guard against a hang, not a timing assertion.
    const timer = setTimeout(() => {
      wakers.delete(check);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    wakers.add(check);
    check();
  });
}

/** The agent's LDAP adapter with each search's pulls counted by request id. */
function counting(adapter: DataSourceAdapter): DataSourceAdapter {
  const search = adapter.search?.bind(adapter);
  if (!search) throw new Error('no search');
  return Object.assign(Object.create(adapter) as DataSourceAdapter, {
    search: (params: Record<string, unknown>, ctx: OperationContext): SearchSource => {
      const source = search(params, ctx);
      const c = { started: 0, delivered: 0, items: 0 };
      pulls.set(ctx.requestId, c);
      const delivered = (n: number): void => {
        c.delivered += 1;
        c.items += n;
        wake();
      };
      if (isBatchSource(source)) {
        return {
          itemFormat: 'json-batch',
          pull: () => {
            c.started += 1;
            return source.pull().pipe(tap((p) => delivered(p.items.count)));
          },
          close: () => source.close(),
        };
      }
      return {
        ...(source.itemFormat === undefined ? {} : { itemFormat: source.itemFormat }),
        pull: () => {
          c.started += 1;
          return source.pull().pipe(tap((p) => delivered(p.items.length)));
        },
        close: () => source.close(),
      };
    },
  });
}

const hubPort = (): number => Number(new URL(rogue.url).port);

const logged = (msg: string, from = 0): Array<Record<string, unknown>> => records.slice(from).filter((r) => r['msg'] === msg);

/** Bytes waiting in the kernel on the agent ↔ hub connection (both ends), from /proc/net/tcp. */
function kernelQueued(hubPort: number): number {
  let total = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      const local = parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
      const remote = parseInt((f[2] ?? '').split(':')[1] ?? '', 16);
      if (local !== hubPort && remote !== hubPort) continue;
      const [tx, rx] = (f[4] ?? '0:0').split(':').map((h) => parseInt(h, 16));
      total += (tx ?? 0) + (rx ?? 0);
    }
  }
  return total;
}

/** A search request's chunk frames and end, as the hub peer received them so far. */
function received(id: string): { chunks: Array<{ bytes: number; items: unknown[] }>; end: Extract<Frame, { type: 'end' }> | undefined } {
  const chunks: Array<{ bytes: number; items: unknown[] }> = [];
  let end: Extract<Frame, { type: 'end' }> | undefined;
  for (const r of hub.received) {
    if (!r.decoded.ok || !('id' in r.decoded.frame) || r.decoded.frame.id !== id) continue;
    const f = r.decoded.frame;
    if (f.type === 'chunk') chunks.push({ bytes: Buffer.byteLength(r.text), items: f.items });
    if (f.type === 'end') end = f;
  }
  return { chunks, end };
}

const search = (id: string): Record<string, unknown> => ({
  type: 'request',
  id,
  op: 'search',
  dataSource: 'corp',
  params: { base: 'dc=example,dc=com', filter: '(objectClass=*)', attributes: ['*'] },
  timeoutMs: 120_000,
  credit: HUGE_CREDIT,
});

beforeAll(async () => {
  env = makeEnv();
  const ldif = join(env.dir, 'realistic.ldif');
  await writeRealisticLdif(ldif, PEOPLE);
  slapd = await startSlapd({ ldifFile: ldif });
  rogue = await startRogueHub({ maxFrameBytes: MAX_FRAME_BYTES });
  const yaml = `
logging: { level: debug }
agent:
${basicAgentYaml(env, [rogue.url])}
maxFrameBytes: ${MAX_FRAME_BYTES}
maxRequestTimeout: 120000
dataSources:
  corp:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${slapd.adminPassword}
    baseDN: ${slapd.baseDN}
    pageSize: ${PAGE}
    searchWorkers: 0
    timeoutMs: 60000
    operations: [test, search]
`;
  const file = join(env.dir, 'agent.yaml');
  writeFileSync(file, yaml);
  const config = loadAgentConfig(file, {});
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      wake();
      cb();
    },
  });
  const logger = createLogger({ level: 'debug' }, sink);
  const ds = config.dataSources['corp'];
  if (ds === undefined || ds.type !== 'ldap') throw new Error('no ldap data source');
  agent = new Agent(config, logger, { adapters: new Map([['corp', counting(createLdapAdapter('corp', ds as LdapDataSourceConfig, logger))]]) });
  agent.start();
  hub = await rogue.session(1);
  hub.ws.on('message', wake);
}, 180_000);

afterAll(async () => {
  agent?.stop();
  await rogue?.close();
  await slapd?.stop();
  env?.cleanup();
});

printSlapdLogOnFailure(() => slapd);

const TOTAL = realisticEntryCount(PEOPLE);

describe('a hub that grants a huge credit and stops reading', () => {
  it('stops the LDAP pulls at a bound while the socket is not writable; after resume everything arrives, end.count exact', async () => {
    const from = records.length;
    hub.ws.pause();
    hub.sendFrame(search('s1'));
    await until(() => logged('socket not writable: streams wait', from).length > 0, 'the writer to report the socket not writable');
    // Quiescent: no page being pulled, one frame waiting in the lane.
    await until(() => {
      const c = pulls.get('s1');
      return c !== undefined && c.started === c.delivered;
    }, 'the pull in flight to land');
    const pulledAtStall = { ...(pulls.get('s1') as { started: number; delivered: number; items: number }) };
    const kernel = kernelQueued(hubPort());
    // Real work elsewhere meanwhile (round trips to slapd): the stream stays parked however long
    // the hub does not read.
    const client = new Client({ url: slapd.url });
    await client.bind(slapd.adminDN, slapd.adminPassword);
    for (let i = 0; i < 5; i++) await client.search(slapd.baseDN, { scope: 'base' });
    await client.unbind();
    expect(pulls.get('s1')?.started).toBe(pulledAtStall.started);
    expect(pulledAtStall.items).toBeLessThan(TOTAL / 2);

    hub.ws.resume();
    await until(() => received('s1').end !== undefined, 'the end of s1', 120_000);
    const got = received('s1');
    const items = got.chunks.flatMap((c) => c.items);
    expect(got.end?.count).toBe(TOTAL);
    expect(items).toHaveLength(TOTAL);
    expect(new Set(items.map((i) => (i as { dn: string }).dn)).size).toBe(TOTAL);
    expect(pulls.get('s1')?.items).toBe(TOTAL);

    // The bound: what was pulled at the stall is what the kernel and ws held, one frame in the
    // lane and two pages (the page being sent, the one pulled ahead) — in the items' own bytes.
    let bytes = 0;
    for (const item of items.slice(0, pulledAtStall.items)) bytes += Buffer.byteLength(JSON.stringify(item)) + 1;
    const pageBytes = (bytes / pulledAtStall.items) * PAGE;
    const bound = kernel + HWM + 2 * MAX_FRAME_BYTES + 2 * pageBytes;
    console.log(
      `FIGURE hostile-credit: ${pulledAtStall.items} of ${TOTAL} entries pulled at the stall (${(bytes / 1048576).toFixed(1)} MiB; kernel ${(kernel / 1048576).toFixed(1)} MiB, bound ${(bound / 1048576).toFixed(1)} MiB)`,
    );
    expect(bytes).toBeLessThanOrEqual(bound);
  });

  it('a cancel while the hub does not read drops the queued chunks; only what ws held arrives; a concurrent search loses nothing', async () => {
    const from = records.length;
    const fromFrame = hub.received.length;
    hub.ws.pause();
    hub.sendFrame(search('c1'));
    hub.sendFrame(search('c2'));
    await until(() => logged('socket not writable: streams wait', from).length > 0, 'the writer to report the socket not writable');
    await until(() => {
      const a = pulls.get('c1');
      const b = pulls.get('c2');
      return a !== undefined && b !== undefined && a.started === a.delivered && b.started === b.delivered;
    }, 'both streams to park');
    const kernel = kernelQueued(hubPort());
    const stall = logged('socket not writable: streams wait', from).at(-1) as { bufferedAmount: number };

    hub.sendFrame({ type: 'cancel', id: 'c1' });
    await until(() => logged('cancel: search chunks still queued for the socket dropped', from).length > 0, 'the cancel to drop queued chunks');
    const dropLine = logged('cancel: search chunks still queued for the socket dropped', from)[0] as { dropped: number; framesDropped: number; requestId: string };
    expect(dropLine.requestId).toBe('c1');
    expect(dropLine.dropped).toBeGreaterThan(0);
    expect(dropLine.framesDropped).toBeGreaterThan(0);

    hub.ws.resume();
    await until(() => received('c2').end !== undefined, 'the end of c2', 120_000);
    const c2 = received('c2');
    expect(c2.end?.count).toBe(TOTAL);
    expect(c2.chunks.flatMap((c) => c.items)).toHaveLength(TOTAL);
    // c1: no end, and its chunks are only what the kernel and ws held when it was cancelled.
    const c1 = received('c1');
    expect(c1.end).toBeUndefined();
    const c1Bytes = c1.chunks.reduce((n, c) => n + c.bytes, 0);
    console.log(
      `FIGURE hostile-cancel: ${c1.chunks.length} chunks (${(c1Bytes / 1048576).toFixed(1)} MiB) of the cancelled search arrived, ${dropLine.dropped} dropped; kernel ${(kernel / 1048576).toFixed(1)} MiB, ws ${(stall.bufferedAmount / 1048576).toFixed(1)} MiB`,
    );
    expect(c1Bytes).toBeLessThanOrEqual(kernel + stall.bufferedAmount + MAX_FRAME_BYTES);
    expect(hub.received.length).toBeGreaterThan(fromFrame);
  });
});
