/**
 * `datasync-agent check` against real components (docs/architecture.md, "Testing"): a TLS hub started in-process on
 * port 0 and a private slapd, the built CLI spawned as an operator runs it. Plus the deployment
 * files, which must keep pointing at what the build produces.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAgentConfig } from '../../src/config/index.js';
import { AGENT_BIN, HUB_BIN, ROOT, runCli, type RunResult } from '../helpers/cli.js';
import { startConnectProxy } from '../helpers/connect-proxy.js';
import { basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub } from '../helpers/relay-env.js';
import { freePort, printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';

const HUB_PASSWORD = 'agent-secret-123';
const SYSTEMD_ANALYZE = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;

let env: Env;
let hub: RunningHub;
let slapd: Slapd;

beforeAll(async () => {
  env = makeEnv();
  [hub, slapd] = await Promise.all([startHub(env), startSlapd({ entries: 20 })]);
});
afterAll(async () => {
  await hub?.close();
  await slapd?.dispose();
  env?.cleanup();
});
printSlapdLogOnFailure(() => slapd);

interface AgentFile {
  urls?: string[];
  password?: string;
  /** `agent:` keys replacing the Basic credentials, e.g. a key store. */
  auth?: string;
  trustStore?: string | null;
  bindPassword?: string;
  proxy?: string;
  noDataSources?: boolean;
}

