/**
 * The agent behind a real forward proxy: a private tinyproxy (Basic proxy auth, `ConnectPort`)
 * between the agent and a TLS hub. Registration through it, every refusal classified
 * (`PROXY_FAILED` with the proxy's status, never blamed on the hub) in the running agent's
 * status and logs and in `datasync-agent check`, the hub's own 401 through a working proxy, a
 * proxy restart, `NO_PROXY=127.0.0.0/8`, and proxy passwords that never reach any output.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, runCli, startDaemon, type RunResult } from '../helpers/cli.js';
import { basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub, type TestAgent } from '../helpers/relay-env.js';
import { freePort } from '../helpers/slapd.js';
import { startTinyproxy, type Tinyproxy } from '../helpers/tinyproxy.js';

const PROXY_USER = 'proxyuser';
const PROXY_PASSWORD = 'Tiny-pr0xy-s3cret';
const WRONG_PROXY_PASSWORD = 'Wr0ng-pr0xy-guess';
const HUB_PASSWORD = 'agent-secret-123';

let env: Env;
let hub: RunningHub;
let proxy: Tinyproxy;
/** A port nothing listens on, allowed by `ConnectPort`: the proxy answers 500. */
let closedPort: number;
/** A port `ConnectPort` does not allow: the proxy answers 403. */
let forbiddenPort: number;
const agents: TestAgent[] = [];

beforeAll(async () => {
  env = makeEnv();
  hub = await startHub(env);
  [closedPort, forbiddenPort] = [await freePort(), await freePort()];
  proxy = await startTinyproxy({ auth: { user: PROXY_USER, password: PROXY_PASSWORD }, connectPorts: [hub.port, closedPort] });
});
afterAll(async () => {
  for (const a of agents) a.stop();
  await proxy?.dispose();
  await hub?.close();
  env?.cleanup();
});

const withPassword = (url: string, password: string): string => url.replace(`:${encodeURIComponent(PROXY_PASSWORD)}@`, `:${encodeURIComponent(password)}@`);
const masked = (): string => `http://***:***@127.0.0.1:${proxy.port}`;

function agentWith(urls: string[], more: string, password = HUB_PASSWORD): TestAgent {
  const yaml = basicAgentYaml(env, urls, more).replace(`password: ${HUB_PASSWORD}`, `password: ${password}`);
  const a = startAgent(env, yaml);
  agents.push(a);
  return a;
}

/** Every line a test can see: the agent's and the hub's logs and tinyproxy's log. */
function everyOutput(a: TestAgent): string {
  return [a.logs.text(), hub.logs.text(), proxy.log()].join('\n');
}

