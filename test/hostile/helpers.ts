/**
 * Shared pieces of the hostile-input suite: a peer that talks raw WebSocket frames (the rogue
 * hub and the rogue agent are both one), fast-check arbitraries that build and mutate protocol
 * frames, a crash watch (uncaught exceptions and unhandled rejections of this process), and the
 * `FIGURE` summary lines the README table is built from.
 *
 * Seeds are fixed: a failure prints fast-check's seed and path, and re-running gives the same
 * frames.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_MAX_FRAME_BYTES, RequestId, SUBPROTOCOL, decodeFrame, type DecodeResult, type Frame } from '../../src/protocol/index.js';

/** The seed of every property in this suite (change it to explore, keep it fixed in CI). */
export const SEED = 20_240_611;

// ---------------------------------------------------------------------------------------------
// Process health

export interface CrashWatch {
  readonly errors: unknown[];
  dispose(): void;
}

/**
 * Records uncaught exceptions and unhandled rejections while the suite runs in-process. Anything
 * recorded is a crash the daemon would not have survived (Node's default is to exit).
 */
export function watchCrashes(): CrashWatch {
  const errors: unknown[] = [];
  const onError = (err: unknown): void => void errors.push(err);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    errors,
    dispose: () => {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}

/** Prototype pollution leaves a trace on every plain object. */
export function prototypeIsClean(): boolean {
  const probe: Record<string, unknown> = {};
  return probe['polluted'] === undefined && probe['isAdmin'] === undefined && Object.keys(Object.prototype).length === 0;
}

// ---------------------------------------------------------------------------------------------
// Figures

const fmt = (n: number): string => n.toLocaleString('en-US');

/** `{1009: 3}` */
export function formatCounts(counts: ReadonlyMap<string | number, number>): string {
  return `{${[...counts.entries()].map(([k, v]) => `${k}: ${fmt(v)}`).join(', ')}}`;
}

export function increment<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** One summary line per part, e.g. `FIGURE fuzz-agent: 6,000 frames, …`. */
export function figure(part: string, fields: ReadonlyArray<string | [number, string]>): string {
  const line = `FIGURE ${part}: ${fields.map((f) => (typeof f === 'string' ? f : `${fmt(f[0])} ${f[1]}`)).join(', ')}`;
  console.log(line);
  return line;
}

// ---------------------------------------------------------------------------------------------
// A raw frame peer

export interface Received {
  readonly at: number;
  readonly binary: boolean;
  readonly text: string;
  /** The frame as the product's own codec reads it: everything a product sends must decode. */
  readonly decoded: DecodeResult;
}

/**
 * One end of a WebSocket speaking frames by hand. Keeps every message received, in order, and
 * lets a test wait for one after a cursor.
 */
export class Peer {
  readonly received: Received[] = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  private readonly wakers = new Set<() => void>();

  constructor(
    readonly ws: WebSocket,
    private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES * 64,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const text = data.toString('utf8');
      this.received.push({ at: performance.now(), binary: isBinary, text, decoded: decodeFrame(data, this.maxFrameBytes) });
      this.wake();
    });
    // ws crashes the process on an unhandled socket error.
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      });
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  send(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  sendFrame(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Frames received from `from` on (decoded ones only). */
  frames(from = 0): Frame[] {
    return this.received.slice(from).flatMap((r) => (r.decoded.ok ? [r.decoded.frame] : []));
  }

  /**
   * Resolves with the index of the first message at or after `from` that matches, or rejects
   * after `timeoutMs` (or when the socket closes first, unless `orClose`).
   */
  async waitIndex(pred: (f: Frame) => boolean, from = 0, timeoutMs = 5000, orClose = false): Promise<number> {
    const find = (): number => {
      for (let i = from; i < this.received.length; i++) {
        const r = this.received[i]!;
        if (r.decoded.ok && pred(r.decoded.frame)) return i;
      }
      return -1;
    };
    return new Promise<number>((resolve, reject) => {
      const check = (): void => {
        const i = find();
        if (i >= 0) return done(() => resolve(i));
        if (this.closeCode !== undefined) return done(() => (orClose ? resolve(-1) : reject(new Error(`socket closed (${this.closeCode}) while waiting`))));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no matching frame within ${timeoutMs} ms; last: ${this.received.slice(-3).map((r) => r.text.slice(0, 200)).join(' | ')}`))), timeoutMs);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.wakers.delete(check);
        fn();
      };
      this.wakers.add(check);
      check();
    });
  }

  async waitFor(pred: (f: Frame) => boolean, from = 0, timeoutMs = 5000): Promise<Frame> {
    const i = await this.waitIndex(pred, from, timeoutMs);
    const r = this.received[i]!;
    if (!r.decoded.ok) throw new Error('unreachable');
    return r.decoded.frame;
  }

  /**
   * Sends `data`, then a marker frame the peer must refuse with a BAD_FRAME error naming the
   * marker's id (without the id: it names no open request, docs/protocol.md "Protocol errors");
   * resolves with the messages received in between (the answer to `data`, for a peer that
   * answers in order). `closed` when the peer closed the socket instead.
   */
  async probe(data: string | Buffer, binary: boolean, marker: string, timeoutMs = 5000): Promise<{ replies: Received[]; closed: boolean }> {
    const from = this.received.length;
    this.send(data, binary);
    if (!this.open) return { replies: this.received.slice(from), closed: true };
    this.send(markerFrame(marker));
    const i = await this.waitIndex((f) => answersMarker(f, marker), from, timeoutMs, true);
    if (i < 0) return { replies: this.received.slice(from), closed: true };
    return { replies: this.received.slice(from, i), closed: false };
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/**
 * A frame of an unknown type with a recognisable id that names no open request: every peer
 * answers it with a BAD_FRAME error without an id whose message names it (`answersMarker`).
 */
export function markerFrame(id: string): string {
  return JSON.stringify({ type: 'hostile-marker', id });
}

/** Is `f` the answer to the marker frame of `marker`? */
export function answersMarker(f: Frame, marker: string): boolean {
  return f.type === 'error' && f.id === undefined && f.message.includes(`(about request ${marker}, which is not`);
}

// ---------------------------------------------------------------------------------------------
// A rogue hub: accepts the agent's upgrade, answers hello with welcome, then the test drives it

export interface RogueHub {
  readonly url: string;
  /** Sessions in the order the agent opened them (it reconnects after a close). */
  readonly sessions: Peer[];
  /** Resolves with the `n`-th session (1-based) once its welcome was sent. */
  session(n: number, timeoutMs?: number): Promise<Peer>;
  close(): Promise<void>;
}

export async function startRogueHub(options: { maxFrameBytes: number }): Promise<RogueHub> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    path: '/agent',
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  await once(wss, 'listening');
  const sessions: Peer[] = [];
  const registered: Peer[] = [];
  const wakers = new Set<() => void>();
  wss.on('connection', (ws) => {
    const peer = new Peer(ws);
    sessions.push(peer);
    void peer.waitFor((f) => f.type === 'hello', 0, 10_000).then(
      () => {
        peer.sendFrame({ type: 'welcome', sessionId: `rogue-${sessions.length}`, limits: { maxFrameBytes: options.maxFrameBytes } });
        registered.push(peer);
        for (const w of [...wakers]) w();
      },
      () => undefined,
    );
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/agent`,
    sessions,
    session: (n, timeoutMs = 10_000) =>
      new Promise<Peer>((resolve, reject) => {
        const check = (): void => {
          const p = registered[n - 1];
          if (!p) return;
          clearTimeout(timer);
          wakers.delete(check);
          resolve(p);
        };
        const timer = setTimeout(() => {
          wakers.delete(check);
          reject(new Error(`no session #${n} within ${timeoutMs} ms`));
        }, timeoutMs);
        wakers.add(check);
        check();
      }),
    close: async () => {
      for (const p of sessions) p.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** A raw client socket (the rogue agent), open and with a Peer attached. */
export async function connectRaw(url: string, headers: Record<string, string>, options: { ca?: Buffer } = {}): Promise<Peer> {
  const ws = new WebSocket(url, SUBPROTOCOL, { perMessageDeflate: false, headers, maxPayload: 256 * 1024 * 1024, ...(options.ca ? { ca: options.ca } : {}) });
  const peer = new Peer(ws);
  await once(ws, 'open');
  return peer;
}

export const basicAuth = (user: string, password: string): Record<string, string> => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

// ---------------------------------------------------------------------------------------------
// Frame arbitraries

/** Placeholder replaced by a run-unique request id just before a frame is sent. */
export const ID = '@@ID@@';

export interface HostileFrame {
  /** Text, or bytes (invalid UTF-8, binary frames). `ID` inside is replaced by a fresh id. */
  readonly data: string | Buffer;
  readonly binary: boolean;
  /** Which generator made it (for the per-family counts). */
  readonly family: string;
}

/** `data` with the placeholder replaced by `id`. */
export function materialise(frame: HostileFrame, id: string): string | Buffer {
  if (typeof frame.data === 'string') return frame.data.split(ID).join(id);
  const text = frame.data.toString('latin1');
  return text.includes(ID) ? Buffer.from(text.split(ID).join(id), 'latin1') : frame.data;
}

/** Keys that pollute prototypes if merged naively. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', '__defineGetter__', 'hasOwnProperty', 'toString', 'valueOf'] as const;

/** JSON values that break naive number/string/object handling. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  fc.constantFrom(-1, 0, -0, 1.5, 0.1, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e300, -1e300, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER),
  fc.constantFrom('', ' ', '0', '1', 'NaN', 'Infinity', 'null', 'undefined', 'true', '\u0000', '\ud800', 'x'.repeat(129), 'é', '💥', '../../etc/passwd'),
  fc.constantFrom(null, true, false, [], {}, [null]),
  fc.constantFrom(...PROTO_KEYS).map((k) => JSON.parse(`{"${k}":{"polluted":true,"isAdmin":true}}`) as unknown),
  fc.integer(),
  fc.double(),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** Raw JSON number texts JSON.stringify never writes (or writes differently). */
export const RAW_NUMBERS = ['NaN', '-NaN', 'Infinity', '-Infinity', '1e400', '-1e400', '1e-400', '0x10', '01', '-0', '1.0', '+1', '.5', '9007199254740993', '1e21', '-1', '0', '1.5', '"1"', 'null', 'true', '[]', '{}', '[1]'] as const;

/** Text of a JSON value nested `depth` deep (arrays or objects). */
export function deepJson(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

type Mutation =
  | { kind: 'delete'; key: string }
  | { kind: 'replace'; key: string; value: unknown }
  | { kind: 'add'; key: string; value: unknown }
  | { kind: 'retype'; value: unknown }
  | { kind: 'nest'; key: string; value: unknown };

function mutationArb(keys: readonly string[]): fc.Arbitrary<Mutation> {
  const key = fc.constantFrom(...keys);
  return fc.oneof(
    key.map((k): Mutation => ({ kind: 'delete', key: k })),
    { weight: 3, arbitrary: fc.tuple(key, hostileValue).map(([k, value]): Mutation => ({ kind: 'replace', key: k, value })) },
    fc
      .tuple(fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 12 })), hostileValue)
      .map(([k, value]): Mutation => ({ kind: 'add', key: k, value })),
    fc
      .oneof(
        fc.constantFrom('request', 'credit', 'cancel', 'chunk', 'end', 'error', 'result', 'hello', 'welcome', 'reject', 'REQUEST', 'Request ', '__proto__', 'constructor', 'toString', ''),
        fc.string({ maxLength: 12 }),
        hostileValue,
      )
      .map((value): Mutation => ({ kind: 'retype', value })),
    fc.tuple(key, fc.constantFrom('params', 'items', 'data', 'details')).map(([k, wrap]): Mutation => ({ kind: 'nest', key: k, value: { [wrap]: { [k]: [] } } })),
  );
}

function applyMutations(base: Record<string, unknown>, mutations: readonly Mutation[]): Record<string, unknown> {
  // Own properties only: `__proto__` must become a key, never the prototype.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(base)) out[k] = v;
  for (const m of mutations) {
    if (m.kind === 'delete') delete out[m.key];
    else if (m.kind === 'retype') out['type'] = m.value;
    else out[m.key] = m.value;
  }
  return out;
}

/** A frame shape and which of its keys mutations aim at. */
export interface FrameTemplate {
  readonly frame: Record<string, unknown>;
}

/** Valid frames of every type (ids are the placeholder), the seeds of the structural mutations. */
export function frameTemplates(dataSource: string): Record<string, FrameTemplate> {
  return {
    requestTest: { frame: { type: 'request', id: ID, op: 'test', dataSource, params: {}, timeoutMs: 5000 } },
    requestGet: { frame: { type: 'request', id: ID, op: 'get', dataSource, params: { index: 1 }, timeoutMs: 5000 } },
    requestSearch: { frame: { type: 'request', id: ID, op: 'search', dataSource, params: {}, timeoutMs: 5000, credit: 4 } },
    requestExport: { frame: { type: 'request', id: ID, op: 'export', dataSource, params: {}, timeoutMs: 5000, credit: 4 } },
    credit: { frame: { type: 'credit', id: ID, n: 1 } },
    cancel: { frame: { type: 'cancel', id: ID } },
    chunk: { frame: { type: 'chunk', id: ID, seq: 0, items: [{ rogue: true }] } },
    end: { frame: { type: 'end', id: ID, count: 0 } },
    result: { frame: { type: 'result', id: ID, data: { rogue: true } } },
    error: { frame: { type: 'error', id: ID, code: 'INTERNAL', message: 'rogue', retryable: false } },
    hello: {
      frame: { type: 'hello', protocol: 1, agent: { id: 'rogue', version: '0', hostname: 'rogue' }, tenantId: '1', dataSources: [{ name: 'rogue-ds', type: 'ldap', operations: ['test'] }] },
    },
    welcome: { frame: { type: 'welcome', sessionId: 'rogue', limits: { maxFrameBytes: 65536 } } },
    reject: { frame: { type: 'reject', code: 'AUTH_FAILED', message: 'rogue' } },
  };
}

/** Structural mutations of valid frames: 1–3 of delete / replace / add / retype / nest. */
export function mutatedFrame(templates: Record<string, FrameTemplate>): fc.Arbitrary<HostileFrame> {
  return fc
    .constantFrom(...Object.values(templates))
    .chain((t) => fc.tuple(fc.constant(t), fc.array(mutationArb(Object.keys(t.frame)), { minLength: 1, maxLength: 3 })))
    .map(([t, ms]) => ({ data: JSON.stringify(applyMutations(t.frame, ms)), binary: false, family: 'mutated' }));
}

/** Frames with a raw number text in a numeric field (NaN, 1e400, -1, 1.5, 0x10 …). */
export function rawNumberFrame(): fc.Arbitrary<HostileFrame> {
  const shapes = [
    (n: string) => `{"type":"credit","id":"${ID}","n":${n}}`,
    (n: string) => `{"type":"chunk","id":"${ID}","seq":${n},"items":[]}`,
    (n: string) => `{"type":"end","id":"${ID}","count":${n}}`,
    (n: string) => `{"type":"request","id":"${ID}","op":"test","dataSource":"mem","params":{},"timeoutMs":${n}}`,
    (n: string) => `{"type":"request","id":"${ID}","op":"search","dataSource":"mem","params":{},"timeoutMs":5000,"credit":${n}}`,
    (n: string) => `{"type":"welcome","sessionId":"s","limits":{"maxFrameBytes":${n}}}`,
    (n: string) => `{"type":"hello","protocol":${n},"agent":{"id":"r","version":"0","hostname":"h"},"tenantId":"1","dataSources":[]}`,
  ];
  return fc
    .tuple(fc.constantFrom(...shapes), fc.constantFrom(...RAW_NUMBERS))
    .map(([shape, n]) => ({ data: shape(n), binary: false, family: 'raw-number' }));
}

/** Prototype-pollution keys at the top level and inside nested objects. */
export function protoFrame(templates: Record<string, FrameTemplate>): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(fc.constantFrom(...Object.values(templates)), fc.constantFrom(...PROTO_KEYS), fc.constantFrom('top', 'params', 'items', 'limits', 'id'))
    .map(([t, key, where]) => {
      const payload = `{"polluted":true,"isAdmin":true,"prototype":{"polluted":true}}`;
      const text = JSON.stringify(t.frame);
      let data: string;
      if (where === 'top') data = text.replace(/^\{/, `{"${key}":${payload},`);
      else if (where === 'id') data = text.replace(`"${ID}"`, `"${key}"`);
      else data = text.replace(/^\{/, `{"${where}":{"${key}":${payload}},`);
      return { data, binary: false, family: 'prototype-keys' };
    });
}

/** Duplicate keys: JSON.parse keeps the last one. */
export function duplicateKeyFrame(templates: Record<string, FrameTemplate>): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(fc.constantFrom(...Object.values(templates)), fc.constantFrom('type', 'id', 'n', 'op', 'dataSource', 'count', 'seq'), hostileValue)
    .map(([t, key, value]) => ({ data: JSON.stringify(t.frame).replace(/\}$/, `,"${key}":${JSON.stringify(value) ?? 'null'}}`), binary: false, family: 'duplicate-keys' }));
}

/** Not JSON objects at all: garbage text, truncated frames, JSON scalars and arrays, empty. */
export function rawTextFrame(templates: Record<string, FrameTemplate>): fc.Arbitrary<HostileFrame> {
  const texts = Object.values(templates).map((t) => JSON.stringify(t.frame));
  return fc
    .oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom('', ' ', '\n', 'null', 'true', '0', '"request"', '[]', '{}', '[{"type":"credit","id":"x","n":1}]', '{"type":null}', '{"type":{}}', '{"type":"request"}', '{"type":"credit"}', '{"type":"cancel","id":""}', '\ufeff{"type":"cancel","id":"x"}', '{"type":"cancel","id":"x"}{"type":"cancel","id":"y"}', '{"type":"cancel","id":"x"} trailing'),
      fc.tuple(fc.constantFrom(...texts), fc.nat()).map(([t, k]) => t.slice(0, k % t.length)),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    )
    .map((data) => ({ data, binary: false, family: 'raw-text' }));
}

/** Invalid UTF-8 inside an otherwise valid frame, sent as a text frame. */
export function invalidUtf8Frame(templates: Record<string, FrameTemplate>): fc.Arbitrary<HostileFrame> {
  const bad = [[0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xfe, 0xff]];
  return fc
    .tuple(fc.constantFrom(...Object.values(templates)), fc.constantFrom(...bad), fc.nat())
    .map(([t, bytes, at]) => {
      const text = Buffer.from(JSON.stringify(t.frame), 'utf8');
      const k = at % (text.length + 1);
      return { data: Buffer.concat([text.subarray(0, k), Buffer.from(bytes), text.subarray(k)]), binary: false, family: 'invalid-utf8' };
    });
}

/** Binary frames: random bytes, empty, and valid frames sent as binary. */
export function binaryFrame(templates: Record<string, FrameTemplate>): fc.Arbitrary<HostileFrame> {
  return fc
    .oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.constant(Buffer.alloc(0)),
      fc.constantFrom(...Object.values(templates)).map((t) => Buffer.from(JSON.stringify(t.frame))),
    )
    .map((data) => ({ data, binary: true, family: 'binary' }));
}

/** Deeply nested JSON in a field (or as the whole frame). */
export function deepFrame(): fc.Arbitrary<HostileFrame> {
  return fc
    .tuple(fc.constantFrom(100, 1000, 10_000), fc.constantFrom<'array' | 'object'>('array', 'object'), fc.constantFrom('params', 'items', 'data', 'id', 'n', 'whole', 'extra'))
    .map(([depth, kind, where]) => {
      const deep = deepJson(depth, kind);
      const data =
        where === 'whole'
          ? deep
          : where === 'params'
            ? `{"type":"request","id":"${ID}","op":"test","dataSource":"mem","params":{"x":${deep}},"timeoutMs":5000}`
            : where === 'items'
              ? `{"type":"chunk","id":"${ID}","seq":0,"items":${kind === 'array' ? deep : `[${deep}]`}}`
              : where === 'data'
                ? `{"type":"result","id":"${ID}","data":${deep}}`
                : where === 'extra'
                  ? `{"type":"cancel","id":"${ID}","extra":${deep}}`
                  : `{"type":"credit","id":${where === 'id' ? deep : `"${ID}"`},"n":${where === 'n' ? deep : '1'}}`;
      return { data, binary: false, family: 'deep-nesting' };
    });
}

/** Frames between maxFrameBytes and twice it: refused with BAD_FRAME, the socket stays up. */
export function oversizeFrame(maxFrameBytes: number): fc.Arbitrary<HostileFrame> {
  // Kept 64 bytes inside the band so the run id that replaces the placeholder cannot push it out.
  return fc.integer({ min: maxFrameBytes + 64, max: 2 * maxFrameBytes - 64 }).map((size) => {
    const head = `{"type":"cancel","id":"${ID}","pad":"`;
    const pad = size - head.length - 2;
    return { data: `${head}${'x'.repeat(pad)}"}`, binary: false, family: 'oversize' };
  });
}

/**
 * The `id` a peer should echo in its BAD_FRAME answer to a refused frame that names no open
 * request: only a refused `request` frame is answered with its own id (it ends that request on
 * the hub); any other gets an error without an id (docs/protocol.md, "Protocol errors").
 */
export function salvagedId(decoded: DecodeResult): string | undefined {
  return !decoded.ok && decoded.frameType === 'request' && RequestId.is(decoded.id) ? decoded.id : undefined;
}

/** Every family, weighted so that the total per run mixes them. */
export function anyHostileFrame(templates: Record<string, FrameTemplate>, maxFrameBytes: number): fc.Arbitrary<HostileFrame> {
  return fc.oneof(
    { weight: 40, arbitrary: mutatedFrame(templates) },
    { weight: 12, arbitrary: rawTextFrame(templates) },
    { weight: 10, arbitrary: rawNumberFrame() },
    { weight: 8, arbitrary: invalidUtf8Frame(templates) },
    { weight: 6, arbitrary: binaryFrame(templates) },
    { weight: 8, arbitrary: protoFrame(templates) },
    { weight: 6, arbitrary: duplicateKeyFrame(templates) },
    { weight: 1, arbitrary: deepFrame() },
    { weight: 1, arbitrary: oversizeFrame(maxFrameBytes) },
  );
}
