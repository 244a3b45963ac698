/**
 * Part 2 — frames at the HUB from a rogue agent. The rogue authenticates with valid Basic
 * credentials of tenant 1, registers with a valid hello (offering only its own data source),
 * then sends thousands of generated and mutated frames (fast-check, fixed seed) — among them
 * results, chunks and ends for request ids the hub never sent it, including the ids of requests
 * in flight on a well-behaved agent of the same tenant. Meanwhile that real agent (in-memory
 * data source) keeps answering searches and gets through the HTTP API; every caller must get
 * exactly its agent's data, never a rogue frame ("an agent cannot answer a request id it was
 * not sent"). Also: frames before hello, a second hello, another tenant's hello, and hostile
 * answers to requests the rogue *was* sent.
 *
 * The hub answers every frame of a registered agent synchronously and in order, so the answer
 * to a frame is exactly what arrives before the answer to the marker frame that follows it.
 */
import { Subject, lastValueFrom, toArray } from 'rxjs';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError, decodeFrame, type Frame } from '../../src/protocol/index.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { API_TOKENS, basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub, type TestAgent, memoryDataSourceYaml } from '../helpers/relay-env.js';
import {
  SEED,
  anyHostileFrame,
  basicAuth,
  connectRaw,
  deepFrame,
  deepJson,
  figure,
  formatCounts,
  frameTemplates,
  increment,
  markerFrame,
  materialise,
  prototypeIsClean,
  rawTextFrame,
  watchCrashes,
  type CrashWatch,
  type HostileFrame,
  type Peer,
  type Received,
} from './helpers.js';

const MAX_FRAME_BYTES = 64 * 1024;
const ITEMS = 500;
const AUTH = basicAuth('agent', 'agent-secret-123');

const DS = memoryDataSourceYaml();

let env: Env;
let hub: RunningHub;
let good: TestAgent;
let rogue: Peer;
let crashes: CrashWatch;
let base: string;
let runId = 0;

const stats = {
  frames: 0,
  errorFrames: 0,
  codes: new Map<string, number>(),
  closeCodes: new Map<number, number>(),
  rejects: new Map<string, number>(),
  families: new Map<string, number>(),
  outcomes: new Map<string, number>(),
  goodRequests: 0,
  goodFailures: [] as string[],
  unsolicitedSeen: 0,
  targetedInFlight: 0,
  followUp: 'not run',
};

function hello(agentId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'hello',
    protocol: 1,
    agent: { id: agentId, version: '0.0.0-rogue', hostname: 'rogue' },
    tenantId: '1',
    dataSources: [{ name: 'rogue-ds', type: 'ldap', operations: ['test', 'get', 'search', 'export'] }],
    ...overrides,
  };
}

/** Connects and registers a rogue agent; resolves once its welcome arrived. */
async function register(agentId: string): Promise<Peer> {
  const peer = await connectRaw(hub.url, AUTH);
  peer.sendFrame(hello(agentId));
  await peer.waitFor((f) => f.type === 'welcome');
  return peer;
}

beforeAll(async () => {
  crashes = watchCrashes();
  env = makeEnv();
  hub = await startHub(env, { tls: false, extra: `maxFrameBytes: ${MAX_FRAME_BYTES}` });
  base = `http://127.0.0.1:${hub.port}`;
  good = startAgent(env, basicAgentYaml(env, [hub.url]), DS, { adapters: new Map([['mem', memoryAdapter({ items: ITEMS, pageSize: 50, pullDelayMs: 1 })]]) });
  await good.statuses.next(isState('registered'));
  rogue = await register('rogue-1');
});