describe('the running agent through tinyproxy', () => {
  it('registers through tinyproxy with Basic proxy auth; every attempt logs "via proxy" (masked)', async () => {
    const before = proxy.connects().length;
    const a = agentWith([hub.url], `  proxy: ${proxy.authUrl}\n`);
    await a.statuses.next(isState('registered'));
    expect(proxy.connects().slice(before)).toContain(`127.0.0.1:${hub.port}`);
    const via = a.logs.records().filter((r) => r['msg'] === `connecting to hub via proxy ${masked()}`);
    expect(via).toHaveLength(1);
    expect(via[0]).toMatchObject({ level: 30, proxy: masked(), url: hub.url, attempt: 1 });
    expect(everyOutput(a)).not.toContain(PROXY_PASSWORD);
    a.stop();
  });

  // [case, proxy URL, hub URL, expected reason] — the status code the proxy gives in the reason.
  const refusals: Array<[string, () => string, () => string, RegExp]> = [
    ['wrong proxy password (tinyproxy: 401)', () => withPassword(proxy.authUrl, WRONG_PROXY_PASSWORD), () => hub.url, /HTTP 401 Unauthorized.*did not accept the credentials in the proxy URL/],
    ['no proxy credentials (407)', () => proxy.url, () => hub.url, /HTTP 407 Proxy Authentication Required.*did not accept the credentials/],
    ['port not allowed by ConnectPort (403)', () => proxy.authUrl, () => `wss://127.0.0.1:${forbiddenPort}/agent`, /HTTP 403 Access violation.*rules forbid a tunnel to 127\.0\.0\.1:\d+/],
    ['hub down behind the proxy (500)', () => proxy.authUrl, () => `wss://127.0.0.1:${closedPort}/agent`, /HTTP 500 Unable to connect.*could not reach the hub at 127\.0\.0\.1:\d+/],
  ];
  it.each(refusals)('%s: disconnected PROXY_FAILED naming the proxy (masked), at every attempt', async (_case, proxyUrl, hubUrl, reason) => {
    const a = agentWith([hubUrl()], `  proxy: ${proxyUrl()}\n`);
    const first = await a.statuses.next(isState('disconnected'));
    const second = await a.statuses.next(isState('disconnected'));
    for (const d of [first, second]) {
      expect(d.status).toMatchObject({ code: 'PROXY_FAILED' });
      const why = d.status.state === 'disconnected' ? d.status.reason : '';
      expect(why).toMatch(reason);
      expect(why).toContain(`proxy ${proxyUrl().includes('@') ? masked() : proxy.url} refused CONNECT`);
    }
    const logged = a.logs.records().filter((r) => r['msg'] === 'disconnected from hub');
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(logged[0]).toMatchObject({ code: 'PROXY_FAILED' });
    expect(a.logs.records().filter((r) => String(r['msg']).startsWith('connecting to hub via proxy')).length).toBeGreaterThanOrEqual(2);
    expect(everyOutput(a)).not.toContain(PROXY_PASSWORD);
    expect(everyOutput(a)).not.toContain(WRONG_PROXY_PASSWORD);
    a.stop();
  });

  it('proxy down (nothing listens on its port): PROXY_FAILED naming the proxy and ECONNREFUSED', async () => {
    const down = `http://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${closedPort}`;
    const a = agentWith([hub.url], `  proxy: ${down}\n`);
    const d = await a.statuses.next(isState('disconnected'));
    expect(d.status).toMatchObject({ code: 'PROXY_FAILED' });
    expect(d.status.state === 'disconnected' && d.status.reason).toMatch(
      new RegExp(`^proxy http://\\*\\*\\*:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort} did not open a tunnel to 127\\.0\\.0\\.1:${hub.port}: connect ECONNREFUSED .*: the proxy is not reachable`),
    );
    expect(a.logs.text()).not.toContain(PROXY_PASSWORD);
    a.stop();
  });

  it("the hub's own 401 through a working proxy stays HTTP_401 (rejected), not a proxy failure", async () => {
    const a = agentWith([hub.url], `  proxy: ${proxy.authUrl}\n`, 'not-the-hub-password');
    const r = await a.statuses.next(isState('rejected'));
    expect(r.status).toMatchObject({ code: 'HTTP_401' });
    expect(r.status.state === 'rejected' && r.status.reason).toMatch(/check agent\.userName\/password/);
    a.stop();
  });

  it('reconnects after tinyproxy is stopped and started again on the same port', async () => {
    const a = agentWith([hub.url], `  proxy: ${proxy.authUrl}\n`);
    await a.statuses.next(isState('registered'));
    const { port, dir } = proxy;
    await proxy.stop();
    await a.statuses.next(isState('disconnected'));
    // While it is down every attempt fails at the proxy.
    const whileDown = await a.statuses.next(isState('disconnected'));
    expect(whileDown.status).toMatchObject({ code: 'PROXY_FAILED' });
    proxy = await startTinyproxy({ auth: { user: PROXY_USER, password: PROXY_PASSWORD }, connectPorts: [hub.port, closedPort], port }, dir);
    await a.statuses.next(isState('registered'), 20_000);
    expect(hub.hub.registry.agents('1').length).toBeGreaterThanOrEqual(1);
    a.stop();
  });

  it('noProxy 127.0.0.0/8 (a CIDR) is honoured: direct, no CONNECT at the proxy, no "via proxy" line', async () => {
    const before = proxy.connects().length;
    const a = agentWith([hub.url], `  proxy: ${proxy.authUrl}\n  noProxy: 127.0.0.0/8\n`);
    await a.statuses.next(isState('registered'));
    expect(proxy.connects().slice(before)).toEqual([]);
    expect(a.logs.text()).not.toContain('via proxy');
    a.stop();
  });
});

// ---------------------------------------------------------------------------------------------
// The CLI processes, as an operator runs them.

