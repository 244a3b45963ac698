/**
 * Part 3 — hostile HTTP API callers (fast-check, fixed seed): bodies that are not JSON, JSON that
 * is not an object, prototype keys, bodies over `api.maxBodyBytes`, wrong content types, odd
 * `X-Request-Id`s, odd data-source names (encoded slashes, traversal, unicode, very long),
 * query and method abuse, export bodies with bad NDJSON lines. Every answer must be a coded 4xx
 * (`{code, message, retryable, requestId}`, the request id echoed) or a success — never a 5xx,
 * never a crash — and an export must stop exactly at its first bad line. Last, a rogue agent's
 * chunks as a caller reads them: the hub forwards item bytes (no parse, no re-serialisation),
 * so each NDJSON line must still be one valid JSON value, byte for byte the agent's compact
 * item, with no newline injected by whitespace, bad UTF-8 or raw control characters.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { map } from 'rxjs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSourceAdapter, ExportResult } from '../../src/adapter-kit/adapter.js';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { API_TOKENS, basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub, type TestAgent, memoryDataSourceYaml } from '../helpers/relay-env.js';
import { encodeChunk } from '../../src/protocol/index.js';
import { SEED, PROTO_KEYS, basicAuth, connectRaw, figure, formatCounts, increment, prototypeIsClean, watchCrashes, type CrashWatch, type Peer } from './helpers.js';

const LIMITS = { maxBodyBytes: 4096, maxLineBytes: 512, maxExportBytes: 32_768 };
const ITEMS = 20;
const USABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const DS = memoryDataSourceYaml();

let env: Env;
let hub: RunningHub;
let agent: TestAgent;
let crashes: CrashWatch;
let base: string;

const stats = { requests: 0, statuses: new Map<number, number>(), codes: new Map<string, number>(), fiveHundreds: [] as string[], exportsChecked: 0 };

/**
 * The memory adapter, with the record check every real adapter has: a record that is not an
 * object gets a failed BAD_REQUEST result (the memory fixture itself assumes objects).
 */
function checkedAdapter(): DataSourceAdapter {
  const inner = memoryAdapter({ items: ITEMS, pageSize: 10 });
  return {
    ...inner,
    export: (records$, ctx) => {
      let index = 0;
      const bad: number[] = [];
      const objects$ = records$.pipe(
        map((r) => {
          const i = index++;
          if (typeof r === 'object' && r !== null && !Array.isArray(r)) return r;
          bad.push(i);
          return { fail: true };
        }),
      );
      return inner.export!(objects$, ctx).pipe(
        map((r): ExportResult => (bad.includes(r.index) ? { index: r.index, ok: false, code: 'BAD_REQUEST', message: 'a record must be an object', retryable: false } : r)),
      );
    },
  };
}

beforeAll(async () => {
  crashes = watchCrashes();
  env = makeEnv();
  // This suite sends hundreds of wrong tokens from one address on purpose, to see each refused as
  // such: the per-address penalty (429 after `freeFailures`) is test/security/auth-flood.test.ts's.
  const lenient = 'authentication: { freeFailures: 1000000 }';
  hub = await startHub(env, { tls: false, extra: `api: { maxBodyBytes: ${LIMITS.maxBodyBytes}, maxLineBytes: ${LIMITS.maxLineBytes}, maxExportBytes: ${LIMITS.maxExportBytes} }\n${lenient}` });
  base = `http://127.0.0.1:${hub.port}`;
  agent = startAgent(env, basicAgentYaml(env, [hub.url]), DS, { adapters: new Map([['mem', checkedAdapter()]]) });
  await agent.statuses.next(isState('registered'));
});

afterAll(async () => {
  const byClass = new Map<string, number>();
  for (const [status, n] of stats.statuses) increment(byClass, `${Math.floor(status / 100)}xx`, n);
  figure('hostile-http', [
    [stats.requests, 'requests'],
    `statuses ${formatCounts(new Map([...stats.statuses.entries()].sort((a, b) => a[0] - b[0])))}`,
    `codes ${formatCounts(stats.codes)}`,
    `5xx ${stats.fiveHundreds.length} (besides tenant 2's documented 503 AGENT_DISCONNECTED)`,
    `exports checked line by line ${stats.exportsChecked}`,
    `crashes ${crashes.errors.length}`,
  ]);
  agent.stop();
  await hub.close();
  crashes.dispose();
  env.cleanup();
});