afterAll(async () => {
  figure('fuzz-hub', [
    [stats.frames, 'frames'],
    [stats.errorFrames, 'error frames'],
    `codes ${formatCounts(stats.codes)}`,
    `rejects ${formatCounts(stats.rejects)}`,
    `close codes ${formatCounts(stats.closeCodes)}`,
    `crashes ${crashes.errors.length}`,
    `well-behaved requests ${stats.goodRequests} ok / ${stats.goodFailures.length} failed`,
    `unsolicited answers reaching a caller ${stats.unsolicitedSeen}`,
    `follow-up ${stats.followUp}`,
  ]);
  console.log(`fuzz-hub families ${formatCounts(stats.families)}; outcomes ${formatCounts(stats.outcomes)}; frames aimed at ids in flight on the good agent ${stats.targetedInFlight}`);
  rogue.close();
  good.stop();
  await hub.close();
  crashes.dispose();
  env.cleanup();
});

// ---------------------------------------------------------------------------------------------
// Well-behaved traffic through the HTTP API, checked line by line

const inFlight = new Set<string>();
let goodSeq = 0;

/** One search through the HTTP API: exactly the good agent's items, then the summary line. */
async function goodSearch(): Promise<void> {
  const id = `good-${++goodSeq}`;
  inFlight.add(id);
  try {
    const r = await request(`${base}/v1/data-sources/mem/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKENS.tenant1}`, 'content-type': 'application/json', 'x-request-id': id },
      body: '{}',
    });
    const text = await r.body.text();
    const lines = text.trim().split('\n');
    if (text.includes('rogue')) stats.unsolicitedSeen += 1;
    const expected = [...Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ index: i, name: `item-${i}` })), JSON.stringify({ end: true, count: ITEMS, truncated: false })];
    if (r.statusCode !== 200 || lines.join('\n') !== expected.join('\n')) stats.goodFailures.push(`${id}: ${r.statusCode} ${text.slice(-300)}`);
    else stats.goodRequests += 1;
  } finally {
    inFlight.delete(id);
  }
}

async function goodTest(): Promise<void> {
  const id = `good-${++goodSeq}`;
  inFlight.add(id);
  try {
    const data = await hub.hub.request({ tenantId: '1', dataSource: 'mem', op: 'test', id });
    if (JSON.stringify(data) !== JSON.stringify({ ok: true, items: ITEMS })) stats.goodFailures.push(`${id}: ${JSON.stringify(data)}`);
    else stats.goodRequests += 1;
  } catch (err) {
    stats.goodFailures.push(`${id}: ${String(err)}`);
  } finally {
    inFlight.delete(id);
  }
}

