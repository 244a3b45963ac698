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
import { ProxyConfigError, redactUrl, resolveProxy } from '../../../src/support/proxy-url.js';
import { ProxyTunnelError, classifySocketError } from '../../../src/connection/errors.js';
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
      // Beyond proxy-from-env: CIDR ranges and IPv6 literals, as curl and Go read NO_PROXY.
      ['127.0.0.0/8', 'wss://127.0.0.1:8443/', true],
      ['127.0.0.0/8', 'wss://127.255.1.2/', true],
      ['127.0.0.0/8', 'wss://128.0.0.1/', false],
      ['127.0.0.0/8', 'wss://localhost/', false],
      ['10.0.0.0/8,192.168.0.0/16', 'wss://192.168.4.20/', true],
      ['10.1.2.3/32', 'wss://10.1.2.3/', true],
      ['10.1.2.3/32', 'wss://10.1.2.4/', false],
      ['0.0.0.0/0', 'wss://203.0.113.9/', true],
      ['fd00::/8', 'wss://[fd12:3456::1]/', true],
      ['fd00::/8', 'wss://[fe80::1]/', false],
      ['::1', 'wss://[::1]:9000/', true],
      ['::1', 'wss://[0:0:0:0:0:0:0:1]/', true],
      ['[::1]:9000', 'wss://[::1]:9000/', true],
      ['[::1]:9000', 'wss://[::1]:9001/', false],
      ['::1', 'wss://127.0.0.1/', false],
      // IPv4-mapped IPv6 is its IPv4 address, both ways.
      ['127.0.0.0/8', 'wss://[::ffff:127.0.0.1]/', true],
      ['127.0.0.1', 'wss://[::ffff:127.0.0.1]/', true],
      ['::ffff:10.0.0.5', 'wss://10.0.0.5/', true],
      ['::ffff:10.0.0.0/104', 'wss://10.9.9.9/', true],
      // Malformed ranges match nothing (and break nothing).
      ['10.0.0.0/33,hub.lan', 'wss://10.0.0.1/', false],
      ['10.0.0.0/33,hub.lan', 'wss://hub.lan/', true],
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

    it('rejects a proxy that is not an http(s) URL, naming its source and quoting it without credentials', () => {
      expect(() => resolveProxy('wss://hub/', { proxy: 'proxy.corp:3128', env: {} })).toThrow(ProxyConfigError);
      expect(() => resolveProxy('wss://hub/', { proxy: 'socks5://u:secret@p:1080', proxySource: 'agent.proxy', env: {} })).toThrow(
        'agent.proxy: a proxy URL starts with http:// or https://, not socks5://, got "socks5://***:***@p:1080"',
      );
    });

    it('refuses a proxy URL with a path, query or fragment: an unencoded / ? # in the password', () => {
      for (const proxy of ['http://u:1/cret@proxy:3128', 'http://u:a?b@proxy:3128', 'http://u:a#b@proxy:3128', 'http://proxy:3128/path']) {
        expect(() => resolveProxy('wss://hub/', { proxy, env: {} }), proxy).toThrow(/percent-encode/);
      }
      // An unencoded @ is fine: the URL parser splits at the last @ of the authority.
      expect(resolveProxy('wss://hub/', { proxy: 'http://u:p@ss@proxy:3128', env: {} })).toBe('http://u:p@ss@proxy:3128');
    });
  });

  describe('a proxy URL from the environment that cannot be used', () => {
    it.each([
      ['HTTPS_PROXY', 'http://u:se/cret@127.0.0.1:18888', 'wss://hub/'],
      ['https_proxy', 'http://u:se/cret@127.0.0.1:18888', 'wss://hub/'],
      ['HTTP_PROXY', 'u:se/cret@127.0.0.1:18888', 'ws://hub/'],
      ['ALL_PROXY', 'socks5://u:se/cret@127.0.0.1:1080', 'wss://hub/'],
    ])('%s=%s is a ProxyConfigError naming the variable, never the password', (name, value, target) => {
      let thrown: unknown;
      try {
        resolveProxy(target, { env: { [name]: value } });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ProxyConfigError);
      const err = thrown as ProxyConfigError;
      expect(err).toMatchObject({ source: name, code: 'CONFIG_INVALID' });
      expect(err.message.startsWith(`${name}: `)).toBe(true);
      // Everything an error serialiser would write: no part of the password anywhere.
      const serialised = JSON.stringify({ ...err, message: err.message, stack: err.stack });
      expect(serialised).not.toMatch(/se\/cret|cret/);
      expect(err.cause).toBeUndefined();
      expect(serialised).toContain('127.0.0.1');
    });

    it('a variable NO_PROXY exempts is not looked at', () => {
      expect(resolveProxy('wss://127.0.0.1:1/', { env: { HTTPS_PROXY: 'http://u:se/cret@p:1', NO_PROXY: '127.0.0.0/8' } })).toBeUndefined();
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
    // An @ in a path followed by a host-like word reads as userinfo: better a hidden path than
    // a shown password (`http://u:1/cret@proxy:3128` looks the same).
    ['http://proxy:3128/a@b', 'http://***:***@b'],
    ['http://u:1/cret@proxy:3128', 'http://***:***@proxy:3128'],
    ['http://u:se/cret@127.0.0.1:18888', 'http://***:***@127.0.0.1:18888'],
    ['http://user:p@ss:w/rd@host', 'http://***:***@host'],
    ['http://u:a b@[::1]:3128', 'http://***:***@[::1]:3128'],
    ['http://u:pass@', 'http://***:***@'],
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

  it('a wrong proxy password fails the request with ProxyTunnelError 407 (not a response the hub seems to give)', async () => {
    const before = proxy.connects.length;
    const bad = proxy.url.replace('http://', 'http://agent:nope@');
    const err = await get(agentFor(loadClientTls({ trustStore: pki.ca.file }), bad)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProxyTunnelError);
    expect(err).toMatchObject({ status: 407, reason: 'Proxy Authentication Required', target: origin, proxy: proxy.url.replace('http://', 'http://***:***@') });
    expect(classifySocketError(err, `wss://${origin}/agent`)).toMatchObject({ code: 'PROXY_FAILED' });
    expect(String((err as Error).message)).not.toContain('nope');
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

  it('ws: a 407 arrives as an error event carrying the ProxyTunnelError, never as unexpected-response', async () => {
    const ws = new WebSocket(`wss://${origin}/agent`, { agent: agentFor(loadClientTls({ trustStore: pki.ca.file }), proxy.url) });
    const err = await new Promise<unknown>((resolve, reject) => {
      ws.once('error', resolve);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`proxy answer read as the hub's HTTP ${res.statusCode}`)));
      ws.once('open', () => reject(new Error('opened without proxy credentials')));
    });
    expect(err).toBeInstanceOf(ProxyTunnelError);
    expect(err).toMatchObject({ status: 407 });
  });

  it('a proxy that is down: ProxyTunnelError without a status, the errno as cause, classified PROXY_FAILED', async () => {
    const down = await startConnectProxy();
    const url = down.url;
    await down.close();
    const err = await get(agentFor(loadClientTls({ trustStore: pki.ca.file }), url)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProxyTunnelError);
    expect(err).toMatchObject({ status: undefined, proxy: url });
    expect((err as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    const classified = classifySocketError(err, `wss://${origin}/agent`);
    expect(classified.code).toBe('PROXY_FAILED');
    expect(classified.message).toMatch(/did not open a tunnel.*ECONNREFUSED.*not reachable/);
  });
});
