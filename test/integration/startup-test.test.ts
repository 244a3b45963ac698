/**
 * `testOnStart` against a real OpenLDAP: an agent with three LDAP sources — one good, one with a
 * wrong bind password, one whose directory is down — tests each once as it starts. The good one
 * is logged at info with the server that answered; the two others at warn, naming the source
 * and the code (what `journalctl -p warning` shows), never the password. The agent registers and
 * serves anyway, `/readyz`'s detail shows each outcome, and a later request tries the refused
 * source again (slapd logs a second bind). With `testOnStart: false` no source is tested.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryAdapter } from '../helpers/memory-adapter.js';
import { basicAgentYaml, isState, makeEnv, memoryDataSourceYaml, startAgent, startHub, type Env, type RunningHub, type TestAgent } from '../helpers/relay-env.js';
import { freePort, printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';

const WRONG_PASSWORD = 'not-the-reader-password';

let env: Env;
let slapd: Slapd;
let hub: RunningHub;
const agents: TestAgent[] = [];

printSlapdLogOnFailure(() => slapd);

beforeAll(async () => {
  env = makeEnv();
  slapd = await startSlapd({ entries: 10 });
  hub = await startHub(env);
}, 120_000);

afterAll(async () => {
  for (const a of agents) a.stop();
  await hub?.close();
  await slapd?.dispose();
  env?.cleanup();
});

type LogRecord = Record<string, unknown>;
const linesOf = (agent: TestAgent, dataSource: string): LogRecord[] =>
  agent.logs.records().filter((r) => r['requestId'] === 'startup-test' && r['dataSource'] === dataSource && typeof r['msg'] === 'string' && r['msg'].startsWith(`data source ${dataSource} `));

/** Binds slapd logged for `dn` since byte `from`. */
const bindsOf = (dn: string, from = 0): number => slapd.log(from).split('\n').filter((l) => l.includes(` BIND dn="${dn}"`)).length;

describe('each data source tested once at start-up (testOnStart)', () => {
  it('good at info, refused credentials and a directory that is down at warn; the agent registers and serves; requests try again', async () => {
    const down = await freePort();
    const from = slapd.logSize();
    const agent = startAgent(
      env,
      basicAgentYaml(env, [hub.url]),
      `testOnStart: true
dataSources:
  good:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${slapd.adminPassword}
    baseDN: ${slapd.baseDN}
    operations: [test, search]
  refused:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.readerDN}
    bindPassword: ${WRONG_PASSWORD}
    baseDN: ${slapd.baseDN}
    operations: [test, search]
  unreachable:
    type: ldap
    url: ldap://127.0.0.1:${down}
    baseDN: ${slapd.baseDN}
    operations: [search]
`,
    );
    agents.push(agent);
    await agent.statuses.next(isState('registered'), 30_000);

    const [good, refused, unreachable] = await vi.waitFor(
      () => {
        const found = (['good', 'refused', 'unreachable'] as const).map((name) => linesOf(agent, name));
        if (found.some((l) => l.length === 0)) throw new Error(`start-up test lines so far: ${JSON.stringify(found)}`);
        return found as [LogRecord[], LogRecord[], LogRecord[]];
      },
      { timeout: 60_000, interval: 20 },
    );
    // Exactly one line each: one test per source, no retry loop.
    expect([good.length, refused.length, unreachable.length]).toEqual([1, 1, 1]);
    expect(good[0]).toMatchObject({ level: 30, msg: 'data source good tested at start-up: ok', url: slapd.url, boundAs: slapd.adminDN });
    expect(refused[0]).toMatchObject({ level: 40, code: 'UPSTREAM_AUTH_FAILED', retryable: false });
    expect(refused[0]!['msg']).toMatch(/^data source refused failed its start-up test: UPSTREAM_AUTH_FAILED: .+\(the agent keeps running; requests will try it again\)$/);
    expect(unreachable[0]).toMatchObject({ level: 40, code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    expect(unreachable[0]!['msg']).toContain(`127.0.0.1:${down}`);
    expect(agent.logs.text()).not.toContain(WRONG_PASSWORD);
    expect(bindsOf(slapd.readerDN, from)).toBe(1);

    // /readyz: ready (hub sessions), each outcome in the detail.
    const readiness = agent.agent.readiness();
    expect(readiness.ready).toBe(true);
    expect((readiness.detail as Record<string, unknown>)['startupTests']).toMatchObject({
      good: { status: 'ok', answer: { url: slapd.url, boundAs: slapd.adminDN } },
      refused: { status: 'failed', code: 'UPSTREAM_AUTH_FAILED', retryable: false },
      unreachable: { status: 'failed', code: 'UPSTREAM_UNAVAILABLE', retryable: true },
    });

    // Serving: the good source answers through the hub; the refused one is tried again.
    await expect(hub.hub.request({ tenantId: '1', dataSource: 'good', op: 'test', timeoutMs: 30_000 })).resolves.toMatchObject({ ok: true });
    await expect(hub.hub.request({ tenantId: '1', dataSource: 'refused', op: 'test', timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'UPSTREAM_AUTH_FAILED' });
    await vi.waitFor(() => expect(bindsOf(slapd.readerDN, from)).toBe(2), { timeout: 30_000, interval: 20 });
    agent.stop();
  }, 120_000);

  it('testOnStart: true tests every source as start() runs; false tests none (counted on the adapter)', async () => {
    const on = memoryAdapter();
    const onAgent = startAgent(env, basicAgentYaml(env, [hub.url], ''), `testOnStart: true\n${memoryDataSourceYaml(['get'])}`, { adapters: new Map([['mem', on]]) });
    agents.push(onAgent);
    // Subscribed synchronously by start(): counted before any hub traffic.
    expect(on.counts.tests).toBe(1);
    await onAgent.statuses.next(isState('registered'), 30_000);
    await vi.waitFor(() => expect((onAgent.agent.readiness().detail as Record<string, unknown>)['startupTests']).toMatchObject({ mem: { status: 'ok', answer: {} } }));
    onAgent.stop();

    const off = memoryAdapter();
    const offAgent = startAgent(env, basicAgentYaml(env, [hub.url], ''), `testOnStart: false\n${memoryDataSourceYaml(['get', 'test'])}`, { adapters: new Map([['mem', off]]) });
    agents.push(offAgent);
    await offAgent.statuses.next(isState('registered'), 30_000);
    await expect(hub.hub.request({ tenantId: '1', dataSource: 'mem', op: 'get', params: { index: 3 }, timeoutMs: 30_000 })).resolves.toMatchObject({ index: 3 });
    expect(off.counts.tests).toBe(0);
    expect(offAgent.agent.readiness().detail).not.toHaveProperty('startupTests');
    // A test the hub asks for still runs: the switch is about start-up only.
    await expect(hub.hub.request({ tenantId: '1', dataSource: 'mem', op: 'test', timeoutMs: 30_000 })).resolves.toMatchObject({ ok: true });
    expect(off.counts.tests).toBe(1);
    offAgent.stop();
  }, 120_000);
});