interface Call {
  readonly method?: string;
  readonly path: string;
  readonly body?: string | Buffer | Readable;
  readonly type?: string;
  readonly headers?: Record<string, string>;
  readonly token?: string | null;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

async function call(c: Call): Promise<Answer> {
  const token = c.token === undefined ? API_TOKENS.tenant1 : c.token;
  const r = await request(`${base}${c.path}`, {
    method: (c.method ?? 'POST') as 'POST',
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(c.type !== undefined ? { 'content-type': c.type } : {}),
      ...c.headers,
    },
    ...(c.body !== undefined ? { body: c.body } : {}),
  });
  const answer = { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  stats.requests += 1;
  increment(stats.statuses, answer.status);
  return answer;
}

/** Never a 5xx; a failure is coded JSON with the echoed request id. */
function expectCoded(a: Answer, what: string): { code?: string } {
  if (a.status >= 500) stats.fiveHundreds.push(`${what}: ${a.status} ${a.text.slice(0, 200)}`);
  expect(a.status, `${what}: ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (a.status === 200) return {};
  const body = JSON.parse(a.text) as { code: string; message: string; retryable: boolean; requestId: string };
  expect(body.code, what).toMatch(/^[A-Z_]+$/);
  expect(typeof body.message, what).toBe('string');
  expect(typeof body.retryable, what).toBe('boolean');
  expect(body.requestId, what).toBe(a.headers['x-request-id']);
  increment(stats.codes, body.code);
  return body;
}

const PROPS = { seed: SEED, numRuns: 150, endOnFailure: true } as const;

describe('bodies', () => {
  it('anything as a JSON body of get/search: coded 400/404/413 or an answer, never a 5xx', async () => {
    const body = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom(...PROTO_KEYS).map((k) => `{"${k}":{"polluted":true},"index":1}`),
      fc.constantFrom('{"constructor":{"prototype":{"polluted":true}}}', '{"a":1,"a":2}', '\ufeff{}', '{}\n{}', '{"index":1}garbage', '', 'null', '[]', '"str"', '1e400', '{"filter":"' + 'x'.repeat(5000) + '"}'),
      fc.integer({ min: LIMITS.maxBodyBytes + 1, max: 4 * LIMITS.maxBodyBytes }).map((n) => JSON.stringify({ pad: 'x'.repeat(n) })),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('get', 'search'), async (text, op) => {
        const a = await call({ path: `/v1/data-sources/mem/${op}`, body: text, type: 'application/json' });
        const { code } = expectCoded(a, `${op} ${JSON.stringify(text.slice(0, 100))}`);
        if (Buffer.byteLength(text) > LIMITS.maxBodyBytes) expect([a.status, code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
        if (a.status === 200 && op === 'search') expect(JSON.parse(a.text.trim().split('\n').at(-1)!)).toHaveProperty('end', true);
      }),
      { ...PROPS, numRuns: 300 },
    );
    expect(prototypeIsClean()).toBe(true);
  });

  it('wrong content types → 415 (or 400 for a broken header); the export route takes only NDJSON', async () => {
    const type = fc.oneof(
      fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/jsonx', 'json', '*/*', 'application/x-ndjson', 'application/json; charset=utf-16', 'APPLICATION/JSON', 'application/json;;', ';', 'a/b/c'),
      fc.stringMatching(/^[a-z]{1,10}\/[a-z+.-]{1,15}$/),
    );
    await fc.assert(
      fc.asyncProperty(type, fc.constantFrom('search', 'get', 'export'), async (t, op) => {
        const a = await call({ path: `/v1/data-sources/mem/${op}`, body: op === 'export' ? '{"i":1}\n' : '{}', type: t });
        const { code } = expectCoded(a, `${op} as ${t}`);
        // fastify takes any application/json (parameters ignored, media type case-insensitive).
        const json = /^application\/json\s*(;.*)?$/i.test(t);
        const ndjson = t === 'application/x-ndjson';
        if (op === 'export' ? !ndjson : !json) expect([415, 400], `${op} as ${t}: ${code}`).toContain(a.status);
      }),
      PROPS,
    );
  });

  it('a chunked body over the limit (no Content-Length) is 413 as well', async () => {
    function* chunks(): Generator<Buffer> {
      for (let i = 0; i < 10; i++) yield Buffer.from(`{"pad${i}":"${'x'.repeat(1000)}",`);
      yield Buffer.from('"end":1}');
    }
    const a = await call({ path: '/v1/data-sources/mem/search', body: Readable.from(chunks()), type: 'application/json' });
    expect([a.status, expectCoded(a, 'chunked').code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });
});

describe('headers', () => {
  it('X-Request-Id: a usable one is echoed, anything else is replaced by a generated id', async () => {
    // Header values as Node and undici accept them: tab, printable ASCII, Latin-1.
    const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(0x09), fc.integer({ min: 0xa0, max: 0xff })).map((c) => String.fromCharCode(c));
    const value = fc.oneof(
      fc.string({ unit: headerChar, minLength: 1, maxLength: 200 }),
      fc.stringMatching(/^[A-Za-z0-9._:-]{1,200}$/),
      fc.constantFrom('../../etc/passwd', '__proto__', 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(8000), 'a b', '%0d%0aSet-Cookie: x=1', '<script>'),
    );
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const trimmed = v.trim();
        fc.pre(trimmed.length > 0);
        const a = await call({ path: '/v1/data-sources/mem/test', headers: { 'x-request-id': v } });
        expectCoded(a, `x-request-id ${JSON.stringify(v.slice(0, 80))}`);
        expect(a.status).toBe(200);
        const echoed = a.headers['x-request-id'] as string;
        if (USABLE_ID.test(trimmed)) expect(echoed).toBe(trimmed);
        else expect(echoed).toMatch(UUID);
        expect((JSON.parse(a.text) as { requestId: string }).requestId).toBe(echoed);
      }),
      { ...PROPS, numRuns: 200 },
    );
  });

  it('the same X-Request-Id twice at once: the second is a coded 400, the first completes', async () => {
    const first = call({ path: '/v1/data-sources/mem/search', body: '{}', type: 'application/json', headers: { 'x-request-id': 'same-id-1' } });
    const second = call({ path: '/v1/data-sources/mem/search', body: '{}', type: 'application/json', headers: { 'x-request-id': 'same-id-1' } });
    const [a, b] = await Promise.all([first, second]);
    const outcomes = [a, b].map((x) => [x.status, expectCoded(x, 'duplicate id').code ?? 'ok']);
    expect(outcomes.some(([s]) => s === 200)).toBe(true);
    for (const x of [a, b]) if (x.status === 200) expect(x.text.trim().split('\n')).toHaveLength(ITEMS + 1);
  });

  it('Authorization abuse → 401 UNAUTHORIZED with WWW-Authenticate', async () => {
    const headers = fc.oneof(
      fc.constantFrom('Basic YWdlbnQ6YWdlbnQtc2VjcmV0LTEyMw==', 'Bearer', 'Bearer ', `Bearer ${'x'.repeat(600)}`, `Bearer ${API_TOKENS.tenant1} extra`, `Token ${API_TOKENS.tenant1}`, 'Bearer __proto__', 'Bearer constructor'),
      fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 80 }).map((t) => `Bearer ${t}`),
    );
    await fc.assert(
      fc.asyncProperty(headers, async (h) => {
        const a = await call({ method: 'GET', path: '/v1/agents', token: null, headers: { authorization: h } });
        expect([a.status, expectCoded(a, h).code]).toEqual([401, 'UNAUTHORIZED']);
        expect(a.headers['www-authenticate']).toMatch(/^Bearer/);
      }),
      // Few: every unknown token costs one scrypt (slow on purpose).
      { ...PROPS, numRuns: 20 },
    );
  });
});

describe('paths, methods and queries', () => {
  it('odd data-source names (encoded slashes, traversal, unicode, 1,000+ characters) → coded 4xx, never another tenant or a 5xx', async () => {
    const name = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).map(encodeURIComponent),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeURIComponent),
      fc.constantFrom('..', '..%2F..%2Fagents', '%2e%2e%2f%2e%2e', 'mem%2F..%2Fmem', 'mem%00', 'mem%2500', '%E0%A4%A', '%', '%zz', 'MEM', 'mem%20', '%C0%AE%C0%AE', '__proto__', 'constructor', 'hasOwnProperty', 'mem;x=1', 'mem%3Bx', '.', '~', '*'),
      fc.integer({ min: 90, max: 3000 }).map((n) => 'm'.repeat(n)),
    );
    const route = fc.constantFrom(['POST', 'test'], ['GET', 'schema'], ['GET', 'attributes'], ['POST', 'get'], ['POST', 'search'], ['GET', 'resource-types']);
    await fc.assert(
      fc.asyncProperty(name, route, async (n, [method, op]) => {
        const a = await call({ method, path: `/v1/data-sources/${n}/${op}`, ...(method === 'POST' ? { body: '{}', type: 'application/json' } : {}) });
        const { code } = expectCoded(a, `${method} ${n.slice(0, 80)}/${op}`);
        if (n !== 'mem') expect([400, 404], `${n.slice(0, 80)}: ${code}`).toContain(a.status);
      }),
      { ...PROPS, numRuns: 250 },
    );
    // Tenant 2 cannot reach tenant 1's data source by any spelling: it has no agent, which is
    // the documented 503 AGENT_DISCONNECTED (the same answer as for a name nobody offers).
    for (const n of ['mem', 'MEM', 'mem%2F', '..%2Fmem']) {
      const a = await call({ path: `/v1/data-sources/${n}/test`, token: API_TOKENS.tenant2 });
      expect([a.status, (JSON.parse(a.text) as { code: string }).code], `tenant 2 ${n}`).toEqual([503, 'AGENT_DISCONNECTED']);
    }
  });

  it('errors fastify raises before routing (bad percent-encoding, a name over maxParamLength) get the coded body too', async () => {
    for (const n of ['%E0%A4%A', '%zz', 'x'.repeat(101), 'x'.repeat(5000)]) {
      const a = await call({ path: `/v1/data-sources/${n}/test`, headers: { 'x-request-id': 'framework-1' } });
      expect([a.status, expectCoded(a, n.slice(0, 40)).code], n.slice(0, 40)).toEqual([400, 'BAD_REQUEST']);
      expect(a.headers['x-request-id']).toBe('framework-1');
    }
  });

  it('wrong methods and query abuse → coded 4xx', async () => {
    const cases: Call[] = [
      ...['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].map((method) => ({ method, path: '/v1/data-sources/mem/search' })),
      ...['abc', '-1', '0', '1e9', '99999999999', '1.5', '', '%00', '0x10'].map((q) => ({ path: `/v1/data-sources/mem/test?timeoutMs=${q}` })),
      { path: '/v1/data-sources/mem/test?timeoutMs=1&timeoutMs=2' },
      { path: '/v1/data-sources/mem/test?__proto__[polluted]=1&constructor[prototype][polluted]=1' },
      { path: `/v1/data-sources/mem/test?${'a=1&'.repeat(2000)}` },
      { method: 'GET', path: '/v1/../v1/agents' },
      { method: 'GET', path: '/v1/%2e%2e/v1/agents' },
      { method: 'GET', path: '//v1//agents' },
      { method: 'GET', path: '/v1/agents/../../etc/passwd' },
    ];
    for (const c of cases) expectCoded(await call(c), `${c.method ?? 'POST'} ${c.path.slice(0, 80)}`);
    expect(prototypeIsClean()).toBe(true);
  });
});

describe('export NDJSON bodies', () => {
  type Line = { kind: 'record'; text: string } | { kind: 'blank'; text: string } | { kind: 'not-json'; text: string } | { kind: 'bad-utf8'; bytes: Buffer } | { kind: 'too-long'; text: string };
  const line: fc.Arbitrary<Line> = fc.oneof(
    { weight: 8, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v): Line => ({ kind: 'record', text: JSON.stringify(v) })).filter((l) => l.kind === 'record' && Buffer.byteLength(l.text) <= LIMITS.maxLineBytes) },
    fc.constantFrom('', ' ', '\t', '\r').map((text): Line => ({ kind: 'blank', text })),
    fc.constantFrom('{', 'nope', '{"a":}', "{'a':1}", '[1,]', 'NaN', '{"a":1}}').map((text): Line => ({ kind: 'not-json', text })),
    fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80]).map((b): Line => ({ kind: 'bad-utf8', bytes: Buffer.concat([Buffer.from('{"a":"'), Buffer.from(b), Buffer.from('"}')]) })),
    fc.integer({ min: LIMITS.maxLineBytes + 1, max: 2 * LIMITS.maxLineBytes }).map((n): Line => ({ kind: 'too-long', text: JSON.stringify({ pad: 'x'.repeat(n) }) })),
  );

  it('results for every record before the first bad line, then an error line naming it (or a coded 4xx)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 12 }), async (lines) => {
        const body = Buffer.concat(lines.map((l) => Buffer.concat([l.kind === 'bad-utf8' ? l.bytes : Buffer.from(l.text), Buffer.from('\n')])));
        // The oracle: records up to the first bad line (1-based), and why it is bad.
        let records = 0;
        let stop: { line: number; code: string } | undefined;
        for (const [k, l] of lines.entries()) {
          if (l.kind === 'record') records += 1;
          else if (l.kind !== 'blank') {
            stop = { line: k + 1, code: l.kind === 'too-long' ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST' };
            break;
          }
        }
        const a = await call({ path: '/v1/data-sources/mem/export', body, type: 'application/x-ndjson' });
        const what = `export ${JSON.stringify(lines.map((l) => l.kind))}`;
        const { code } = expectCoded(a, what);
        if (a.status !== 200) {
          // Refused before any result: only when the very first record-bearing line is bad.
          expect(records, `${what}: ${code}`).toBe(0);
          expect(code).toBe(stop?.code);
          return;
        }
        const out = a.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
        const last = out.at(-1)!;
        expect(out.slice(0, -1).map((r) => r['index']), what).toEqual(Array.from({ length: records }, (_, i) => i));
        if (stop === undefined) expect(last, what).toMatchObject({ end: true, count: records });
        else {
          expect(last, what).toMatchObject({ error: { code: stop.code }, count: records });
          expect((last as { error: { message: string } }).error.message, what).toContain(`line ${stop.line} `);
        }
        stats.exportsChecked += 1;
      }),
      PROPS,
    );
  });

  it('an export body over api.maxExportBytes is 413, by Content-Length or while streaming', async () => {
    const body = '{"i":1}\n'.repeat(Math.ceil((LIMITS.maxExportBytes + 1) / 8));
    const a = await call({ path: '/v1/data-sources/mem/export', body, type: 'application/x-ndjson' });
    expect([a.status, expectCoded(a, 'big export').code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('afterwards the API still answers; no 5xx, no crash', async () => {
    const a = await call({ path: '/v1/data-sources/mem/search', body: '{}', type: 'application/json' });
    expect(a.status).toBe(200);
    expect(a.text.trim().split('\n')).toHaveLength(ITEMS + 1);
    expect(stats.fiveHundreds).toEqual([]);
    expect(crashes.errors).toEqual([]);
  });
});

describe('a rogue agent\'s chunks, read as NDJSON (the pass-through hub)', () => {
  let rogue: Peer;

  beforeAll(async () => {
    rogue = await connectRaw(hub.url, basicAuth('agent', 'agent-secret-123'));
    rogue.sendFrame({
      type: 'hello',
      protocol: 1,
      agent: { id: 'rogue-ndjson', version: '0.0.0-rogue', hostname: 'rogue' },
      tenantId: '1',
      dataSources: [{ name: 'rogue-ds', type: 'ldap', operations: ['search'] }],
    });
    await rogue.waitFor((f) => f.type === 'welcome');
  });

  afterAll(() => rogue.close());

  /** An HTTP search of rogue-ds answered with `frames(id)`; the body and the frames the hub sent the rogue. */
  async function search(frames: (id: string) => Array<string | Buffer>): Promise<{ answer: Answer; toRogue: unknown[] }> {
    const from = rogue.received.length;
    const pending = call({ path: '/v1/data-sources/rogue-ds/search', body: '{}', type: 'application/json' });
    const req = await rogue.waitFor((f) => f.type === 'request', from);
    const id = (req as { id: string }).id;
    for (const f of frames(id)) rogue.send(f);
    const answer = await pending;
    return { answer, toRogue: rogue.frames(from) };
  }

  const end = (id: string, count: number): string => JSON.stringify({ type: 'end', id, count });
  const lines = (a: Answer): string[] => a.text.split('\n').slice(0, -1);

  it('an agent-built stream is written byte for byte: each item its JSON.stringify text on one line, then the summary', async () => {
    const items: unknown[] = [
      { dn: 'cn=a,dc=x', cn: ['\ufeffBOM', 'nul\u0000', 'tab\tquote"back\\'], 'jpegPhoto;binary': ['/9j/4AAQ'] },
      { dn: 'cn=\u2028line sep\u2029,dc=x', description: ['é 😀 \ud7ff'], n: [1.5, -0, 1e21, 12345] },
      { __proto__: null, constructor: { prototype: { isAdmin: true } } },
      'a string', 42, null, [],
    ];
    const texts = items.map((v) => JSON.stringify(v));
    const { answer } = await search((id) => [encodeChunk(id, 0, texts.slice(0, 3)).encoded, encodeChunk(id, 1, texts.slice(3)).encoded, end(id, texts.length)]);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(`${texts.join('\n')}\n${JSON.stringify({ end: true, count: texts.length, truncated: false })}\n`);
    expect(prototypeIsClean()).toBe(true);
  });

  it('whitespace and newlines between tokens are compacted: one item per line, never a line break inside', async () => {
    const { answer } = await search((id) => [`{ "type" : "chunk" ,\n "id" : "${id}" , "seq" : 0 , "items" : [\n{ "a" :\n 1 ,\r\n "b" : [ "x\\ny" , 2 ] }\n ,\n\t3 ] }\n`, end(id, 2)]);
    expect(lines(answer)).toEqual(['{"a":1,"b":["x\\ny",2]}', '3', JSON.stringify({ end: true, count: 2, truncated: false })]);
  });

  it('a raw newline or control character inside a string, bad UTF-8, a trailing comma: the frame is refused (BAD_FRAME to the agent), nothing of it is written', async () => {
    const bad = (id: string): Array<string | Buffer> => [
      `{"type":"chunk","id":"${id}","seq":0,"items":[{"a":"line\n{\\"injected\\":true}"}]}`,
      `{"type":"chunk","id":"${id}","seq":0,"items":["tab\there"]}`,
      Buffer.concat([Buffer.from(`{"type":"chunk","id":"${id}","seq":0,"items":["`), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('"]}')]),
      `{"type":"chunk","id":"${id}","seq":0,"items":[1,]}`,
    ];
    const from = rogue.received.length;
    const { answer } = await search((id) => [...bad(id), `{"type":"chunk","id":"${id}","seq":0,"items":[{"ok":true}]}`, end(id, 1)]);
    expect(lines(answer)).toEqual(['{"ok":true}', JSON.stringify({ end: true, count: 1, truncated: false })]);
    expect(answer.text).not.toContain('injected');
    // The refusals travel on the agent's socket, the answer on the client's: wait for all four.
    const refusals: unknown[] = [];
    for (let at = from; refusals.length < 4; ) {
      const i = await rogue.waitIndex((f) => f.type === 'error', at);
      refusals.push(...rogue.frames(i).slice(0, 1));
      at = i + 1;
    }
    expect(refusals.every((f) => (f as { code: string }).code === 'BAD_FRAME')).toBe(true);
  });

