/**
 * Start-up failures of the built CLIs, as an operator meets them: a hub whose TLS files are
 * missing or do not match is a configuration error with FILE:LINE:COL (check and run, exit 2);
 * a port already in use is one line on stderr naming the key to change (exit 1, no stack); a
 * SIGTERM ends agent and hub with a last `stopped` line; a 415 names the expected Content-Type;
 * a data source that is down is reported at warn when the agent starts (its start-up test).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, HUB_BIN, ROOT, runCli, startDaemon, type RunResult } from '../helpers/cli.js';
import { API_TOKENS, fixtureHashes, makeEnv, type Env } from '../helpers/relay-env.js';
import { freePort } from '../helpers/slapd.js';

let env: Env;
let hashes: Awaited<ReturnType<typeof fixtureHashes>>;
/** A port held by another listener for the whole file. */
let busy: Server;
let busyPort: number;

beforeAll(async () => {
  env = makeEnv();
  hashes = await fixtureHashes();
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => busy?.close(resolve));
  env?.cleanup();
});

const write = (text: string): string => {
  const file = join(env.dir, `startup-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
};

/** hub.yaml: `tls` lines (or none), the listen port, more top-level keys. */
function hubYaml(o: { tls?: string; port?: number; extra?: string } = {}): string {
  return write(`logging: { level: info }
listen: { host: 127.0.0.1, port: ${o.port ?? 0}, path: /agent }
${o.tls ?? ''}
${o.extra ?? ''}
tenants:
  "1":
    apiTokens: ['${hashes.token1}']
    agents:
      - userName: agent
        passwordHash: ${hashes.agent}
`);
}

/** No stack trace, no raw error object: what a service manager's journal shows. */
function expectNoStack(r: { stderr: string }): void {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toMatch(/Error:/);
}

/** The one stderr line of a listen failure. */
function oneLine(r: RunResult): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

describe('datasync-hub: the files of its configuration', () => {
  it('a missing tls.cert: check and run exit 2 with FILE:LINE:COL: tls.cert', async () => {
    const missing = join(env.dir, 'missing-cert.pem');
    const file = hubYaml({ tls: `tls:\n  cert: ${missing}\n  key: ${env.pki.server.keyFile}` });
    const expected = `${file}:4:9: tls.cert: cannot read ${missing}: no such file (ENOENT)`;
    const [check, run] = await Promise.all([runCli(HUB_BIN, ['check', '--config', file]), runCli(HUB_BIN, ['run', '--config', file])]);
    for (const r of [check, run]) {
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')).toContain(expected);
      expectNoStack(r);
    }
    expect(check.stdout).not.toMatch(/: OK/);
    expect(run.stdout).not.toMatch(/hub listening/);
  });

  it('a key that is not the certificate\'s: exit 2 at tls.key', async () => {
    const file = hubYaml({ tls: `tls: { cert: ${env.pki.server.certFile}, key: ${env.pki.client.keyFile} }` });
    const r = await runCli(HUB_BIN, ['check', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/\./g, '\\.')}:3:\\d+: tls\\.key: private key in .*client-key\\.pem does not belong to the certificate in .*server\\.pem`, 'm'));
  });

  it('a clientCa bundle without a CA certificate: exit 2 at tls.clientCa', async () => {
    const file = hubYaml({ tls: `tls: { cert: ${env.pki.server.certFile}, key: ${env.pki.server.keyFile}, clientCa: ${env.pki.client.certFile} }` });
    const r = await runCli(HUB_BIN, ['check', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/: tls\.clientCa: .*client\.pem holds no CA certificate/);
  });

  it('usable files: check is OK; a certificate expiring within 30 days is a warning on stderr, exit 0', async () => {
    // The test PKI's server certificate is valid for 30 days from now.
    const file = hubYaml({ tls: `tls: { cert: ${env.pki.server.certFile}, key: ${env.pki.server.keyFile}, clientCa: ${env.pki.ca.file} }` });
    const r = await runCli(HUB_BIN, ['check', '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: OK\n/);
    expect(r.stderr).toMatch(/: tls\.cert: warning: certificate in .*server\.pem expires in (29|30) days/);
  });
});

describe('a port already in use: one line naming the key, exit 1', () => {
  it('hub listen.port', async () => {
    const file = hubYaml({ port: busyPort });
    const r = await runCli(HUB_BIN, ['run', '--config', file]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe(
      `datasync-hub: cannot listen on 127.0.0.1:${busyPort}: the address is already in use (EADDRINUSE) — another process holds it; stop that process or change listen.port in ${file}`,
    );
    expectNoStack(r);
  });

  it('hub status.listen', async () => {
    const file = hubYaml({ extra: `status: { listen: "127.0.0.1:${busyPort}" }` });
    const r = await runCli(HUB_BIN, ['run', '--config', file]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(new RegExp(`^datasync-hub: cannot listen on 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE.* change status\\.listen in ${file.replace(/\./g, '\\.')}$`));
    expectNoStack(r);
  });

  it('agent status.listen', async () => {
    // The hub URL need not answer: the status listener is bound at start, before any hub is reached.
    const file = write(`logging: { level: info }
agent: { id: busy-agent, urls: ["ws://127.0.0.1:9/agent"], tenantId: 1, userName: agent, password: agent-secret-123 }
status: { listen: "127.0.0.1:${busyPort}" }
`);
    const r = await runCli(AGENT_BIN, ['run', '--config', file]);
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(new RegExp(`^datasync-agent: cannot listen on 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE.* change status\\.listen in ${file.replace(/\./g, '\\.')}$`));
    expectNoStack(r);
  });

  it('the demo (npm start) on a taken DEMO_HUB_PORT', async () => {
    const r = await runCli(join(ROOT, 'dist', 'src', 'cli', 'demo.js'), [], undefined, { DEMO_HUB_PORT: String(busyPort) });
    expect(r.code).toBe(1);
    expect(oneLine(r)).toMatch(new RegExp(`^datasync-demo: cannot listen on 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE.* change listen\\.port in config/demo/hub\\.yaml, or set DEMO_HUB_PORT$`));
    expectNoStack(r);
  });
});

describe('SIGTERM: the last line is `stopped`', () => {
  it('hub and agent log stopped with signal SIGTERM and exitCode 0; meanwhile a 415 names the expected type', async () => {
    const hub = startDaemon(HUB_BIN, ['run', '--config', hubYaml()]);
    const listening = await hub.waitForLog((l) => l['msg'] === 'hub listening');
    const port = listening['port'] as number;
    const agentFile = write(`logging: { level: info }
agent: { id: stop-agent, urls: ["ws://127.0.0.1:${port}/agent"], tenantId: 1, userName: agent, password: agent-secret-123 }
reconnectDelay: 200
`);
    const agent = startDaemon(AGENT_BIN, ['run', '--config', agentFile]);
    await agent.waitForLog((l) => l['msg'] === 'registered with hub');

    const post = async (path: string, type: string, body: string): Promise<{ status: number; code: string; message: string }> => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_TOKENS.tenant1}`, 'content-type': type },
        body,
      });
      return { status: res.status, ...((await res.json()) as { code: string; message: string }) };
    };
    expect(await post('/v1/data-sources/any/search', 'text/plain', 'filter')).toEqual({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'Content-Type "text/plain" is not accepted here: send Content-Type: application/json',
      retryable: false,
      requestId: expect.any(String) as unknown,
    });
    expect((await post('/v1/data-sources/any/export', 'application/json', '[]')).message).toBe(
      'Content-Type "application/json" is not accepted here: send Content-Type: application/x-ndjson',
    );

    expect(await agent.stop('SIGTERM')).toBe(0);
    expect(await hub.stop('SIGTERM')).toBe(0);
    for (const d of [agent, hub]) {
      expect(d.logs.at(-1)).toMatchObject({ msg: 'stopped', signal: 'SIGTERM', exitCode: 0 });
      expect(d.stderr()).toBe('');
    }
  });
});

describe('data sources tested at start-up (testOnStart, on by default)', () => {
  it('a directory that is down: one warn line naming the source at start, the agent registers anyway, a request tries again', async () => {
    const hub = startDaemon(HUB_BIN, ['run', '--config', hubYaml()]);
    const port = (await hub.waitForLog((l) => l['msg'] === 'hub listening'))['port'] as number;
    const down = await freePort();
    const agentFile = write(`logging: { level: info }
agent: { id: tested-agent, urls: ["ws://127.0.0.1:${port}/agent"], tenantId: 1, userName: agent, password: agent-secret-123 }
reconnectDelay: 200
dataSources:
  corp:
    type: ldap
    url: ldap://127.0.0.1:${down}
    bindDN: cn=agent,dc=example,dc=com
    bindPassword: \${CORP_BIND_PASSWORD}
    baseDN: dc=example,dc=com
    operations: [test, search]
`);
    const agent = startDaemon(AGENT_BIN, ['run', '--config', agentFile], { CORP_BIND_PASSWORD: 'corp-bind-secret-77' });
    const warn = await agent.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('data source corp failed its start-up test'));
    expect(warn).toMatchObject({ level: 40, dataSource: 'corp', requestId: 'startup-test', code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    await agent.waitForLog((l) => l['msg'] === 'registered with hub');

    const res = await fetch(`http://127.0.0.1:${port}/v1/data-sources/corp/test`, { method: 'POST', headers: { authorization: `Bearer ${API_TOKENS.tenant1}` } });
    expect({ status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({ status: 502, code: 'UPSTREAM_UNAVAILABLE' });
    // The request tried the directory again: a second warn line, from the request this time.
    await agent.waitForLog((l) => l['level'] === 40 && l['dataSource'] === 'corp' && l['requestId'] !== 'startup-test' && l['code'] === 'UPSTREAM_UNAVAILABLE');
    expect(agent.logs.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('data source corp failed its start-up test'))).toHaveLength(1);

    expect(await agent.stop('SIGTERM')).toBe(0);
    expect(await hub.stop('SIGTERM')).toBe(0);
    expect(JSON.stringify(agent.logs)).not.toContain('corp-bind-secret-77');
  });
});
