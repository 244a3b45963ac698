/**
 * Part 1 — frames at the AGENT from a rogue hub. A raw `ws` server plays the hub: it accepts the
 * agent's upgrade, answers its hello with a valid welcome, then sends thousands of generated
 * and mutated frames (fast-check, fixed seed). The real agent runs in this process with the
 * in-memory data source; a crash watch records any uncaught exception or unhandled rejection.
 *
 * After every hostile frame a marker frame follows (an unknown type with a known id): the agent
 * answers frames in order, so what arrives before the marker's BAD_FRAME answer is the answer
 * to the hostile frame. Every frame must get exactly what the protocol says (docs/protocol.md):
 * a coded `error` (BAD_FRAME with the salvaged id, UNKNOWN_DATA_SOURCE, OPERATION_NOT_ALLOWED,
 * BAD_REQUEST…), an answer (for a frame that happens to be a valid request), silence (credit,
 * cancel, chunk, end for no open request — the race with a request's end; the hub's errors),
 * or close 1009 for a message over twice maxFrameBytes. Afterwards a well-formed request
 * still succeeds with the exact count.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, type ErrorCode, type Frame } from '../../src/protocol/index.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { basicAgentYaml, isState, makeEnv, startAgent, type Env, type TestAgent } from '../helpers/relay-env.js';
import {
  SEED,
  answersMarker,
  anyHostileFrame,
  deepFrame,
  figure,
  formatCounts,
  frameTemplates,
  increment,
  materialise,
  prototypeIsClean,
  salvagedId,
  startRogueHub,
  watchCrashes,
  type CrashWatch,
  type HostileFrame,
  type Peer,
  type Received,
  type RogueHub,
} from './helpers.js';

const MAX_FRAME_BYTES = 64 * 1024;
const ITEMS = 250;

const DS = `
maxFrameBytes: ${MAX_FRAME_BYTES}
dataSources:
  mem:
    type: ldap
    url: ldap://127.0.0.1:1
    baseDN: dc=example,dc=com
    operations: [test, get, search, export]
  ro:
    type: ldap
    url: ldap://127.0.0.1:1
    baseDN: dc=example,dc=com
    operations: [test]
`;

const ALLOWED: Record<string, readonly string[]> = { mem: ['test', 'get', 'search', 'export'], ro: ['test'] };

let env: Env;
let rogue: RogueHub;
let agent: TestAgent;
let crashes: CrashWatch;
/** The session the tests talk on; replaced after a 1009 close makes the agent reconnect. */
let hub: Peer;
let sessions = 1;
let runId = 0;

const stats = {
  frames: 0,
  errorFrames: 0,
  codes: new Map<string, number>(),
  closeCodes: new Map<number, number>(),
  families: new Map<string, number>(),
  outcomes: new Map<string, number>(),
  followUp: 'not run',
};

beforeAll(async () => {
  crashes = watchCrashes();
  env = makeEnv();
  rogue = await startRogueHub({ maxFrameBytes: MAX_FRAME_BYTES });
  agent = startAgent(env, basicAgentYaml(env, [rogue.url]), DS, {
    adapters: new Map([
      ['mem', memoryAdapter({ items: ITEMS, pageSize: 50 })],
      ['ro', memoryAdapter({ items: 1 })],
    ]),
  });
  await agent.statuses.next(isState('registered'));
  hub = await rogue.session(1);
});

afterAll(async () => {
  figure('fuzz-agent', [
    [stats.frames, 'frames'],
    [stats.errorFrames, 'error frames'],
    `codes ${formatCounts(stats.codes)}`,
    `close codes ${formatCounts(stats.closeCodes)}`,
    `crashes ${crashes.errors.length}`,
    `follow-up ${stats.followUp}`,
  ]);
  console.log(`fuzz-agent families ${formatCounts(stats.families)}; outcomes ${formatCounts(stats.outcomes)}`);
  agent.stop();
  await rogue.close();
  crashes.dispose();
  env.cleanup();
});

type Expectation =
  | { readonly kind: 'bad-frame'; readonly id: string | undefined }
  | { readonly kind: 'refused'; readonly id: string; readonly code: ErrorCode }
  | { readonly kind: 'answered'; readonly id: string; readonly op: string }
  | { readonly kind: 'silent'; readonly why: string };

