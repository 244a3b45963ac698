/**
 * Protocol errors, one rule (docs/protocol.md, "Protocol errors"): a frame that names an open
 * request and breaks the protocol ends that request on both sides, and the error (agent) or
 * cancel (hub) is the last word on the id; the connection stays up.
 *
 * Agent side: a rogue hub (raw `ws`) drives the real agent (in-memory data source) and sends
 * invalid credits for a live search. Hub side: a rogue agent (raw `ws`) registers with the real
 * hub and answers its requests with invalid or late frames. Everything is asserted on frames,
 * counters and outcomes — the page source's close, the hub's dropped-frame counter — never on time.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../../src/protocol/index.js';
import { basicAuth, connectRaw, startRogueHub, type Peer, type RogueHub } from '../hostile/helpers.js';
import { memoryAdapter, type MemoryAdapter } from '../helpers/memory-adapter.js';
import { API_TOKENS, basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub, type TestAgent } from '../helpers/relay-env.js';

const ITEMS = 250;
const DS = `
dataSources:
  mem:
    type: ldap
    url: ldap://127.0.0.1:1
    baseDN: dc=example,dc=com
    operations: [test, get, search, export]
`;

/** Invalid `n` of a credit frame, as its JSON text (`null` is what JSON.stringify makes of NaN). */
const INVALID_CREDITS: ReadonlyArray<readonly [string, string]> = [
  ['negative', '-1'],
  ['zero', '0'],
  ['fractional', '0.5'],
  ['a string', '"8"'],
  ['NaN (JSON.stringify writes null)', 'null'],
  ['"NaN"', '"NaN"'],
  ['Infinity (1e400)', '1e400'],
  ['huge: 2^31, beyond MAX_CREDIT', '2147483648'],
  ['huge: 1e300', '1e300'],
];

const idOf = (f: Frame): string | undefined => ('id' in f ? f.id : undefined);

