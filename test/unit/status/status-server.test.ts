/**
 * The status listener over real HTTP on 127.0.0.1 port 0: its three endpoints, 404/405, a
 * failing readiness probe, and close() with a keep-alive connection still open.
 */
import { request as httpRequest } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { StatusServer, type Readiness } from '../../../src/status/status-server.js';
import { captureLogs } from '../../helpers/log-capture.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request on a fresh connection (no pooling, so close() tests are not confused by it). */
function call(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let state: Readiness = { ready: false, detail: { why: 'starting' } };
const servers: StatusServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start(ready: () => Readiness = () => state): Promise<{ server: StatusServer; port: number; registry: Registry }> {
  const registry = new Registry();
  new Counter({ name: 'test_things_total', help: 'things', registers: [registry] }).inc(3);
  const server = await StatusServer.listen({ host: '127.0.0.1', port: 0 }, { registry, ready }, captureLogs('info').logger);
  servers.push(server);
  return { server, port: server.address().port, registry };
}

describe('StatusServer', () => {
  it('binds to the configured address only', async () => {
    const { server } = await start();
    expect(server.address().address).toBe('127.0.0.1');
  });

  it('GET /healthz answers 200 {"status":"ok"}', async () => {
    const { port } = await start();
    const r = await call(port, '/healthz');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(r.body)).toEqual({ status: 'ok' });
  });

  it('GET /readyz follows ready(): 503 with the detail, then 200', async () => {
    const { port } = await start();
    state = { ready: false, detail: { connections: [{ url: 'wss://hub/agent', state: 'connecting' }] } };
    const down = await call(port, '/readyz');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ status: 'not ready', detail: { connections: [{ url: 'wss://hub/agent', state: 'connecting' }] } });
    state = { ready: true, detail: { n: 1 } };
    const up = await call(port, '/readyz?verbose=1');
    expect(up.status).toBe(200);
    expect(JSON.parse(up.body)).toEqual({ status: 'ready', detail: { n: 1 } });
  });

  it('GET /metrics serves the registry as Prometheus text with its content type', async () => {
    const { port, registry } = await start();
    const r = await call(port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(registry.contentType);
    expect(r.body).toContain('# TYPE test_things_total counter');
    expect(r.body).toMatch(/^test_things_total 3$/m);
  });

  it('answers 404 JSON for any other path, whatever the method', async () => {
    const { port } = await start();
    for (const [path, method] of [['/', 'GET'], ['/metrics/x', 'GET'], ['/nope', 'POST']] as const) {
      const r = await call(port, path, method);
      expect(r.status).toBe(404);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(r.body)).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  it('answers 405 with Allow: GET for another method on a known path', async () => {
    const { port } = await start();
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
      const r = await call(port, '/metrics', method);
      expect(r.status, method).toBe(405);
      expect(r.headers['allow']).toBe('GET');
    }
    const post = await call(port, '/healthz', 'POST');
    expect(JSON.parse(post.body)).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
  });

  it('a readiness probe that throws answers 500 and the listener stays up', async () => {
    const { port } = await start(() => {
      throw new Error('probe broke');
    });
    const r = await call(port, '/readyz');
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'INTERNAL' });
    expect((await call(port, '/healthz')).status).toBe(200);
  });

  it('close() stops listening even with a keep-alive connection open', async () => {
    const { server, port } = await start();
    const res = await fetch(`http://127.0.0.1:${port}/healthz`); // undici keeps the socket alive
    expect(res.status).toBe(200);
    await res.text();
    await server.close();
    await expect(call(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    await server.close(); // idempotent
  });

  it('refuses to start on an address in use', async () => {
    const { port } = await start();
    await expect(StatusServer.listen({ host: '127.0.0.1', port }, { registry: new Registry(), ready: () => state }, captureLogs('info').logger)).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});
