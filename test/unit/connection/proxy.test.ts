import { mkdtempSync, rmSync } from 'node:fs';
import type { Agent } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { proxyAgent } from '../../../src/connection/proxy.js';
import { redactUrl, resolveProxy } from '../../../src/support/proxy-url.js';
import { loadClientTls, type ClientTlsOptions } from '../../../src/support/tls-stores.js';
import { makeTestPki, type TestPki } from '../../helpers/certs.js';
import { startConnectProxy, type ConnectProxy } from '../../helpers/connect-proxy.js';

describe('resolveProxy', () => {
  const P = 'http://proxy.corp:3128';

  it('uses nothing when nothing is configured', () => {
    expect(resolveProxy('wss://hub.example.com/agent', { env: {} })).toBeUndefined();
  });

  it('maps wss: to HTTPS_PROXY and ws: to HTTP_PROXY (proxy-from-env would look for WSS_PROXY)', () => {
    const env = { HTTPS_PROXY: 'http://s:1', HTTP_PROXY: 'http://p:2' };
    expect(resolveProxy('wss://hub.example.com/agent', { env })).toBe('http://s:1');
    expect(resolveProxy('ws://hub.example.com/agent', { env })).toBe('http://p:2');
    expect(resolveProxy('https://hub.example.com/', { env })).toBe('http://s:1');
    expect(resolveProxy('http://hub.example.com/', { env })).toBe('http://p:2');
    expect(resolveProxy('wss://hub.example.com/', { env: { WSS_PROXY: 'http://w:3' } })).toBeUndefined();
  });

  it('does not use HTTP_PROXY for a wss:// target', () => {
    expect(resolveProxy('wss://hub.example.com/', { env: { HTTP_PROXY: P } })).toBeUndefined();
  });

  it('prefers the lower-case variable, falls back to ALL_PROXY, treats empty as unset', () => {
    expect(resolveProxy('wss://h/', { env: { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:1' } })).toBe(
      'http://lower:1',
    );
    expect(resolveProxy('wss://h/', { env: { https_proxy: '', HTTPS_PROXY: 'http://upper:1' } })).toBe('http://upper:1');
    expect(resolveProxy('wss://h/', { env: { ALL_PROXY: 'http://all:1' } })).toBe('http://all:1');
    expect(resolveProxy('wss://h/', { env: { all_proxy: 'http://all:2', HTTPS_PROXY: 'http://s:1' } })).toBe('http://s:1');
  });

  it('defaults a scheme-less proxy to http:// (not the target scheme, as proxy-from-env would)', () => {
    expect(resolveProxy('wss://hub.example.com/', { env: { HTTPS_PROXY: 'proxy.corp:3128' } })).toBe(P);
  });

  it('reads process.env when no env is given', () => {
    vi.stubEnv('HTTPS_PROXY', 'http://from-process:8080');
    vi.stubEnv('https_proxy', '');
    vi.stubEnv('NO_PROXY', '');
    vi.stubEnv('no_proxy', '');
    try {
      expect(resolveProxy('wss://hub.example.com/', {})).toBe('http://from-process:8080');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  describe('NO_PROXY', () => {
    const cases: Array<[noProxy: string, url: string, direct: boolean]> = [
      ['hub.example.com', 'wss://hub.example.com/', true],
      ['HUB.example.com', 'wss://hub.example.com/', true],
      ['hub.example.com', 'wss://other.example.com/', false],
      ['.example.com', 'wss://hub.example.com/', true],
      // Same rule as proxy-from-env: a leading dot is a pure suffix match.
      ['.example.com', 'wss://example.com/', false],
      ['*.example.com', 'wss://hub.example.com/', true],
      ['*', 'wss://anything/', true],
      ['localhost, 10.0.0.5 hub.example.com', 'wss://hub.example.com/', true],
      ['localhost,,10.0.0.5', 'wss://10.0.0.5:8443/', true],
      ['hub.example.com:443', 'wss://hub.example.com/', true],
      ['hub.example.com:8443', 'wss://hub.example.com/', false],
      ['hub.example.com:8443', 'wss://hub.example.com:8443/', true],
      ['hub.example.com:80', 'ws://hub.example.com/', true],
      ['[::1]', 'wss://[::1]:9000/', true],
    ];
    it.each(cases)('NO_PROXY=%j, %s → direct %s', (noProxy, url, direct) => {
      const viaEnv = resolveProxy(url, { env: { HTTPS_PROXY: P, HTTP_PROXY: P, NO_PROXY: noProxy } });
      expect(viaEnv === undefined).toBe(direct);
      const viaOption = resolveProxy(url, { noProxy, env: { HTTPS_PROXY: P, HTTP_PROXY: P } });
      expect(viaOption === undefined).toBe(direct);
    });

    it('reads no_proxy (lower case) before NO_PROXY', () => {
      const env = { HTTPS_PROXY: P, no_proxy: 'a.example', NO_PROXY: 'hub.example.com' };
      expect(resolveProxy('wss://hub.example.com/', { env })).toBe(P);
      expect(resolveProxy('wss://a.example/', { env })).toBeUndefined();
    });
  });

  describe('explicit proxy', () => {
    it('wins over the environment', () => {
      expect(resolveProxy('wss://hub.example.com/', { proxy: P, env: { HTTPS_PROXY: 'http://env:1' } })).toBe(P);
    });

    it('still honours noProxy and, without noProxy, NO_PROXY from the environment', () => {
      expect(resolveProxy('wss://hub.lan/', { proxy: P, noProxy: '.lan', env: {} })).toBeUndefined();
      expect(resolveProxy('wss://hub.lan/', { proxy: P, env: { NO_PROXY: 'hub.lan' } })).toBeUndefined();
      expect(resolveProxy('wss://hub.example.com/', { proxy: P, env: { NO_PROXY: 'hub.lan' } })).toBe(P);
    });

    it('noProxy replaces (does not extend) NO_PROXY from the environment', () => {
      expect(resolveProxy('wss://hub.lan/', { proxy: P, noProxy: 'other.lan', env: { NO_PROXY: 'hub.lan' } })).toBe(P);
    });

    it('an empty proxy string means "not configured"', () => {
      expect(resolveProxy('wss://hub/', { proxy: '', env: { HTTPS_PROXY: 'http://env:1' } })).toBe('http://env:1');
    });

    it('rejects a proxy that is not an http(s) URL, quoting it without credentials', () => {
      expect(() => resolveProxy('wss://hub/', { proxy: 'proxy.corp:3128', env: {} })).toThrow(TypeError);
      expect(() => resolveProxy('wss://hub/', { proxy: 'socks5://u:secret@p:1080', env: {} })).toThrow(
        'proxy must be an http:// or https:// URL, got "socks5://***:***@p:1080"',
      );
    });
  });

  it('rejects an invalid target URL with a TypeError', () => {
    expect(() => resolveProxy('not a url', { env: {} })).toThrow(TypeError);
  });

  describe('parity with proxy-from-env for http(s) targets', () => {
    afterEach(() => vi.unstubAllEnvs());
    const vars = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY'];
    const envs: Array<Record<string, string>> = [
      { HTTPS_PROXY: 'http://s:1' },
      { HTTP_PROXY: 'http://p:1' },
      { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:1' },
      { ALL_PROXY: 'http://all:1', HTTP_PROXY: 'http://p:1' },
      { HTTPS_PROXY: 'http://s:1', NO_PROXY: '.example.com' },
      { HTTPS_PROXY: 'http://s:1', no_proxy: '*.example.com,hub.lan:8443' },
      { HTTPS_PROXY: 'http://s:1', NO_PROXY: '*' },
    ];
    const urls = ['https://hub.example.com/', 'https://example.com/', 'http://hub.lan:8443/', 'https://hub.lan:8443/', 'https://[::1]/'];
    it.each(envs)('env %j', (env) => {
      for (const v of vars) {
        vi.stubEnv(v, '');
        vi.stubEnv(v.toLowerCase(), '');
      }
      for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
      for (const url of urls) {
        const expected = getProxyForUrl(url) || undefined;
        expect(resolveProxy(url, { env: { ...env } }), url).toBe(expected);
        // ws(s) targets get what proxy-from-env returns for the http(s) equivalent.
        expect(resolveProxy(url.replace(/^http/, 'ws'), { env: { ...env } }), url).toBe(expected);
      }
    });
  });
});

describe('redactUrl', () => {
  it.each([
    ['http://user:pass@proxy:3128', 'http://***:***@proxy:3128'],
    ['http://user:pass@proxy:3128/path?q=1', 'http://***:***@proxy:3128/path?q=1'],
    ['https://user@proxy', 'https://***:***@proxy'],
    ['http://user:p@ss@proxy:3128', 'http://***:***@proxy:3128'],
    ['user:pass@proxy:3128', '***:***@proxy:3128'],
    ['http://proxy:3128', 'http://proxy:3128'],
    ['http://proxy:3128/a@b', 'http://proxy:3128/a@b'],
    ['wss://hub.example.com/agent?x=@', 'wss://hub.example.com/agent?x=@'],
  ])('%s → %s', (input, output) => {
    expect(redactUrl(input)).toBe(output);
  });
});

describe('proxyAgent', () => {
  it('returns undefined for a direct connection', () => {
    expect(proxyAgent('wss://hub.example.com/', { env: {} })).toBeUndefined();
    expect(proxyAgent('wss://hub.lan/', { proxy: 'http://p:1', noProxy: 'hub.lan', env: {} })).toBeUndefined();
  });

  it('returns an HttpsProxyAgent for the resolved proxy', () => {
    const agent = proxyAgent('wss://hub.example.com/', { env: { HTTPS_PROXY: 'http://u:p@proxy.corp:3128' } });
    expect(agent).toBeInstanceOf(HttpsProxyAgent);
    expect((agent as HttpsProxyAgent<string>).proxy.href).toBe('http://u:p@proxy.corp:3128/');
  });
});

describe('TLS through a CONNECT proxy (real sockets)', () => {
  const creds = { username: 'agent', password: 'p@ss:w/rd' };
  let dir: string;
  let pki: TestPki;
  let server: https.Server;
  let wss: WebSocketServer;
  let proxy: ConnectProxy;
  let origin: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'datasync-proxy-'));
    pki = makeTestPki(dir);
    server = https.createServer(
      {
        cert: pki.server.certPem,
        key: pki.server.keyPem,
        ca: pki.ca.certPem,
        requestCert: true,
        rejectUnauthorized: false, // report instead of reject, so each test can assert what the server saw
      },
      (req, res) => res.end(JSON.stringify(peer(req.socket as TLSSocket))),
    );
    wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => ws.send(JSON.stringify(peer(req.socket as TLSSocket))));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    proxy = await startConnectProxy({ auth: creds });
  });

  afterAll(async () => {
    await proxy.close();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  function peer(socket: TLSSocket): { authorized: boolean; cn: string | null; error: string | null } {
    const cert = socket.getPeerCertificate();
    const subjectCn: string | string[] | undefined = Object.keys(cert).length > 0 ? cert.subject.CN : undefined;
    const cn = subjectCn === undefined ? null : [subjectCn].flat().join(',');
    const error = socket.authorizationError ? String(socket.authorizationError) : null;
    return { authorized: socket.authorized, cn, error };
  }

  function get(agent: Agent | undefined): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(`https://${origin}/`, agent ? { agent } : {}, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  function agentFor(tls: ClientTlsOptions, proxyUrl = proxy.authUrl): Agent {
    const agent = proxyAgent(`wss://${origin}/agent`, { proxy: proxyUrl, tls, env: {} });
    expect(agent).toBeDefined();
    return agent!;
  }

  const expectedAuth = `Basic ${Buffer.from('agent:p@ss:w/rd').toString('base64')}`;

  it('verifies the server with the trust store and sends percent-decoded Basic proxy credentials', async () => {
    const before = proxy.connects.length;
    const res = await get(agentFor(loadClientTls({ trustStore: pki.ca.file })));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ authorized: false, cn: null });
    expect(proxy.connects.slice(before)).toEqual([{ target: origin, auth: expectedAuth, status: 200 }]);
  });

  it('mTLS with the PKCS#12 key store: the server sees CN site-a-1', async () => {
    const tls = loadClientTls({
      keyStore: pki.client.p12File,
      keyStorePassword: pki.client.p12Password,
      trustStore: pki.trustP12File,
      trustStorePassword: pki.trustP12Password,
    });
    const res = await get(agentFor(tls));
    expect(JSON.parse(res.body)).toEqual({ authorized: true, cn: 'site-a-1', error: null });
  });

  it('mTLS with the PEM key store', async () => {
    const tls = loadClientTls({ keyStore: pki.client.pemBundleFile, trustStore: pki.ca.file });
    const res = await get(agentFor(tls));
    expect(JSON.parse(res.body)).toEqual({ authorized: true, cn: 'site-a-1', error: null });
  });

  it('the server sees an expired client certificate as such', async () => {
    const tls = loadClientTls({
      keyStore: pki.expiredClient.certFile,
      privateKey: pki.expiredClient.keyFile,
      trustStore: pki.ca.file,
    });
    const res = await get(agentFor(tls));
    expect(JSON.parse(res.body)).toMatchObject({ authorized: false, error: 'CERT_HAS_EXPIRED' });
  });

  it('fails verification when only an unrelated CA is trusted (public roots do not help)', async () => {
    const tls = loadClientTls({ trustStore: pki.otherCa.file });
    // The server sends the test CA along (OpenSSL auto-chains from its `ca`), hence "in chain".
    await expect(get(agentFor(tls))).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  });

  it('a wrong proxy password gives the 407 as the response', async () => {
    const before = proxy.connects.length;
    const bad = proxy.url.replace('http://', 'http://agent:nope@');
    const res = await get(agentFor(loadClientTls({ trustStore: pki.ca.file }), bad));
    expect(res.status).toBe(407);
    expect(proxy.connects.slice(before)).toEqual([
      { target: origin, auth: `Basic ${Buffer.from('agent:nope').toString('base64')}`, status: 407 },
    ]);
  });

  it('ws: mTLS through the proxy', async () => {
    const tls = loadClientTls({
      keyStore: pki.client.p12File,
      keyStorePassword: pki.client.p12Password,
      trustStore: pki.ca.file,
    });
    const ws = new WebSocket(`wss://${origin}/agent`, { agent: agentFor(tls) });
    const msg = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(data.toString('utf8')));
      ws.once('error', reject);
    });
    ws.terminate();
    expect(JSON.parse(msg)).toEqual({ authorized: true, cn: 'site-a-1', error: null });
  });

  it('ws: a 407 arrives as unexpected-response', async () => {
    const ws = new WebSocket(`wss://${origin}/agent`, { agent: agentFor(loadClientTls({ trustStore: pki.ca.file }), proxy.url) });
    const status = await new Promise<number | undefined>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode);
        ws.on('error', () => undefined); // terminate() during the handshake reports an 'error'
        ws.terminate();
      });
      ws.once('open', () => reject(new Error('opened without proxy credentials')));
    });
    expect(status).toBe(407);
  });
});