function agentFile(o: { proxy?: string; urls?: string[]; password?: string; level?: string }): string {
  const yaml = `logging: { level: ${o.level ?? 'info'} }
agent:
  id: site-a-1
  urls: [${(o.urls ?? [hub.url]).join(', ')}]
  tenantId: 1
  userName: agent
  password: ${o.password ?? HUB_PASSWORD}
  trustStore: ${env.pki.ca.file}
${o.proxy === undefined ? '' : `  proxy: ${JSON.stringify(o.proxy)}\n`}reconnectDelay: 300
maxReconnectDelay: 2000
`;
  const file = join(env.dir, `fwd-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

function hubRow(r: RunResult): { result: string; detail: string } {
  const lines = r.stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('CHECK '));
  const header = lines[start];
  const line = lines.slice(start + 1).find((l) => l.startsWith('hub '));
  if (header === undefined || line === undefined) throw new Error(`no hub row in:\n${r.stdout}\n${r.stderr}`);
  return { result: line.slice(header.indexOf('RESULT'), header.indexOf('DETAIL')).trim(), detail: line.slice(header.indexOf('DETAIL')).trim() };
}

const check = (file: string, envVars: NodeJS.ProcessEnv = {}): Promise<RunResult> => runCli(AGENT_BIN, ['check', '--config', file, '--timeout', '8000'], undefined, envVars);

describe('datasync-agent check through tinyproxy', () => {
  const cases: Array<[string, () => { proxy: string; urls?: string[]; password?: string }, string, RegExp]> = [
    ['OK through the proxy', () => ({ proxy: proxy.authUrl }), 'OK', /Basic auth as agent accepted; via proxy http:\/\/proxyuser:\*\*\*@127\.0\.0\.1:\d+$/],
    ['wrong proxy password', () => ({ proxy: withPassword(proxy.authUrl, WRONG_PROXY_PASSWORD) }), 'FAIL PROXY_FAILED', /HTTP 401 Unauthorized.*credentials in the proxy URL/],
    ['no proxy credentials', () => ({ proxy: proxy.url }), 'FAIL PROXY_FAILED', /HTTP 407 Proxy Authentication Required/],
    ['port forbidden by the proxy', () => ({ proxy: proxy.authUrl, urls: [`wss://127.0.0.1:${forbiddenPort}/agent`] }), 'FAIL PROXY_FAILED', /HTTP 403 Access violation.*forbid a tunnel/],
    ['hub down behind the proxy', () => ({ proxy: proxy.authUrl, urls: [`wss://127.0.0.1:${closedPort}/agent`] }), 'FAIL PROXY_FAILED', /HTTP 500 Unable to connect.*could not reach the hub/],
    ['proxy down', () => ({ proxy: `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${closedPort}` }), 'FAIL PROXY_FAILED', /did not open a tunnel.*ECONNREFUSED/],
    ["the hub's 401 through the proxy", () => ({ proxy: proxy.authUrl, password: 'not-the-hub-password' }), 'FAIL HTTP_401', /check agent\.userName\/password/],
  ];
  it.each(cases)('%s → %s', async (_case, setup, result, detail) => {
    const r = await check(agentFile(setup()));
    const row = hubRow(r);
    expect(row.result).toBe(result);
    expect(row.detail).toMatch(detail);
    expect(r.code).toBe(result === 'OK' ? 0 : 1);
    expect(r.stdout + r.stderr + proxy.log()).not.toMatch(new RegExp(`${PROXY_PASSWORD}|${WRONG_PROXY_PASSWORD}`));
  });

  it('HTTPS_PROXY with NO_PROXY=127.0.0.0/8: direct, no CONNECT at the proxy', async () => {
    const before = proxy.connects().length;
    const r = await check(agentFile({}), { HTTPS_PROXY: proxy.authUrl, NO_PROXY: '127.0.0.0/8' });
    expect(hubRow(r)).toMatchObject({ result: 'OK' });
    expect(hubRow(r).detail).toMatch(/; direct$/);
    expect(proxy.connects().slice(before)).toEqual([]);
    const via = await check(agentFile({}), { HTTPS_PROXY: proxy.authUrl });
    // check shows the proxy's user, never its password (masked by key: the URL carries one).
    expect(hubRow(via).detail).toMatch(/via proxy http:\/\/proxyuser:\*\*\*@127/);
    expect(proxy.connects().slice(before)).toEqual([`127.0.0.1:${hub.port}`]);
  });
});

