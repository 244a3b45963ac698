/**
 * The OpenAPI document the hub generates from its routes' schemas: every route fastify has is
 * in it (and nothing else), it is OpenAPI 3.1 with operationIds, servers and JSON Schema
 * components that compile, every component is referenced and every reference resolves, every
 * answer declares its headers, and the NDJSON line kinds exclude each other. Then a real hub on
 * loopback: it serves that document without a token, a wrong method is 405 with Allow, and input
 * its schemas refuse is the API's coded 400 — every answer checked against the document.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { decodeHubConfig } from '../../../src/config/index.js';
import { Hub } from '../../../src/hub/hub.js';
import { ApiContract, contractFigures, withContract } from '../../helpers/e2e/openapi-contract.js';
import { buildDocument, type BuiltDocument } from '../../helpers/e2e/openapi-document.js';

type Json = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let built: BuiltDocument;
let doc: Json;
beforeAll(async () => {
  built = await buildDocument();
  doc = built.document;
});

const operations = (): Array<{ path: string; method: string; op: Json }> =>
  Object.entries(doc['paths'] as Record<string, Json>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ path, method, op: op as Json })),
  );

/** Every `$ref` in `node`, extensions included. */
function refsIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refsIn(n, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

function resolve(ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((n, part) => (n as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

describe('the document generated from the routes', () => {
  it('documents every route fastify registered (HEAD of a GET aside), and nothing else', () => {
    const fromFastify = built.routes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`)
      .sort();
    // fastify adds HEAD for each GET: answered like the GET, without a body.
    for (const r of built.routes.filter((x) => x.method === 'HEAD')) expect(built.routes).toContainEqual({ method: 'GET', url: r.url });
    const documented = operations()
      .map((o) => `${o.method.toUpperCase()} ${o.path}`)
      .sort();
    expect(documented).toEqual(fromFastify);
    expect(documented).toHaveLength(10);
  });

  it('is OpenAPI 3.1 with servers, unique operationIds, tags and summaries; its schemas compile as JSON Schema 2020-12', () => {
    expect(doc['openapi']).toBe('3.1.0');
    expect(doc['servers']).toEqual([expect.objectContaining({ url: '/' })]);
    const ids = operations().map((o) => o.op['operationId']);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { op } of operations()) expect([typeof op['summary'], (op['tags'] as unknown[]).length]).toEqual(['string', 1]);
    // Strict: an unknown keyword or a wrong type in a schema fails to compile.
    const ajv = new Ajv2020({ strict: true, strictRequired: false, keywords: ['components', 'x-ndjson-line'] });
    addFormats.default(ajv);
    const schemas = (doc['components'] as { schemas: Record<string, Json> }).schemas;
    ajv.addSchema({ $id: 'doc', components: { schemas } });
    for (const name of Object.keys(schemas)) expect(() => ajv.getSchema(`doc#/components/schemas/${name}`), name).not.toThrow();
    for (const name of Object.keys(schemas)) expect(ajv.getSchema(`doc#/components/schemas/${name}`), name).toBeTypeOf('function');
  });

  it('references every component, and every reference resolves', () => {
    const refs = refsIn(doc);
    for (const r of refs) expect(resolve(r), r).toBeDefined();
    const components = doc['components'] as Record<string, Record<string, unknown>>;
    const declared = Object.entries(components)
      .filter(([kind]) => kind !== 'securitySchemes')
      .flatMap(([kind, entries]) => Object.keys(entries).map((name) => `#/components/${kind}/${name}`));
    const used = new Set(refs);
    expect(declared.filter((c) => !used.has(c))).toEqual([]);
    expect(declared.length).toBeGreaterThanOrEqual(18);
  });

  it('declares X-Request-Id on every answer, Retry-After on 429 and 503, WWW-Authenticate on 401, a 4XX on every operation but the document itself', () => {
    for (const { path, method, op } of operations()) {
      const responses = op['responses'] as Record<string, { headers?: Record<string, unknown> }>;
      for (const [status, r] of Object.entries(responses)) {
        const headers = Object.keys(r.headers ?? {});
        expect(headers, `${method} ${path} ${status}`).toContain('X-Request-Id');
        if (status === '429' || status === '503') expect(headers).toContain('Retry-After');
        if (status === '401') expect(headers).toContain('WWW-Authenticate');
      }
      if (path !== '/v1/openapi.json') expect(Object.keys(responses).filter((s) => s.startsWith('4')).length, `${method} ${path}`).toBeGreaterThanOrEqual(2);
    }
  });

  it('requires every property of Agent and DataSource (the hub always writes them all)', () => {
    const schemas = (doc['components'] as { schemas: Record<string, { required: string[]; properties: Json }> }).schemas;
    for (const name of ['Agent', 'DataSource', 'Error', 'SearchEnd', 'ExportEnd', 'StreamError']) {
      expect([...schemas[name]!.required].sort(), name).toEqual(Object.keys(schemas[name]!.properties).filter((p) => p !== 'total').sort());
    }
  });

  it('tells every NDJSON line kind apart: each line matches exactly one branch, a line that could be two matches none', () => {
    const contract = new ApiContract(doc);
    const search = contract.answer('POST', '/v1/data-sources/x/search', 200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'x-request-id': 'r' });
    const kinds = (lines: unknown[], check = search): string[] => lines.map((l) => check.line(l));
    expect(
      kinds([
        { dn: 'uid=a,dc=x', cn: ['A'] },
        { id: '1', schemas: [], meta: {} },
        {},
        { end: true, count: 2, truncated: false },
        { end: true, count: 2, truncated: true, total: 9 },
        { error: { code: 'TIMEOUT', message: 'm', retryable: true }, requestId: 'r', count: 2 },
      ]),
    ).toEqual(['SearchEntry', 'SearchEntry', 'SearchEntry', 'SearchEnd', 'SearchEnd', 'StreamError']);
    const exports = contract.answer('POST', '/v1/data-sources/x/export', 200, { 'content-type': 'application/x-ndjson', 'x-request-id': 'r' });
    expect(
      kinds(
        [
          { index: 0, ok: true },
          { index: 1, ok: true, data: { dn: 'x' }, replayed: true, verified: true },
          { index: 2, ok: false, code: 'ALREADY_EXISTS', message: 'm', retryable: false },
          { index: 3, ok: false, code: 'OUTCOME_UNKNOWN', message: 'm', retryable: false, replayed: true },
          { end: true, count: 4, ok: 2, failed: 2 },
          { error: { code: 'BAD_REQUEST', message: 'line 5', retryable: false }, requestId: 'r', count: 4 },
        ],
        exports,
      ),
    ).toEqual(['ExportResult', 'ExportResult', 'ExportResult', 'ExportResult', 'ExportEnd', 'StreamError']);
    // Lines no reader could place: each matches no branch (never two).
    for (const bad of [{ dn: 'x', end: true }, { end: true, count: 1, truncated: false, error: {} }, { error: { code: 'X' }, requestId: 'r', count: 0 }, 'text', 3])
      expect(() => search.line(bad), JSON.stringify(bad)).toThrow(/does not match/);
    for (const bad of [{ index: 0, ok: true, code: 'X', message: 'm', retryable: false }, { index: 0, ok: false }, { index: 0, ok: true, end: true }, { end: true, count: 1, ok: 1, failed: 0, index: 0 }])
      expect(() => exports.line(bad), JSON.stringify(bad)).toThrow(/does not match/);
  });
});

describe('a hub serving it', () => {
  let hub: Hub;
  let base: string;
  let raw: Agent;
  let checked: Dispatcher;
  beforeAll(async () => {
    const text = readFileSync(join(import.meta.dirname, '../../../config/demo/hub.yaml'), 'utf8');
    hub = new Hub(decodeHubConfig(text, 'hub.yaml', { DEMO_HUB_PORT: '0' }), pino({ level: 'silent' }));
    base = `http://127.0.0.1:${(await hub.listen()).port}`;
    raw = new Agent();
    checked = withContract(raw);
  });
  afterAll(async () => {
    await raw?.close();
    await hub?.close();
  });

  const call = async (method: string, path: string, init: { body?: string; type?: string; headers?: Record<string, string>; token?: boolean } = {}) => {
    const res = await request(`${base}${path}`, {
      dispatcher: checked,
      method: method as 'GET',
      headers: { ...(init.token === false ? {} : { authorization: 'Bearer demo-token' }), ...(init.body === undefined ? {} : { 'content-type': init.type ?? 'application/json' }), ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as Json | undefined };
  };

  it('serves the generated document at /v1/openapi.json without a token', async () => {
    const r = await call('GET', '/v1/openapi.json', { token: false });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(doc);
  });

  it('answers a method a path does not have with 405 and Allow, an unknown path with 404 NO_SUCH_ROUTE', async () => {
    const cases: Array<[string, string, number, string, string | undefined]> = [
      ['DELETE', '/v1/agents', 405, 'METHOD_NOT_ALLOWED', 'GET, HEAD'],
      ['GET', '/v1/data-sources/x/search', 405, 'METHOD_NOT_ALLOWED', 'POST'],
      ['PUT', '/v1/data-sources/x/export', 405, 'METHOD_NOT_ALLOWED', 'POST'],
      ['POST', '/v1/openapi.json', 405, 'METHOD_NOT_ALLOWED', 'GET, HEAD'],
      ['GET', '/v1/nothing-here', 404, 'NO_SUCH_ROUTE', undefined],
    ];
    for (const [method, path, status, code, allow] of cases) {
      const r = await call(method, path);
      expect([r.status, r.body?.['code'], r.headers['allow']], `${method} ${path}`).toEqual([status, code, allow]);
    }
  });

  it('answers input its schemas refuse with the coded 400 of the API, naming what is wrong', async () => {
    const cases: Array<[string, string, Parameters<typeof call>[2], RegExp]> = [
      ['POST', '/v1/data-sources/x/test?timeoutMs=-1', {}, /timeoutMs must be >= 1/],
      ['POST', '/v1/data-sources/x/search?timeoutMs=1.5', { body: '{}' }, /timeoutMs must be integer/],
      ['POST', '/v1/data-sources/x/search?timeoutMs=abc', { body: '{}' }, /timeoutMs must be integer/],
      // Numbers the schema's coercion would take, which the API never took: decimal digits only.
      ['POST', '/v1/data-sources/x/search?timeoutMs=1e3', { body: '{}' }, /timeoutMs must be a positive integer, got "1e3"/],
      ['POST', '/v1/data-sources/x/search?timeoutMs=0x10', { body: '{}' }, /timeoutMs must be a positive integer, got "0x10"/],
      ['POST', '/v1/data-sources/x/search', { body: '[1,2]' }, /body must be object/],
      ['POST', '/v1/data-sources/x/get', { body: '"dn"' }, /body must be object/],
      ['POST', '/v1/data-sources/x/export', { body: '{}\n', type: 'application/x-ndjson', headers: { 'idempotency-key': 'ä'.repeat(3) } }, /idempotency-key must match pattern/],
      ['POST', '/v1/data-sources/x/export', { body: '{}\n', type: 'application/x-ndjson', headers: { 'idempotency-key': 'k'.repeat(256) } }, /idempotency-key must match pattern/],
    ];
    for (const [method, path, init, message] of cases) {
      const r = await call(method, path, init);
      expect([r.status, r.body?.['code'], r.body?.['retryable']], path).toEqual([400, 'BAD_REQUEST', false]);
      expect(r.body?.['message']).toMatch(message);
      expect(r.body?.['requestId']).toBe(r.headers['x-request-id']);
    }
  });

  it('still takes a search or get without a body (the empty parameters), and a usable timeoutMs', async () => {
    // No agent is connected: the request got past validation to the registry.
    for (const path of ['/v1/data-sources/x/search', '/v1/data-sources/x/get', '/v1/data-sources/x/search?timeoutMs=100']) {
      const r = await call('POST', path);
      expect([r.status, r.body?.['code']], path).toEqual([503, 'AGENT_DISCONNECTED']);
      expect(r.headers['retry-after']).toBe('1');
    }
    const agents = await call('GET', '/v1/agents');
    expect(agents.body).toEqual({ agents: [] });
    expect(contractFigures().violations).toBe(0);
    expect(contractFigures().jsonBodies).toBeGreaterThanOrEqual(17);
  });
});