/** Writes an agent config for the running hub and slapd; the options break one thing at a time. */
function agentConfig(o: AgentFile = {}): string {
  const trust = o.trustStore === null ? '' : `  trustStore: ${o.trustStore ?? env.pki.ca.file}\n`;
  const auth = o.auth ?? `  userName: agent\n  password: ${o.password ?? HUB_PASSWORD}\n`;
  const proxy = o.proxy === undefined ? '' : `  proxy: ${o.proxy}\n`;
  const sources = o.noDataSources
    ? ''
    : `dataSources:
  directory:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.readerDN}
    bindPassword: ${o.bindPassword ?? slapd.readerPassword}
    baseDN: ${slapd.baseDN}
`;
  const yaml = `logging: { level: warn }
agent:
  id: site-a-1
  urls: [${(o.urls ?? [hub.url]).join(', ')}]
  tenantId: 1
${auth}${trust}${proxy}${sources}`;
  const file = join(env.dir, `check-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

interface Row {
  check: string;
  target: string;
  result: string;
  detail: string;
}

/** Parses the table by the header's column offsets. */
function tableOf(r: RunResult): Row[] {
  const lines = r.stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('CHECK '));
  if (start < 0) throw new Error(`no table in:\n${r.stdout}\n${r.stderr}`);
  const header = lines[start]!;
  const at = (name: string): number => header.indexOf(name);
  const [t, res, d] = [at('TARGET'), at('RESULT'), at('DETAIL')];
  const rows: Row[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    rows.push({
      check: line.slice(0, t).trim(),
      target: line.slice(t, res).trim(),
      result: line.slice(res, d).trim(),
      detail: line.slice(d).trim(),
    });
  }
  return rows;
}

const check = (file: string, ...more: string[]): Promise<RunResult> => runCli(AGENT_BIN, ['check', '--config', file, ...more]);
const row = (r: RunResult, kind: string): Row => {
  const found = tableOf(r).find((x) => x.check === kind);
  if (!found) throw new Error(`no ${kind} row in:\n${r.stdout}`);
  return found;
};

describe('datasync-agent check (live)', () => {
  it('all OK: summary first, then one OK row per hub URL and data source, exit 0, no secret printed', async () => {
    const r = await check(agentConfig());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.indexOf(': OK\n')).toBeLessThan(r.stdout.indexOf('CHECK '));
    const rows = tableOf(r);
    expect(rows).toHaveLength(2);
    expect(row(r, 'hub')).toMatchObject({ target: hub.url, result: 'OK' });
    expect(row(r, 'hub').detail).toMatch(/^\d+ ms; HTTP 101 datasync\.v1; TLSv1\.[23] certificate CN=localhost, expires in \d+ days; Basic auth as agent accepted; direct$/);
    expect(row(r, 'data source')).toMatchObject({ target: 'directory (ldap)', result: 'OK' });
    expect(row(r, 'data source').detail).toMatch(new RegExp(`^\\d+ ms; ${slapd.url}; bound as ${slapd.readerDN}`));
    expect(r.stdout).toMatch(/all 2 checks OK/);
    expect(r.stdout).not.toContain(HUB_PASSWORD);
    expect(r.stdout).not.toContain(slapd.readerPassword);
  });

  it('does not register: a running agent with the same id stays registered, the hub sees no hello', async () => {
    const running = startAgent(env, basicAgentYaml(env, [hub.url]));
    try {
      await running.statuses.next(isState('registered'));
      const [link] = hub.hub.registry.agents('1');
      expect(link).toBeDefined();
      const r = await check(agentConfig({ noDataSources: true }));
      expect(r.code).toBe(0);
      // The check waits for the hub's answer to its close frame before it exits, and the hub
      // reads a socket in order: a hello sent before the close would have been handled by now
      // (registering synchronously and replacing the running agent's link).
      expect(hub.hub.registry.agents('1')).toEqual([link]);
      expect(hub.logs.records().filter((l) => l['msg'] === 'agent re-registered: closing the stale connection')).toEqual([]);
      expect(running.statuses.all.at(-1)?.status.state).toBe('registered');
    } finally {
      running.stop();
    }
  });

  it('client certificate instead of Basic: OK', async () => {
    const r = await check(agentConfig({ auth: `  keyStore: ${env.pki.client.p12File}\n  keyStorePassword: ${env.pki.client.p12Password}\n`, noDataSources: true }));
    expect(r.code).toBe(0);
    expect(row(r, 'hub').detail).toMatch(/client certificate accepted/);
    expect(r.stdout).not.toContain(env.pki.client.p12Password);
  });

  it('wrong hub password: FAIL HTTP_401 with the hub reason, exit 1, password not printed', async () => {
    const r = await check(agentConfig({ password: 'not-the-password', noDataSources: true }));
    expect(r.code).toBe(1);
    const hubRow = row(r, 'hub');
    expect(hubRow.result).toBe('FAIL HTTP_401');
    expect(hubRow.detail).toMatch(/HTTP 401 Unauthorized: the hub did not accept the credentials.*hub says: invalid credentials for user "agent"/);
    expect(r.stdout).toMatch(/1 of 1 checks FAILED/);
    expect(r.stdout).not.toContain('not-the-password');
  });

  it('hub certificate from an untrusted CA: FAIL TLS_FAILED', async () => {
    const r = await check(agentConfig({ trustStore: env.pki.otherCa.file, noDataSources: true }));
    expect(r.code).toBe(1);
    expect(row(r, 'hub')).toMatchObject({ result: 'FAIL TLS_FAILED' });
    expect(row(r, 'hub').detail).toMatch(/not trusted: add its CA to agent\.trustStore/);
  });

  it('hub port closed: FAIL CONNECT_FAILED, connection refused', async () => {
    const port = await freePort();
    const r = await check(agentConfig({ urls: [`wss://127.0.0.1:${port}/agent`], noDataSources: true }));
    expect(r.code).toBe(1);
    expect(row(r, 'hub')).toMatchObject({ result: 'FAIL CONNECT_FAILED' });
    expect(row(r, 'hub').detail).toMatch(/ECONNREFUSED.*connection refused: nothing listens/);
  });

  it('wrong path: FAIL HTTP_ERROR 404 naming agent.urls', async () => {
    const r = await check(agentConfig({ urls: [hub.url.replace(/\/agent$/, '/agents')], noDataSources: true }));
    expect(r.code).toBe(1);
    expect(row(r, 'hub')).toMatchObject({ result: 'FAIL HTTP_ERROR' });
    expect(row(r, 'hub').detail).toMatch(/HTTP 404 .*check the path in agent\.urls.*no agent endpoint at \/agents/);
  });

  it('a hub that never answers: FAIL CONNECT_TIMEOUT within --timeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const r = await check(agentConfig({ urls: [`wss://127.0.0.1:${port}/agent`], noDataSources: true }), '--timeout', '500');
      expect(r.code).toBe(1);
      expect(row(r, 'hub')).toMatchObject({ result: 'FAIL CONNECT_TIMEOUT' });
      expect(row(r, 'hub').detail).toMatch(/within 500 ms/);
      // check gave up on its own (the process exited, above) and reached the silent hub first.
      expect(sockets.length).toBeGreaterThanOrEqual(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('through a CONNECT proxy: OK via the proxy (credentials masked); wrong proxy credentials: FAIL PROXY_FAILED', async () => {
    const proxy = await startConnectProxy({ auth: { username: 'proxyuser', password: 'proxy-pass-789' } });
    try {
      const ok = await check(agentConfig({ proxy: proxy.authUrl, noDataSources: true }));
      expect(ok.code).toBe(0);
      // Masked by the URL's structure: the user is shown, the password is not.
      expect(row(ok, 'hub').detail).toMatch(new RegExp(`; via proxy http://proxyuser:\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port}$`));
      expect(proxy.connects.at(-1)).toMatchObject({ target: `127.0.0.1:${hub.port}`, status: 200 });

      const refused = await check(agentConfig({ proxy: proxy.authUrl.replace('proxy-pass-789', 'wrong-proxy-pass'), noDataSources: true }));
      expect(refused.code).toBe(1);
      expect(row(refused, 'hub')).toMatchObject({ result: 'FAIL PROXY_FAILED' });
      expect(row(refused, 'hub').detail).toMatch(/HTTP 407/);
      expect(ok.stdout + refused.stdout).not.toMatch(/proxy-pass-789|wrong-proxy-pass/);
    } finally {
      await proxy.close();
    }
  });

  it('the classic defaults (userName admin, password admin, a URL ending in /idm-admin): URLs shown whole, exit 1', async () => {
    const url = `wss://127.0.0.1:${hub.port}/idm-admin`;
    const r = await check(agentConfig({ urls: [url], auth: '  userName: admin\n  password: admin\n', noDataSources: true }));
    expect(r.code).toBe(1);
    // Masked by key, not by searching "admin" in other values: no `/idm-***`, no `/idm-[REDACTED]`.
    expect(row(r, 'hub')).toMatchObject({ target: url, result: 'FAIL HTTP_ERROR' });
    expect(row(r, 'hub').detail).toMatch(/HTTP 404 .*no agent endpoint at \/idm-admin/);
    expect(r.stdout).not.toMatch(/idm-(\*\*\*|\[REDACTED\])/);
  });

  it('slapd refuses the bind password: data source FAIL UPSTREAM_AUTH_FAILED, hub still OK, exit 1', async () => {
    const r = await check(agentConfig({ bindPassword: 'wrong-bind-secret' }));
    expect(r.code).toBe(1);
    expect(row(r, 'hub').result).toBe('OK');
    expect(row(r, 'data source')).toMatchObject({ target: 'directory (ldap)', result: 'FAIL UPSTREAM_AUTH_FAILED' });
    expect(r.stdout).not.toContain('wrong-bind-secret');
  });

  it('--offline only decodes (exit 0, no table); --offline with run is a usage error', async () => {
    const r = await check(agentConfig({ password: 'not-the-password' }), '--offline');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: OK\n/);
    expect(r.stdout).not.toMatch(/^CHECK /m);
    const run = await runCli(AGENT_BIN, ['run', '--offline', '--config', agentConfig()]);
    expect(run.code).toBe(2);
    const badTimeout = await check(agentConfig(), '--timeout', 'soon');
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toMatch(/--timeout expects a positive number of milliseconds, got "soon"/);
  });

  it('--help documents check, --offline and --timeout; the hub CLI does not take them', async () => {
    const h = await runCli(AGENT_BIN, ['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/--offline/);
    expect(h.stdout).toMatch(/--timeout MS/);
    expect(h.stdout).toMatch(/without registering/);
    expect((await runCli(HUB_BIN, ['check', '--offline'])).code).toBe(2);
  });
});

describe('deployment files', () => {
  const unit = (name: string): Map<string, string> => {
    const entries = new Map<string, string>();
    for (const line of readFileSync(join(ROOT, 'deploy', 'systemd', name), 'utf8').split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
      if (m) entries.set(m[1]!, m[2]!);
    }
    return entries;
  };
  /** `/opt/datasync-agent/<path>` in a unit = `<repo>/<path>` in the built tree. */
  const installed = (execStart: string): { script: string; args: string[] } => {
    const [node, script, ...args] = execStart.split(/\s+/);
    expect(node).toMatch(/(^|\/)node$/);
    expect(script).toMatch(/^\/opt\/datasync-agent\//);
    return { script: join(ROOT, script!.slice('/opt/datasync-agent/'.length)), args };
  };

  it('the agent unit runs the built CLI with /etc/datasync-agent/application.yaml and outlasts the drain', () => {
    const u = unit('datasync-agent.service');
    const { script, args } = installed(u.get('ExecStart') ?? '');
    expect(script).toBe(AGENT_BIN);
    expect(readFileSync(script, 'utf8')).toMatch(/^#!\/usr\/bin\/env node/);
    expect(args).toEqual(['run', '--config', '/etc/datasync-agent/application.yaml']);
    expect(u.get('User')).toBe('datasync');
    expect(u.get('KillSignal')).toBe('SIGTERM');
    // SIGKILL must not cut the drain short: the unit's stop timeout is above the default grace.
    const defaults = decodeAgentConfig('agent: { urls: wss://hub.example/agent, tenantId: 1 }\n', join(ROOT, 'x.yaml'), {});
    expect(Number.parseInt(u.get('TimeoutStopSec') ?? '0', 10) * 1000).toBeGreaterThan(defaults.shutdownGracePeriod);
  });

  it('the hub unit runs the built hub CLI with /etc/datasync-hub/hub.yaml', () => {
    const { script, args } = installed(unit('datasync-hub.service').get('ExecStart') ?? '');
    expect(script).toBe(HUB_BIN);
    expect(args).toEqual(['run', '--config', '/etc/datasync-hub/hub.yaml']);
  });

  it.skipIf(!SYSTEMD_ANALYZE)('systemd-analyze verify finds no unknown or invalid settings in either unit', () => {
    for (const name of ['datasync-agent.service', 'datasync-hub.service']) {
      const r = spawnSync('systemd-analyze', ['verify', join(ROOT, 'deploy', 'systemd', name)], { encoding: 'utf8' });
      // Only the unit's own problems: a host without /usr/bin/node or the user is not the unit's fault.
      const problems = r.stderr.split('\n').filter((l) => /Unknown (key|section)|Failed to parse|Invalid|bad-setting/i.test(l));
      expect(problems, r.stderr).toEqual([]);
    }
  });

  it('the Dockerfile starts the same CLI with the same config path', () => {
    const dockerfile = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/opt\/datasync-agent\/dist\/src\/cli\/agent\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["run", "--config", "\/etc\/datasync-agent\/application\.yaml"\]$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