  it('duplicate keys (the last wins, as JSON.parse), huge and odd numbers passed as sent, deep items through the parser: each line valid JSON', async () => {
    const deep = `${'['.repeat(200)}1${']'.repeat(200)}`;
    const { answer } = await search((id) => [
      `{"type":"chunk","id":"${id}","seq":0,"items":[{"evil":1}],"type":"chunk","items":[{"good":1}],"extra":{"__proto__":{"polluted":true}}}`,
      `{"type":"chunk","id":"${id}","seq":1,"items":[{"n":1e400,"big":123456789012345678901234567890,"f":1.0,"a":1,"a":2}]}`,
      `{"type":"chunk","id":"${id}","seq":2,"items":[${deep}]}`,
      end(id, 3),
    ]);
    const out = lines(answer);
    expect(out).toEqual(['{"good":1}', '{"n":1e400,"big":123456789012345678901234567890,"f":1.0,"a":1,"a":2}', JSON.stringify(JSON.parse(deep)), JSON.stringify({ end: true, count: 3, truncated: false })]);
    for (const l of out) expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(prototypeIsClean()).toBe(true);
    expect(crashes.errors).toEqual([]);
  });
});

describe('a rogue agent\'s results, read as the answer of a get (the pass-through result)', () => {
  let rogue: Peer;

  beforeAll(async () => {
    rogue = await connectRaw(hub.url, basicAuth('agent', 'agent-secret-123'));
    rogue.sendFrame({
      type: 'hello',
      protocol: 1,
      agent: { id: 'rogue-results', version: '0.0.0-rogue', hostname: 'rogue' },
      tenantId: '1',
      dataSources: [{ name: 'rogue-get', type: 'ldap', operations: ['get'] }],
    });
    await rogue.waitFor((f) => f.type === 'welcome');
  });

  afterAll(() => rogue.close());

  /** An HTTP get of rogue-get answered with `frames(id)`; the answer, the request id and where the rogue's inbox stood. */
  async function get(frames: (id: string) => Array<string | Buffer>): Promise<{ answer: Answer; id: string; from: number }> {
    const from = rogue.received.length;
    const pending = call({ path: '/v1/data-sources/rogue-get/get', body: '{"dn":"cn=x"}', type: 'application/json' });
    const req = await rogue.waitFor((f) => f.type === 'request', from);
    const id = (req as { id: string }).id;
    for (const f of frames(id)) rogue.send(f);
    return { answer: await pending, id, from };
  }

  /** The next `n` error frames the hub sent the rogue after `from`. */
  async function refusals(from: number, n: number): Promise<Array<{ code: string; message: string }>> {
    const out: Array<{ code: string; message: string }> = [];
    for (let at = from; out.length < n; ) {
      const i = await rogue.waitIndex((f) => f.type === 'error', at);
      out.push(...(rogue.frames(i).slice(0, 1) as unknown as Array<{ code: string; message: string }>));
      at = i + 1;
    }
    return out;
  }

  it('agent-built data is written byte for byte: the body is JSON.stringify({dataSource, requestId, data})', async () => {
    const data = { dn: 'cn=\u2028a,dc=x', attributes: { cn: ['\ufeffBOM', 'nul\u0000', 'tab\tquote"back\\'], 'jpegPhoto;binary': ['/9j/4AAQ'], n: [1.5, -0, 1e21] } };
    const { answer, id } = await get((rid) => [JSON.stringify({ type: 'result', id: rid, data })]);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(JSON.stringify({ dataSource: 'rogue-get', requestId: id, data }));
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('whitespace compacted, duplicate keys (the last wins), odd numbers as sent: one line of valid JSON', async () => {
    const { answer, id } = await get((rid) => [
      `{"type":"result",\n "id" : "${rid}" , "data" : {"evil":1} , "data" : {\n "a" :\n 1.0 ,\r\n "b" : [ "x\\ny" , 1e400 ], "a": 2 }\n}\n`,
    ]);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(`{"dataSource":"rogue-get","requestId":"${id}","data":{"a":1.0,"b":["x\\ny",1e400],"a":2}}`);
    expect(JSON.parse(answer.text)).toEqual({ dataSource: 'rogue-get', requestId: id, data: { a: 2, b: ['x\ny', Infinity] } });
    expect(prototypeIsClean()).toBe(true);
  });

  it('a result that does not start the way agents write one goes through the parser: answered, normalised as before', async () => {
    const { answer, id } = await get((rid) => [`{ "id" : "${rid}" , "type" : "result" , "data" : { "a" : 1.0 , "a" : 2 , "b" : 1e400 } }`]);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(JSON.stringify({ dataSource: 'rogue-get', requestId: id, data: { a: 2, b: null } }));
  });

  it('a raw newline inside a string, bad UTF-8, a trailing comma: the result is refused (BAD_FRAME to the agent), the next good one answers', async () => {
    const { answer, from } = await get((rid) => [
      `{"type":"result","id":"${rid}","data":{"a":"line\n{\\"injected\\":true}"}}`,
      Buffer.concat([Buffer.from(`{"type":"result","id":"${rid}","data":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      `{"type":"result","id":"${rid}","data":[1,]}`,
      `{"type":"result","id":"${rid}","data":{"ok":true}}`,
    ]);
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.text) as { data: unknown }).data).toEqual({ ok: true });
    expect(answer.text).not.toContain('injected');
    const refused = await refusals(from, 3);
    expect(refused.map((f) => f.code)).toEqual(['BAD_FRAME', 'BAD_FRAME', 'BAD_FRAME']);
  });

  it('data deeper than the scanner goes through the parser and is answered the same; a result nobody asked for is refused', async () => {
    const deep = `${'['.repeat(200)}1${']'.repeat(200)}`;
    const { answer, id } = await get((rid) => [`{"type":"result","id":"${rid}","data":${deep}}`]);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(JSON.stringify({ dataSource: 'rogue-get', requestId: id, data: JSON.parse(deep) as unknown }));
    const from = rogue.received.length;
    rogue.send('{"type":"result","id":"nobody-asked","data":{"x":1}}');
    const [refused] = await refusals(from, 1);
    expect(refused).toMatchObject({ code: 'BAD_FRAME', message: 'no pending request with id nobody-asked' });
    expect(crashes.errors).toEqual([]);
  });
});