describe('agent: a protocol violation on a stream ends it (rogue hub, real agent)', () => {
  let env: Env;
  let rogue: RogueHub;
  let agent: TestAgent;
  let mem: MemoryAdapter;
  let hub: Peer;

  beforeAll(async () => {
    env = makeEnv();
    rogue = await startRogueHub({ maxFrameBytes: 1024 * 1024 });
    mem = memoryAdapter({ items: ITEMS, pageSize: 50 });
    agent = startAgent(env, basicAgentYaml(env, [rogue.url]), DS, { adapters: new Map([['mem', mem]]) });
    await agent.statuses.next(isState('registered'));
    hub = await rogue.session(1);
  });

  afterAll(async () => {
    agent.stop();
    await rogue.close();
    env.cleanup();
  });

  /** A search with credit for one chunk, once that chunk arrived. */
  async function liveSearch(id: string): Promise<number> {
    const from = hub.received.length;
    hub.sendFrame({ type: 'request', id, op: 'search', dataSource: 'mem', params: {}, timeoutMs: 30_000, credit: 1 });
    await hub.waitFor((f) => f.type === 'chunk' && f.id === id, from, 10_000);
    return from;
  }

  /** A `get` answered on the same session: the agent still serves. Returns the index of its result. */
  async function served(id: string, from: number): Promise<number> {
    hub.sendFrame({ type: 'request', id, op: 'get', dataSource: 'mem', params: { index: 7 }, timeoutMs: 10_000 });
    const i = await hub.waitIndex((f) => f.type === 'result' && f.id === id, from, 10_000);
    expect(hub.frames(i)[0]).toMatchObject({ type: 'result', data: { index: 7 } });
    return i;
  }

  it.each(INVALID_CREDITS)('credit %s: one error{id, BAD_FRAME}, page source closed, no chunk after it, the next request served', async (_what, n) => {
    const id = `credit-${n.replace(/\W/g, '_')}`;
    const from = await liveSearch(id);
    const closedBefore = mem.closed.length;
    hub.send(`{"type":"credit","id":"${id}","n":${n}}`);
    const errAt = await hub.waitIndex((f) => f.type === 'error' && f.id === id, from, 10_000);
    expect(hub.frames(errAt)[0]).toMatchObject({ type: 'error', id, code: 'BAD_FRAME', retryable: false });
    // The stream was stopped — its page source closed — before its error frame was made.
    expect(mem.closed.length).toBe(closedBefore + 1);
    // A valid credit for the ended id changes nothing; the agent serves the next request.
    hub.sendFrame({ type: 'credit', id, n: 100 });
    await served(`${id}-next`, errAt);
    const forId = hub.frames(from).filter((f) => idOf(f) === id);
    expect(forId.filter((f) => f.type === 'error')).toHaveLength(1);
    expect(forId.at(-1)).toMatchObject({ type: 'error', id });
    expect(forId.filter((f) => f.type === 'chunk')).toHaveLength(1);
    expect(hub.open).toBe(true);
    expect(rogue.sessions).toHaveLength(1);
  });

  it('a frame without a readable id (credit with a raw NaN, not JSON) gets an error without an id; the stream runs on to its exact count', async () => {
    const id = 'raw-nan';
    const from = await liveSearch(id);
    const at = hub.received.length;
    hub.send(`{"type":"credit","id":"${id}","n":NaN}`);
    await hub.waitFor((f) => f.type === 'error' && f.id === undefined, at);
    hub.sendFrame({ type: 'credit', id, n: 1000 });
    const end = await hub.waitFor((f) => f.type === 'end' && f.id === id, from);
    expect(end).toEqual({ type: 'end', id, count: ITEMS });
    expect(hub.frames(from).filter((f) => f.type === 'error' && f.id === id)).toEqual([]);
  });

  it('an invalid frame naming no open request gets an error without an id that names it', async () => {
    const from = hub.received.length;
    hub.send('{"type":"credit","id":"never-opened","n":-1}');
    const err = await hub.waitFor((f) => f.type === 'error', from);
    expect(err).toMatchObject({ code: 'BAD_FRAME', message: expect.stringContaining('never-opened') as string });
    expect(idOf(err)).toBeUndefined();
  });

  it('a request reusing the id of a live stream ends that stream: one BAD_FRAME error with the id', async () => {
    const id = 'dup-live';
    const from = await liveSearch(id);
    const closedBefore = mem.closed.length;
    hub.sendFrame({ type: 'request', id, op: 'test', dataSource: 'mem', params: {}, timeoutMs: 5000 });
    const errAt = await hub.waitIndex((f) => f.type === 'error' && f.id === id, from);
    expect(hub.frames(errAt)[0]).toMatchObject({ code: 'BAD_FRAME' });
    expect(mem.closed.length).toBe(closedBefore + 1);
    await served('dup-live-next', errAt);
    expect(hub.frames(from).filter((f) => idOf(f) === id && f.type !== 'chunk')).toHaveLength(1);
  });

  it('an export: an invalid credit ends it with BAD_FRAME, every record written accounted for in the error', async () => {
    const id = 'export-violation';
    const from = hub.received.length;
    hub.sendFrame({ type: 'request', id, op: 'export', dataSource: 'mem', params: {}, timeoutMs: 30_000, credit: 8 });
    await hub.waitFor((f) => f.type === 'credit' && f.id === id, from);
    hub.sendFrame({ type: 'chunk', id, seq: 0, items: [{ i: 0 }, { i: 1 }] });
    await hub.waitFor((f) => f.type === 'chunk' && f.id === id, from);
    hub.send(`{"type":"credit","id":"${id}","n":-3}`);
    const errAt = await hub.waitIndex((f) => f.type === 'error' && f.id === id, from);
    expect(hub.frames(errAt)[0]).toMatchObject({ code: 'BAD_FRAME', details: { count: 2 } });
    await served('export-violation-next', errAt);
    const forId = hub.frames(from).filter((f) => idOf(f) === id);
    expect(forId.at(-1)).toMatchObject({ type: 'error' });
    expect(forId.filter((f) => f.type === 'error')).toHaveLength(1);
  });
});

