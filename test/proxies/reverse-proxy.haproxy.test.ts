/**
 * The hub behind a real HAProxy (2.6 from apt) running the documented configuration,
 * deploy/haproxy/datasync-hub.cfg, unchanged (HAProxy reads its "${HUB_...}" values from the
 * environment; docs/deployment.md embeds the file verbatim, checked here): the shared scenarios
 * of reverse-proxy.scenarios.ts. HAProxy has no response buffering to turn on and no body
 * limit: the documented configuration is the only variant.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HAPROXY_CONFIG_FILE, startHaproxy } from '../helpers/haproxy.js';
import { logTail } from '../helpers/proxy-process.js';
import { relayFixture } from '../helpers/relay-env.js';
import { embeddedBlocks } from './embedded-config.js';
import { reverseProxyScenarios, type StartProxy } from './reverse-proxy.scenarios.js';

const fx = relayFixture();

const startHaproxyProxy: StartProxy = async (dir, hub, variant = 'documented') => {
  if (variant !== 'documented') throw new Error(`HAProxy runs the documented configuration only, not "${variant}"`);
  const haproxy = await startHaproxy({
    dir,
    upstream: hub.upstream,
    certFile: fx.env.pki.server.certFile,
    keyFile: fx.env.pki.server.keyFile,
    clientCaFile: fx.env.pki.ca.file,
  });
  return {
    base: haproxy.base,
    agentUrl: haproxy.agentUrl,
    port: haproxy.port,
    restart: () => haproxy.restart(),
    stop: () => haproxy.stop(),
    logs: () => logTail([haproxy.log]),
  };
};

describe('docs/deployment.md', () => {
  it('embeds deploy/haproxy/datasync-hub.cfg verbatim', () => {
    expect(embeddedBlocks('haproxy')).toEqual([readFileSync(HAPROXY_CONFIG_FILE, 'utf8')]);
  });
});

reverseProxyScenarios(fx, 'haproxy', startHaproxyProxy, 'TLS_FAILED');