/** Runs well-behaved requests, two at a time, until `stop` resolves. */
async function background(stop: Promise<void>): Promise<void> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const lane = async (k: number): Promise<void> => {
    while (!stopped) {
      await (k === 0 ? goodSearch() : goodTest());
      // Steady traffic, not a saturated CPU: the fuzz shares this process.
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await Promise.all([lane(0), lane(1)]);
}

// ---------------------------------------------------------------------------------------------
// The oracle

type Expectation = { readonly kind: 'bad-frame'; readonly id: string | undefined } | { readonly kind: 'silent'; readonly why: string };

const ANSWERS = new Set(['result', 'error', 'chunk', 'end', 'credit']);

/** What the protocol says the hub does with this frame from a registered agent it sent nothing. */
function expectation(data: string | Buffer, binary: boolean): Expectation {
  if (binary) return { kind: 'bad-frame', id: undefined };
  const decoded = decodeFrame(typeof data === 'string' ? Buffer.from(data) : data, MAX_FRAME_BYTES);
  // The rogue was sent no request: a refused frame names no request of its, so the error has no id
  // (docs/protocol.md, "Protocol errors").
  if (!decoded.ok) return { kind: 'bad-frame', id: undefined };
  const f = decoded.frame;
  const id = 'id' in f ? f.id : undefined;
  if (f.type === 'error' && id === undefined) return { kind: 'silent', why: 'an error without id is never answered' };
  if (!ANSWERS.has(f.type) || id === undefined) return { kind: 'bad-frame', id: undefined };
  // "no pending request with id …": an agent cannot answer a request it was not sent.
  return { kind: 'bad-frame', id: undefined };
}

const frameOf = (r: Received): Frame => {
  if (!r.decoded.ok) throw new Error(`undecodable frame from the hub: ${r.text.slice(0, 300)}`);
  return r.decoded.frame;
};

function record(replies: readonly Received[]): void {
  for (const r of replies) {
    expect(r.decoded.ok, `the hub sent a frame its own codec refuses: ${r.text.slice(0, 300)}`).toBe(true);
    const f = frameOf(r);
    if (f.type === 'error') {
      stats.errorFrames += 1;
      increment(stats.codes, f.code);
    }
  }
}

async function tryFrame(hf: HostileFrame): Promise<void> {
  const n = ++runId;
  // Every third frame aims at a request in flight on the good agent (its id is public: the
  // caller chose it); the others at ids nobody ever sent.
  const target = n % 3 === 0 ? [...inFlight][0] : undefined;
  if (target !== undefined) stats.targetedInFlight += 1;
  const data = materialise(hf, target ?? `x${n}`);
  const exp = expectation(data, hf.binary);
  stats.frames += 1;
  increment(stats.families, hf.family);
  increment(stats.outcomes, exp.kind);
  const { replies, closed } = await rogue.probe(data, hf.binary, `mark-${n}`);
  const what = `${hf.family} frame ${typeof data === 'string' ? data.slice(0, 300) : `<${data.length} bytes>`}`;
  expect(closed, `the hub closed the rogue's socket (${rogue.closeCode}) on ${what}`).toBe(false);
  record(replies);
  if (exp.kind === 'silent') {
    expect(replies.map((r) => r.text), `${what}: expected no answer (${exp.why})`).toEqual([]);
    return;
  }
  expect(replies.map((r) => r.text), `${what}: expected exactly one error frame`).toHaveLength(1);
  const reply = frameOf(replies[0]!);
  expect(reply, what).toMatchObject({ type: 'error', code: 'BAD_FRAME', retryable: false });
  expect(reply.type === 'error' ? reply.id : undefined, `${what}: the error carries the salvaged id`).toBe(exp.id);
}

const templates = frameTemplates('rogue-ds');

describe('fuzz: hostile frames from a registered rogue agent', () => {
  it('every frame gets exactly one BAD_FRAME (or silence for an id-less error); the good agent is served throughout', async () => {
    const stop = new Subject<void>();
    const load = background(lastValueFrom(stop.pipe(toArray())).then(() => undefined));
    try {
      await fc.assert(fc.asyncProperty(anyHostileFrame(templates, MAX_FRAME_BYTES), tryFrame), { seed: SEED, numRuns: 2500, endOnFailure: true });
      await fc.assert(fc.asyncProperty(deepFrame(), tryFrame), { seed: SEED, numRuns: 40, endOnFailure: true });
    } finally {
      stop.complete();
      await load;
    }
    expect(stats.goodFailures).toEqual([]);
    expect(stats.goodRequests).toBeGreaterThan(10);
    expect(stats.unsolicitedSeen).toBe(0);
    expect(stats.targetedInFlight).toBeGreaterThan(100);
    expect(rogue.open).toBe(true);
    expect(crashes.errors).toEqual([]);
    expect(prototypeIsClean()).toBe(true);
  });

  it('a second hello is a BAD_FRAME and changes nothing', async () => {
    const { replies } = await rogue.probe(JSON.stringify(hello('rogue-1', { dataSources: [{ name: 'mem', type: 'ldap', operations: ['test'] }] })), false, `mark-${++runId}`);
    stats.frames += 1;
    record(replies);
    expect(replies.map(frameOf)).toEqual([expect.objectContaining({ type: 'error', code: 'BAD_FRAME', message: expect.stringMatching(/unexpected hello/) as string })]);
    expect(hub.hub.registry.get('1', 'rogue-1')?.hello?.dataSources.map((d) => d.name)).toEqual(['rogue-ds']);
  });
});

describe('registration abuse', () => {
  it('garbage before hello gets BAD_FRAME and the hello after it still registers', async () => {
    const peer = await connectRaw(hub.url, AUTH);
    try {
      const garbage = fc.sample(rawTextFrame(templates), { seed: SEED, numRuns: 200 }).filter((g) => !decodeFrame(Buffer.from(g.data)).ok);
      for (const g of garbage) {
        const { replies } = await peer.probe(g.data, false, `mark-${++runId}`);
        stats.frames += 1;
        record(replies);
        expect(replies.map(frameOf), String(g.data)).toEqual([expect.objectContaining({ type: 'error', code: 'BAD_FRAME' })]);
      }
      peer.sendFrame(hello('rogue-2'));
      await peer.waitFor((f) => f.type === 'welcome');
      expect(hub.hub.registry.get('1', 'rogue-2')).toBeDefined();
    } finally {
      peer.close();
    }
  });

  it('a first frame that is not hello, another tenant, an unknown protocol: reject + close 4001; no hello: REGISTRATION_TIMEOUT', async () => {
    const silent = await connectRaw(hub.url, AUTH);
    const cases: Array<[unknown, string]> = [
      [{ type: 'result', id: 'good-1', data: { rogue: true } }, 'BAD_HELLO'],
      [{ type: 'chunk', id: 'good-1', seq: 0, items: [{ rogue: true }] }, 'BAD_HELLO'],
      [{ type: 'error', code: 'INTERNAL', message: 'x', retryable: false }, 'BAD_HELLO'],
      [{ type: 'welcome', sessionId: 's', limits: { maxFrameBytes: 1 } }, 'BAD_HELLO'],
      [{ type: 'request', id: 'r', op: 'test', dataSource: 'mem', params: {}, timeoutMs: 1 }, 'BAD_HELLO'],
      [hello('rogue-t2', { tenantId: '2' }), 'TENANT_MISMATCH'],
      [hello('rogue-t3', { tenantId: '__proto__' }), 'TENANT_MISMATCH'],
      [hello('rogue-t4', { tenantId: 'constructor' }), 'TENANT_MISMATCH'],
      [hello('rogue-t5', { tenantId: '' }), 'TENANT_MISMATCH'],
      [hello('rogue-p2', { protocol: 2 }), 'UNSUPPORTED_PROTOCOL'],
      [hello('rogue-p0', { protocol: 1.5 }), 'UNSUPPORTED_PROTOCOL'],
      [hello('rogue-pn', { protocol: -1 }), 'UNSUPPORTED_PROTOCOL'],
    ];
    for (const [first, code] of cases) {
      const peer = await connectRaw(hub.url, AUTH);
      peer.sendFrame(first);
      const reject = await peer.waitFor((f) => f.type === 'reject');
      stats.frames += 1;
      increment(stats.rejects, code);
      expect(reject, JSON.stringify(first)).toMatchObject({ type: 'reject', code });
      const close = await peer.closed;
      increment(stats.closeCodes, close);
      expect(close).toBe(4001);
    }
    expect(hub.hub.registry.agents('2')).toEqual([]);
    const timeout = await silent.waitFor((f) => f.type === 'reject', 0, 6000);
    expect(timeout).toMatchObject({ code: 'REGISTRATION_TIMEOUT' });
    increment(stats.rejects, 'REGISTRATION_TIMEOUT');
    increment(stats.closeCodes, await silent.closed);
    expect(silent.closeCode).toBe(4001);
  });

  it('a hostile hello (prototype keys as names, 600 data sources) registers without harm; the info routes still answer', async () => {
    const names = ['__proto__', 'constructor', 'hasOwnProperty', 'toString', ...Array.from({ length: 600 }, (_, i) => `ds-${i}`)];
    const peer = await connectRaw(hub.url, AUTH);
    try {
      peer.sendFrame(hello('__proto__', { dataSources: names.map((name) => ({ name, type: 'constructor', operations: ['test', 'test', 'search'] })) }));
      await peer.waitFor((f) => f.type === 'welcome');
      stats.frames += 1;
      for (const path of ['/v1/agents', '/v1/data-sources']) {
        const r = await request(`${base}${path}`, { headers: { authorization: `Bearer ${API_TOKENS.tenant1}` } });
        expect(r.statusCode, path).toBe(200);
        const body = (await r.body.json()) as Record<string, unknown[]>;
        expect(JSON.stringify(body)).toContain('__proto__');
      }
      expect(prototypeIsClean()).toBe(true);
      // The well-behaved agent's data source is still served by the well-behaved agent.
      expect(await hub.hub.request({ tenantId: '1', dataSource: 'mem', op: 'test' })).toEqual({ ok: true, items: ITEMS });
    } finally {
      peer.close();
    }
  });
});

describe('hostile answers to requests the rogue was sent', () => {
  /** Sends a request for the rogue's data source, lets the rogue answer with `answer`, returns the caller's outcome. */
  async function against(
    op: 'test' | 'search',
    answer: (id: string) => unknown[],
    options: { timeoutMs?: number; demand$?: Subject<number> } = {},
  ): Promise<{ value?: unknown; error?: ProtocolError; id: string }> {
    const from = rogue.received.length;
    const timeoutMs = options.timeoutMs ?? 3000;
    const outcome =
      op === 'test'
        ? hub.hub.request({ tenantId: '1', dataSource: 'rogue-ds', op, timeoutMs })
        : lastValueFrom(
            hub.hub.searchEvents$({ tenantId: '1', dataSource: 'rogue-ds', timeoutMs }, { window: 4, ...(options.demand$ ? { demand$: options.demand$ } : {}) }).pipe(toArray()),
          );
    const req = await rogue.waitFor((f) => f.type === 'request', from);
    const id = (req as { id: string }).id;
    for (const f of answer(id)) rogue.send(typeof f === 'string' ? f : JSON.stringify(f));
    stats.frames += answer(id).length;
    try {
      return { value: await outcome, id };
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
      return { error: err as ProtocolError, id };
    }
  }

  it('wrong frame kinds, broken sequences and counts fail the caller with a coded error, at once', async () => {
    const t0 = performance.now();
    const chunkForTest = await against('test', (id) => [{ type: 'chunk', id, seq: 0, items: [{ rogue: true }] }]);
    expect(chunkForTest.error?.code).toBe('BAD_FRAME');
    const resultForSearch = await against('search', (id) => [{ type: 'result', id, data: { rogue: true } }]);
    expect(resultForSearch.error?.code).toBe('BAD_FRAME');
    const seqGap = await against('search', (id) => [{ type: 'chunk', id, seq: 3, items: [{ rogue: true }] }]);
    expect(seqGap.error?.code).toBe('BAD_FRAME');
    const badCount = await against('search', (id) => [{ type: 'chunk', id, seq: 0, items: [{ a: 1 }] }, { type: 'end', id, count: 5 }]);
    expect(badCount.error?.code).toBe('BAD_FRAME');
    // Well under the 3 s deadline: a protocol violation fails the request at once.
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('after a protocol violation the hub cancels the request on the agent', async () => {
    const { id } = await against('search', (rid) => [{ type: 'chunk', id: rid, seq: 7, items: [] }]);
    await rogue.waitFor((f) => f.type === 'cancel' && f.id === id);
  });

  it('a second result is dropped quietly and never reaches the caller', async () => {
    const twice = await against('test', (id) => [{ type: 'result', id, data: { first: true } }, { type: 'result', id, data: { second: true } }]);
    expect(twice.value).toEqual({ first: true });
    // Quietly: the id ended a moment ago, a late frame for it is no error.
    const { replies } = await rogue.probe(JSON.stringify({ type: 'result', id: twice.id, data: { third: true } }), false, `mark-${++runId}`);
    expect(replies.map(frameOf).filter((f) => f.type === 'error')).toEqual([]);
  });

  it('an error frame from the agent reaches the caller with its code', async () => {
    const e = await against('test', (id) => [{ type: 'error', id, code: 'UPSTREAM_UNAVAILABLE', message: 'down', retryable: true }]);
    expect(e.error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
  });

  it('a stream that ignores credit is stopped (BAD_FRAME, cancel) instead of being buffered for a consumer that did not ask', async () => {
    // A consumer that grants nothing beyond the window of 4 (an HTTP client that stopped reading).
    const flood = await against('search', (id) => Array.from({ length: 50 }, (_, seq) => ({ type: 'chunk', id, seq, items: [{ n: seq }] })), { demand$: new Subject<number>() });
    expect(flood.error?.code).toBe('BAD_FRAME');
    expect(flood.error?.message).toMatch(/chunk 4 sent without credit \(4 granted\)/);
    await rogue.waitFor((f) => f.type === 'cancel' && f.id === flood.id);
  });

  it('through the HTTP API: deep nesting and prototype keys in answers are coded errors or plain data — never a 500, never a crash', async () => {
    const call = async (path: string, answer: (id: string) => string[]): Promise<{ status: number; text: string }> => {
      const from = rogue.received.length;
      const pending = request(`${base}/v1/data-sources/rogue-ds/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_TOKENS.tenant1}`, 'content-type': 'application/json' },
        body: '{}',
      });
      const req = await rogue.waitFor((f) => f.type === 'request', from);
      for (const text of answer((req as { id: string }).id)) rogue.send(text);
      const r = await pending;
      return { status: r.statusCode, text: await r.body.text() };
    };
    const deep = deepJson(10_000);
    const cases: Array<[string, (id: string) => string[], (r: { status: number; text: string }) => void]> = [
      ['test', (id) => [`{"type":"result","id":"${id}","data":${deep}}`], (r) => expect(r.status).toBe(502)],
      ['search', (id) => [`{"type":"chunk","id":"${id}","seq":0,"items":[${deep}]}`, `{"type":"end","id":"${id}","count":1}`], (r) => expect(r.status).toBe(502)],
      ['search', (id) => [`{"type":"chunk","id":"${id}","seq":0,"items":[{"a":1}]}`, `{"type":"chunk","id":"${id}","seq":1,"items":[${deep}]}`, `{"type":"end","id":"${id}","count":2}`], (r) => {
        expect(r.status).toBe(200);
        expect(JSON.parse(r.text.trim().split('\n').at(-1)!)).toMatchObject({ error: { code: 'BAD_FRAME' }, count: 1 });
      }],
      ['search', (id) => [`{"type":"chunk","id":"${id}","seq":0,"items":[{"__proto__":{"polluted":true},"constructor":{"prototype":{"isAdmin":true}}}]}`, `{"type":"end","id":"${id}","count":1}`], (r) => {
        expect(r.status).toBe(200);
        expect(r.text).toContain('"__proto__":{"polluted":true}');
      }],
      ['search', (id) => [`{"type":"chunk","id":"${id}","seq":0,"items":[{"a":1}]}`, `{"type":"end","id":"${id}","count":9}`], (r) => expect(JSON.parse(r.text.trim().split('\n').at(-1)!)).toMatchObject({ error: { code: 'BAD_FRAME' } })],
    ];
    for (const [path, answer, check] of cases) {
      const r = await call(path, answer);
      stats.frames += answer('x').length;
      expect(r.status, r.text.slice(0, 300)).not.toBe(500);
      check(r);
    }
    expect(prototypeIsClean()).toBe(true);
    expect(crashes.errors).toEqual([]);
  });

  it('afterwards the rogue link and the good agent both still work; nothing crashed', async () => {
    const ok = await against('test', (id) => [{ type: 'result', id, data: { fine: true } }]);
    expect(ok.value).toEqual({ fine: true });
    await Promise.all([goodSearch(), goodSearch(), goodTest()]);
    expect(stats.goodFailures).toEqual([]);
    expect(stats.unsolicitedSeen).toBe(0);
    expect(crashes.errors).toEqual([]);
    stats.followUp = `ok (HTTP search ${ITEMS}/${ITEMS} ×2, test)`;
    // The frame the marker helper relies on is still answered: the rogue session is healthy.
    const { replies } = await rogue.probe(markerFrame('probe-id'), false, `mark-${++runId}`);
    expect(replies.map(frameOf)).toEqual([expect.objectContaining({ code: 'BAD_FRAME', message: expect.stringContaining('(about request probe-id, which is not pending)') as string })]);
    expect(replies.map(frameOf)[0]).not.toHaveProperty('id');
  });
});