describe('hub: a protocol violation by an agent ends the request (real hub, rogue agent)', () => {
  let env: Env;
  let hub: RunningHub;
  let rogue: Peer;
  let seq = 0;

  beforeAll(async () => {
    env = makeEnv();
    hub = await startHub(env, { tls: false });
    rogue = await connectRaw(hub.url, basicAuth('agent', 'agent-secret-123'));
    rogue.sendFrame({
      type: 'hello',
      protocol: 1,
      agent: { id: 'rogue-agent', version: '0.0.0-rogue', hostname: 'rogue' },
      tenantId: '1',
      dataSources: [{ name: 'rogue-ds', type: 'ldap', operations: ['test', 'get', 'search', 'export'] }],
    });
    await rogue.waitFor((f) => f.type === 'welcome');
  });

  afterAll(async () => {
    rogue.close();
    await hub.close();
    env.cleanup();
  });

  const link = () => {
    const l = hub.hub.registry.get('1', 'rogue-agent');
    if (!l) throw new Error('the rogue agent is not registered');
    return l;
  };

  /**
   * A frame for an id the hub never sent: answered with an error without an id that names it.
   * The hub handles an agent's frames in order, so everything sent before it was handled when
   * the answer arrives. Returns the frames received in between.
   */
  async function flush(): Promise<Frame[]> {
    const marker = `never-sent-${++seq}`;
    const from = rogue.received.length;
    rogue.sendFrame({ type: 'end', id: marker, count: 0 });
    const i = await rogue.waitIndex((f) => f.type === 'error' && f.message.includes(marker), from);
    return rogue.frames(from).slice(0, i - from);
  }

  /** A search to the rogue agent; resolves once the agent has the request. */
  async function search(id: string): Promise<{ outcome: Promise<unknown>; from: number }> {
    const from = rogue.received.length;
    const outcome = lastValueFrom(hub.hub.searchEvents$({ tenantId: '1', dataSource: 'rogue-ds', params: {}, id }).pipe(toArray()));
    outcome.catch(() => undefined);
    await rogue.waitFor((f) => f.type === 'request' && f.id === id, from);
    return { outcome, from };
  }

  /** The session still serves: a `test` answered by the rogue reaches its caller. */
  async function stillServed(): Promise<void> {
    const id = `served-${++seq}`;
    const from = rogue.received.length;
    const answer = hub.hub.request({ tenantId: '1', dataSource: 'rogue-ds', op: 'test', id });
    await rogue.waitFor((f) => f.type === 'request' && f.id === id, from);
    rogue.sendFrame({ type: 'result', id, data: { ok: true } });
    await expect(answer).resolves.toEqual({ ok: true });
  }

  const INVALID_CHUNKS: ReadonlyArray<readonly [string, (id: string) => string]> = [
    ['a negative seq', (id) => `{"type":"chunk","id":"${id}","seq":-1,"items":[{"a":1}]}`],
    ['items not an array', (id) => `{"type":"chunk","id":"${id}","seq":0,"items":{"a":1}}`],
    ['a string seq', (id) => `{"type":"chunk","id":"${id}","seq":"0","items":[]}`],
    ['an invalid credit', (id) => `{"type":"credit","id":"${id}","n":0.5}`],
    ['a cancel (not an agent frame)', (id) => `{"type":"cancel","id":"${id}"}`],
  ];

  it.each(INVALID_CHUNKS)('%s: the caller gets BAD_FRAME, the agent a cancel, later frames for the id are dropped and counted; the session stays up', async (_what, bad) => {
    const id = `bad-${++seq}`;
    const { outcome, from } = await search(id);
    rogue.sendFrame({ type: 'chunk', id, seq: 0, items: [{ a: 0 }] });
    rogue.send(bad(id).replace('"seq":0,', '"seq":1,').replace('"seq":"0"', '"seq":"1"'));
    await expect(outcome).rejects.toMatchObject({ code: 'BAD_FRAME', message: expect.stringContaining(id) as string });
    await rogue.waitFor((f) => f.type === 'cancel' && f.id === id, from);
    const dropped = link().stats.framesDropped;
    rogue.sendFrame({ type: 'chunk', id, seq: 1, items: [{ a: 1 }] });
    rogue.send(bad(id));
    rogue.sendFrame({ type: 'end', id, count: 2 });
    rogue.sendFrame({ type: 'error', id, code: 'INTERNAL', message: 'late', retryable: false });
    const between = await flush();
    expect(link().stats.framesDropped).toBe(dropped + 4);
    // Dropped quietly: no answer to any of them.
    expect(between).toEqual([]);
    expect(hub.logs.records().filter((r) => r['msg'] === 'frame for an ended request dropped' && r['requestId'] === id)).toHaveLength(4);
    expect(rogue.frames(from).filter((f) => f.type === 'cancel' && f.id === id)).toHaveLength(1);
    await stillServed();
  });

  it('a chunk after the end of a request is dropped and counted; the caller had its end', async () => {
    const id = `late-${++seq}`;
    const { outcome } = await search(id);
    rogue.sendFrame({ type: 'chunk', id, seq: 0, items: [{ a: 0 }] });
    rogue.sendFrame({ type: 'end', id, count: 1 });
    await expect(outcome).resolves.toEqual([expect.objectContaining({ type: 'items', count: 1 }), { type: 'end', count: 1, truncated: false }]);
    const dropped = link().stats.framesDropped;
    rogue.sendFrame({ type: 'chunk', id, seq: 1, items: [{ a: 1 }] });
    // Only the credit granted for the first chunk may come in between: no answer to the late one.
    expect((await flush()).filter((f) => f.type !== 'credit')).toEqual([]);
    expect(link().stats.framesDropped).toBe(dropped + 1);
    await stillServed();
  });

  it('through the HTTP API: an invalid chunk ends the search with a coded BAD_FRAME line or answer', async () => {
    const id = `http-${++seq}`;
    const from = rogue.received.length;
    const response = request(`http://127.0.0.1:${hub.port}/v1/data-sources/rogue-ds/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKENS.tenant1}`, 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ filter: '(objectClass=*)' }),
    });
    await rogue.waitFor((f) => f.type === 'request' && f.id === id, from);
    rogue.send(`{"type":"chunk","id":"${id}","seq":-1,"items":[]}`);
    const r = await response;
    const text = await r.body.text();
    const last = JSON.parse(text.trim().split('\n').at(-1)!) as { code?: string; error?: { code?: string } };
    expect(last.error?.code ?? last.code).toBe('BAD_FRAME');
    await rogue.waitFor((f) => f.type === 'cancel' && f.id === id, from);
    await stillServed();
  });

  it('the metrics count what the link counted: dropped, violation and refused frames', async () => {
    await flush();
    const text = await hub.hub.metrics.registry.metrics();
    const counted = (outcome: string): number => {
      const m = new RegExp(`^datasync_hub_agent_frames_undelivered_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
      if (!m) throw new Error(`no ${outcome} series in\n${text}`);
      return Number(m[1]);
    };
    const stats = link().stats;
    // The tests above dropped, ended and refused frames on this link: none of the counts is 0.
    expect(stats.framesDropped * stats.violations * stats.framesRefused).toBeGreaterThan(0);
    expect({ dropped: counted('dropped'), violation: counted('violation'), refused: counted('refused') }).toEqual({
      dropped: stats.framesDropped,
      violation: stats.violations,
      refused: stats.framesRefused,
    });
  });
});