/** What the protocol says the agent does with this frame, when no request is open. */
function expectation(data: string | Buffer, binary: boolean): Expectation {
  if (binary) return { kind: 'bad-frame', id: undefined };
  const decoded = decodeFrame(typeof data === 'string' ? Buffer.from(data) : data, MAX_FRAME_BYTES);
  if (!decoded.ok) return { kind: 'bad-frame', id: salvagedId(decoded) };
  const f = decoded.frame;
  switch (f.type) {
    case 'request': {
      const ops = Object.hasOwn(ALLOWED, f.dataSource) ? ALLOWED[f.dataSource] : undefined;
      if (!ops) return { kind: 'refused', id: f.id, code: 'UNKNOWN_DATA_SOURCE' };
      if (!ops.includes(f.op)) return { kind: 'refused', id: f.id, code: 'OPERATION_NOT_ALLOWED' };
      return { kind: 'answered', id: f.id, op: f.op };
    }
    case 'credit':
    case 'cancel':
    case 'chunk':
    case 'end':
      return { kind: 'silent', why: `${f.type} for no open request` };
    case 'error':
      return { kind: 'silent', why: 'an error is never answered' };
    default:
      // hello, result (never sent by a hub) and welcome, reject (only before registration):
      // refused, naming no open request, so without an id.
      return { kind: 'bad-frame', id: undefined };
  }
}

function record(replies: readonly Received[]): void {
  for (const r of replies) {
    expect(r.decoded.ok, `the agent sent a frame its own codec refuses: ${r.text.slice(0, 300)}`).toBe(true);
    if (r.decoded.ok && r.decoded.frame.type === 'error') {
      stats.errorFrames += 1;
      increment(stats.codes, r.decoded.frame.code);
    }
  }
}

const frameOf = (r: Received): Frame => {
  if (!r.decoded.ok) throw new Error(`undecodable frame from the agent: ${r.text.slice(0, 300)}`);
  return r.decoded.frame;
};

/**
 * Sends one hostile frame and checks the agent's answer against `expectation`. A frame that is
 * a valid request is driven to its end like a hub would (credit for a search, `end` for an
 * export) and must end with exactly one terminal frame.
 */
async function tryFrame(hf: HostileFrame): Promise<void> {
  const id = `r${++runId}`;
  const data = materialise(hf, id);
  const exp = expectation(data, hf.binary);
  stats.frames += 1;
  increment(stats.families, hf.family);
  increment(stats.outcomes, exp.kind);
  const from = hub.received.length;
  const { replies, closed } = await hub.probe(data, hf.binary, `mark-${runId}`);
  expect(closed, `the agent closed the session (${hub.closeCode}) on ${hf.family} frame ${String(data).slice(0, 200)}`).toBe(false);
  const what = `${hf.family} frame ${typeof data === 'string' ? data.slice(0, 300) : `<${data.length} bytes>`}`;

  if (exp.kind === 'answered') {
    // The answer is asynchronous (the adapter runs): follow the id until its terminal frame.
    if (exp.op === 'search') hub.sendFrame({ type: 'credit', id: exp.id, n: 1000 });
    let cursor = from;
    for (;;) {
      const i = await hub.waitIndex((f) => 'id' in f && f.id === exp.id, cursor, 8000);
      cursor = i + 1;
      const f = frameOf(hub.received[i]!);
      if (f.type === 'credit' && exp.op === 'export') hub.sendFrame({ type: 'end', id: exp.id, count: 0 });
      if (f.type === 'result' || f.type === 'end' || f.type === 'error') break;
    }
    const mine = hub.received.slice(from, cursor).filter((r) => !(r.decoded.ok && answersMarker(r.decoded.frame, `mark-${runId}`)));
    record(mine);
    expect(mine.every((r) => r.decoded.ok && 'id' in r.decoded.frame && r.decoded.frame.id === exp.id), what).toBe(true);
    return;
  }
  record(replies);
  if (exp.kind === 'silent') {
    expect(replies.map((r) => r.text), `${what}: expected no answer (${exp.why})`).toEqual([]);
    return;
  }
  expect(replies, `${what}: expected exactly one error frame`).toHaveLength(1);
  const reply = frameOf(replies[0]!);
  if (exp.kind === 'bad-frame') {
    expect(reply, what).toMatchObject({ type: 'error', code: 'BAD_FRAME', retryable: false });
    expect(reply.type === 'error' ? reply.id : undefined, `${what}: the error carries the salvaged id`).toBe(exp.id);
  } else {
    expect(reply, what).toMatchObject({ type: 'error', code: exp.code, id: exp.id });
  }
}

/** A well-formed search driven like the hub does: credit per chunk, exact count at the end. */
async function search(peer: Peer, id: string, credit = 2): Promise<{ items: unknown[]; end: Frame }> {
  peer.sendFrame({ type: 'request', id, op: 'search', dataSource: 'mem', params: {}, timeoutMs: 10_000, credit });
  return follow(peer, id, peer.received.length);
}

async function follow(peer: Peer, id: string, from: number, grant = true): Promise<{ items: unknown[]; end: Frame }> {
  const items: unknown[] = [];
  let cursor = from;
  for (;;) {
    const i = await peer.waitIndex((f) => 'id' in f && f.id === id, cursor, 10_000);
    cursor = i + 1;
    const f = frameOf(peer.received[i]!);
    if (f.type === 'chunk') {
      items.push(...f.items);
      if (grant) peer.sendFrame({ type: 'credit', id, n: 1 });
    } else if (f.type === 'end' || f.type === 'error') {
      return { items, end: f };
    }
  }
}

