/**
 * The hub behind a real nginx (1.22 from apt) running the documented configuration,
 * deploy/nginx/datasync-hub.conf (docs/deployment.md embeds it verbatim; checked here): the
 * shared scenarios of reverse-proxy.scenarios.ts, then what the directives are for — variants of
 * the same file with one directive changed: nginx's default `proxy_buffering on` swallows a
 * search whole (the agent runs to the end while the client has read one chunk) unless the hub's
 * `X-Accel-Buffering: no` is honoured, and without `client_max_body_size 0` an export over 1 MB
 * gets nginx's own HTML 413.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { describe, expect, it } from 'vitest';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { startNginx, NGINX_SITE_FILE } from '../helpers/nginx.js';
import { logTail } from '../helpers/proxy-process.js';
import { API_TOKENS, relayFixture } from '../helpers/relay-env.js';
import { embeddedBlocks } from './embedded-config.js';
import { relayBehind, reverseProxyScenarios, slowReader, type ProxyVariant, type StartProxy } from './reverse-proxy.scenarios.js';

const fx = relayFixture();

/** Replaces `from` (which must be there) in the rendered site. */
function replaced(site: string, from: string, to: string): string {
  if (!site.includes(from)) throw new Error(`the documented nginx configuration has no "${from}"`);
  return site.replace(from, to);
}

const BUFFERING_OFF = 'proxy_buffering         off;';
const VARIANTS: Record<ProxyVariant, (site: string) => string> = {
  documented: (site) => site,
  // nginx's default: buffer answers (in memory, then in temp files up to 1 GB).
  'buffering-on': (site) => replaced(site, BUFFERING_OFF, 'proxy_buffering         on;'),
  // ... and a hub without X-Accel-Buffering (or a proxy told to ignore it): the bug.
  'buffering-on-header-ignored': (site) => replaced(site, BUFFERING_OFF, 'proxy_buffering         on;\n    proxy_ignore_headers    X-Accel-Buffering;'),
  // nginx's default body limit, 1m.
  'default-body-limit': (site) => replaced(site, 'client_max_body_size 0;', '# client_max_body_size: nginx default (1m)'),
};

const startNginxProxy: StartProxy = async (dir, hub, variant = 'documented') => {
  const nginx = await startNginx({
    dir,
    upstream: hub.upstream,
    certFile: fx.env.pki.server.certFile,
    keyFile: fx.env.pki.server.keyFile,
    clientCaFile: fx.env.pki.ca.file,
    edit: VARIANTS[variant],
  });
  return {
    base: nginx.base,
    agentUrl: nginx.agentUrl,
    port: nginx.port,
    restart: () => nginx.restart(),
    stop: () => nginx.stop(),
    logs: () => logTail([nginx.errorLog, nginx.accessLog]),
  };
};

describe('docs/deployment.md', () => {
  it('embeds deploy/nginx/datasync-hub.conf verbatim', () => {
    expect(embeddedBlocks('nginx')).toEqual([readFileSync(NGINX_SITE_FILE, 'utf8')]);
  });
});

reverseProxyScenarios(fx, 'nginx', startNginxProxy, 'HTTP_ERROR');

describe('nginx: what the directives are for', () => {
  it('proxy_buffering on with X-Accel-Buffering ignored: nginx reads the whole search, the agent pulls every page while the client has read one chunk', async () => {
    const figures = await slowReader(fx, startNginxProxy, 'nginx (proxy_buffering on, X-Accel-Buffering ignored)', 'buffering-on-header-ignored', false);
    expect(figures.bytesRead).toBeLessThan(figures.totalBytes / 100);
  }, 240_000);

  it('proxy_buffering on, the hub\'s X-Accel-Buffering: no honoured: the page pulls stop as with buffering off', async () => {
    await slowReader(fx, startNginxProxy, 'nginx (proxy_buffering on, X-Accel-Buffering: no from the hub)', 'buffering-on', true);
  }, 240_000);

  it('without client_max_body_size 0, an export body over 1 MB gets nginx\'s HTML 413 and never reaches the hub', async () => {
    const adapter = memoryAdapter();
    const { proxy, ca, hub } = await relayBehind(fx, startNginxProxy, adapter, { variant: 'default-body-limit' });
    const body = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(1000) })).join('\n') + '\n';
    const answer = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
      const req = request(`${proxy.base}/v1/data-sources/mem/export`, {
        method: 'POST',
        ca,
        agent: false,
        headers: { authorization: `Bearer ${API_TOKENS.tenant1}`, 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) },
      });
      req.once('error', reject);
      req.once('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
      });
      req.end(body);
    });
    expect([answer.status, answer.type]).toEqual([413, 'text/html']);
    expect(answer.text).toContain('413 Request Entity Too Large');
    expect(adapter.written).toHaveLength(0);
    expect(hub.logs.records().filter((r) => r['msg'] === 'API request' && r['url'] === '/v1/data-sources/mem/export')).toEqual([]);
  });
});