describe('the agent process with a proxy from the environment', () => {
  it('HTTPS_PROXY + NO_PROXY=127.0.0.0/8: registers directly (no CONNECT at the proxy)', async () => {
    const before = proxy.connects().length;
    const d = startDaemon(AGENT_BIN, ['run', '--config', agentFile({})], { HTTPS_PROXY: proxy.authUrl, NO_PROXY: '127.0.0.0/8' });
    try {
      await d.waitForLog((l) => l['msg'] === 'registered with hub');
      expect(proxy.connects().slice(before)).toEqual([]);
      expect(d.logs.some((l) => String(l['msg']).includes('via proxy'))).toBe(false);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });

  it('HTTPS_PROXY alone: registers through the proxy and says so at info', async () => {
    const before = proxy.connects().length;
    const d = startDaemon(AGENT_BIN, ['run', '--config', agentFile({})], { HTTPS_PROXY: proxy.authUrl });
    try {
      await d.waitForLog((l) => l['msg'] === 'registered with hub');
      expect(d.logs.find((l) => l['msg'] === `connecting to hub via proxy ${masked()}`)).toMatchObject({ level: 30 });
      expect(proxy.connects().slice(before)).toEqual([`127.0.0.1:${hub.port}`]);
    } finally {
      await d.stop();
    }
    expect(JSON.stringify(d.logs) + d.stderr()).not.toContain(PROXY_PASSWORD);
  });
});

describe('proxy passwords never shown', () => {
  const SLASHED = 'se/cret-Pw9';
  const leakedIn = (text: string): boolean => /se\/cret|cret-Pw9/.test(text);

  it('HTTPS_PROXY with an unencoded / in the password: run exits 2 naming HTTPS_PROXY, nothing of the password anywhere', async () => {
    const bad = `http://u:${SLASHED}@127.0.0.1:${proxy.port}`;
    const r = await runCli(AGENT_BIN, ['run', '--config', agentFile({ level: 'trace' })], undefined, { HTTPS_PROXY: bad });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^datasync-agent: invalid configuration: HTTPS_PROXY: not a valid URL: percent-encode special characters/m);
    expect(r.stderr).toContain(`got "http://***:***@127.0.0.1:${proxy.port}"`);
    // The fatal log line: JSON with the error's fields, none of them the URL in clear.
    const fatal = r.stdout.split('\n').filter((l) => l.includes('"level":60'));
    expect(fatal).toHaveLength(1);
    expect(JSON.parse(fatal[0]!)).toMatchObject({ err: { type: 'ProxyConfigError', source: 'HTTPS_PROXY', code: 'CONFIG_INVALID' } });
    expect(leakedIn(r.stdout + r.stderr)).toBe(false);
  });

  it('the same in check: FAIL CONFIG_INVALID naming HTTPS_PROXY, exit 2', async () => {
    const r = await check(agentFile({}), { HTTPS_PROXY: `http://u:${SLASHED}@127.0.0.1:${proxy.port}` });
    expect(r.code).toBe(2);
    expect(hubRow(r)).toMatchObject({ result: 'FAIL CONFIG_INVALID' });
    expect(hubRow(r).detail).toMatch(/^HTTPS_PROXY: not a valid URL/);
    expect(leakedIn(r.stdout + r.stderr)).toBe(false);
  });

  it('agent.proxy: http://user:p@ss:w/rd@host in the file: exit 2, FILE:LINE:COL, password masked whole (run and check)', async () => {
    const file = agentFile({ proxy: 'http://user:p@ss:w/rd@proxy.example' });
    for (const command of ['run', 'check']) {
      const r = await runCli(AGENT_BIN, [command, '--config', file]);
      expect(r.code, command).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:9:\\d+: agent\\.proxy: expected http:// or https:// proxy URL`));
      expect(r.stderr).toContain('got "http://user:***@proxy.example"');
      expect(r.stdout + r.stderr).not.toMatch(/ss:w|w\/rd|p@ss/);
    }
  });
});