const templates = frameTemplates('mem');

describe('fuzz: hostile frames from a rogue hub', () => {
  it('every generated or mutated frame gets a coded error, an answer or documented silence; the session stays up', async () => {
    await fc.assert(fc.asyncProperty(anyHostileFrame(templates, MAX_FRAME_BYTES), tryFrame), { seed: SEED, numRuns: 5000, endOnFailure: true });
    expect(hub.open).toBe(true);
    expect(crashes.errors).toEqual([]);
    expect(prototypeIsClean()).toBe(true);
  });

  it('deep nesting (depth 100 to 10,000) in every field', async () => {
    await fc.assert(fc.asyncProperty(deepFrame(), tryFrame), { seed: SEED, numRuns: 60, endOnFailure: true });
    expect(crashes.errors).toEqual([]);
  });

  it('credit families against unknown ids and a live stream: negative, zero, fractional, NaN, 1e400, strings, huge', async () => {
    const bad = ['-1', '0', '-0', '1.5', 'NaN', 'Infinity', '1e400', '"1"', 'null', '[]', '{}', 'true'];
    for (const n of bad) await tryFrame({ data: `{"type":"credit","id":"@@ID@@","n":${n}}`, binary: false, family: 'credit' });
    // A live stream with no credit: a hostile credit for it that names it (the text is JSON)
    // ends it — one BAD_FRAME error with its id, the last word on it; a credit whose text is not
    // JSON names nothing: an error without an id, and the stream runs on.
    let k = 0;
    for (const n of bad) {
      const id = `live-credit-${++k}`;
      const from = hub.received.length;
      hub.sendFrame({ type: 'request', id, op: 'search', dataSource: 'mem', params: {}, timeoutMs: 20_000, credit: 0 });
      const text = `{"type":"credit","id":"${id}","n":${n}}`;
      const json = !['NaN', 'Infinity'].includes(n);
      const { replies } = await hub.probe(text, false, `mark-${++runId}`);
      stats.frames += 2;
      record(replies);
      expect(replies.map((r) => frameOf(r)), text).toEqual([expect.objectContaining({ type: 'error', code: 'BAD_FRAME', ...(json ? { id } : {}) })]);
      if (!json) expect(frameOf(replies[0]!)).not.toHaveProperty('id');
      const start = hub.received.length;
      hub.sendFrame({ type: 'credit', id, n: 2 ** 31 - 1 });
      if (json) {
        // Ended: the valid credit finds no open request and changes nothing.
        await hub.probe('{"type":"cancel","id":"x"}', false, `mark-${++runId}`);
        expect(hub.frames(from).filter((f) => 'id' in f && f.id === id).map((f) => f.type)).toEqual(['error']);
      } else {
        const { items, end } = await follow(hub, id, start, false);
        expect(end).toEqual({ type: 'end', id, count: ITEMS });
        expect(items).toHaveLength(ITEMS);
      }
    }
  });

  it('duplicate request ids: the second ends the first — one BAD_FRAME error with the id, its last word', async () => {
    for (const op of ['test', 'search', 'get', 'export']) {
      const id = `dup-${op}`;
      const from = hub.received.length;
      hub.sendFrame({ type: 'request', id, op: 'search', dataSource: 'mem', params: {}, timeoutMs: 20_000, credit: 0 });
      const { replies } = await hub.probe(JSON.stringify({ type: 'request', id, op, dataSource: 'mem', params: {}, timeoutMs: 5000 }), false, `mark-${++runId}`);
      stats.frames += 2;
      record(replies);
      expect(replies.map((r) => frameOf(r))).toEqual([expect.objectContaining({ type: 'error', code: 'BAD_FRAME', id })]);
      // Ended: a credit for it changes nothing; once ended the id is free again.
      hub.sendFrame({ type: 'credit', id, n: 2 });
      await hub.probe('{"type":"cancel","id":"x"}', false, `mark-${++runId}`);
      expect(hub.frames(from).filter((f) => 'id' in f && f.id === id).map((f) => f.type)).toEqual(['error']);
      const again = await search(hub, id);
      expect(again.end).toEqual({ type: 'end', id, count: ITEMS });
      stats.frames += 3;
    }
  });

  it('cancel and credit of unknown ids are silent; cancel of a live stream stops it without another frame', async () => {
    for (const text of ['{"type":"cancel","id":"never-sent"}', '{"type":"credit","id":"never-sent","n":5}', '{"type":"chunk","id":"never-sent","seq":0,"items":[1]}', '{"type":"end","id":"never-sent","count":1}']) {
      const { replies } = await hub.probe(text, false, `mark-${++runId}`);
      stats.frames += 1;
      expect(replies).toEqual([]);
    }
    const id = 'cancel-live';
    const from = hub.received.length;
    hub.sendFrame({ type: 'request', id, op: 'search', dataSource: 'mem', params: {}, timeoutMs: 20_000, credit: 1 });
    await hub.waitFor((f) => f.type === 'chunk' && f.id === id, from);
    hub.sendFrame({ type: 'cancel', id });
    hub.sendFrame({ type: 'cancel', id });
    const { replies } = await hub.probe(JSON.stringify({ type: 'credit', id, n: 100 }), false, `mark-${++runId}`);
    expect(replies).toEqual([]);
    // Nothing more for the id: no chunk, no end, no error.
    const after = hub.received.length;
    await hub.probe('{"type":"cancel","id":"x"}', false, `mark-${++runId}`);
    expect(hub.frames(after).filter((f) => 'id' in f && f.id === id)).toEqual([]);
    stats.frames += 5;
  });

  it('export channel abuse: records without credit, too many records, a wrong end count → BAD_REQUEST; a malformed end → BAD_FRAME', async () => {
    const cases: Array<{ id: string; frames: (id: string) => unknown[] }> = [
      { id: 'exp-nocredit', frames: (id) => Array.from({ length: 6 }, (_, seq) => ({ type: 'chunk', id, seq, items: [{ i: seq }] })) },
      { id: 'exp-toomany', frames: (id) => [{ type: 'chunk', id, seq: 0, items: Array.from({ length: 501 }, (_, i) => ({ i })) }] },
      { id: 'exp-badcount', frames: (id) => [{ type: 'chunk', id, seq: 0, items: [{ i: 1 }] }, { type: 'end', id, count: 7 }] },
      { id: 'exp-negcount', frames: (id) => [{ type: 'chunk', id, seq: 0, items: [{ i: 1 }] }, { type: 'end', id, count: -1 }] },
    ];
    for (const c of cases) {
      const from = hub.received.length;
      hub.sendFrame({ type: 'request', id: c.id, op: 'export', dataSource: 'mem', params: {}, timeoutMs: 10_000, credit: 8 });
      await hub.waitFor((f) => f.type === 'credit' && f.id === c.id, from);
      for (const f of c.frames(c.id)) hub.sendFrame(f);
      stats.frames += 1 + c.frames(c.id).length;
      if (c.id === 'exp-negcount') {
        // A malformed end names the export: it ends with BAD_FRAME, the record written accounted for.
        const err = await hub.waitFor((f) => f.type === 'error' && f.id === c.id, from);
        expect(err).toMatchObject({ code: 'BAD_FRAME', details: { count: 1 } });
        record(hub.received.slice(from));
        continue;
      }
      const err = await hub.waitFor((f) => f.type === 'error' && f.id === c.id, from);
      expect(err, c.id).toMatchObject({ code: 'BAD_REQUEST' });
      record(hub.received.slice(from));
    }
  });

  it('a message over twice maxFrameBytes is cut with close 1009; the agent reconnects and serves again', async () => {
    for (const size of [2 * MAX_FRAME_BYTES + 1, 4 * MAX_FRAME_BYTES]) {
      const session = hub;
      session.send(`{"type":"cancel","id":"big","pad":"${'x'.repeat(size)}"}`);
      const code = await session.closed;
      stats.frames += 1;
      increment(stats.closeCodes, code);
      expect(code).toBe(1009);
      sessions += 1;
      hub = await rogue.session(sessions);
      const { end } = await search(hub, `after-1009-${sessions}`);
      expect(end).toMatchObject({ type: 'end', count: ITEMS });
    }
  });

  it('afterwards a well-formed search streams the exact count and test answers; nothing crashed', async () => {
    const { items, end } = await search(hub, 'follow-up-search', 3);
    expect(end).toEqual({ type: 'end', id: 'follow-up-search', count: ITEMS });
    expect(items.map((x) => (x as { index: number }).index)).toEqual(Array.from({ length: ITEMS }, (_, i) => i));
    hub.sendFrame({ type: 'request', id: 'follow-up-test', op: 'test', dataSource: 'mem', params: {}, timeoutMs: 5000 });
    expect(await hub.waitFor((f) => f.type === 'result' && f.id === 'follow-up-test')).toEqual({ type: 'result', id: 'follow-up-test', data: { ok: true, items: ITEMS } });
    expect(crashes.errors).toEqual([]);
    expect(prototypeIsClean()).toBe(true);
    // Only the 1009 closes made the agent reconnect.
    expect(rogue.sessions).toHaveLength(sessions);
    stats.followUp = `ok (search ${items.length}/${ITEMS}, test result)`;
  });
});
