/**
 * Isolation of data sources over a real hub and agent: adapters with bugs (test/fixtures/
 * faulty-sources.ts) fail their own requests with a coded INTERNAL, leaked rejections are caught
 * by the agent's process guard and attributed to their source through the async context, the
 * LDIF source next to them keeps serving, `/readyz` stays 200 and tells which source is
 * unhealthy, and the metrics count the faults. With `isolation: worker`, a throw from a timer
 * ends only the source's worker, which is restarted for the next request; a worker-isolated LDIF
 * source answers byte for byte what the same source answers in the agent's thread. Finally the
 * built agent CLI, loading the faulty source via `plugins:`, stays up after a stray rejection.
 *
 * Workers and the CLI run the BUILT code (dist/): the project's globalSetup
 * (test/helpers/fresh-dist.ts) rebuilds it first when a source is newer; the check below guards it.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { lastValueFrom, take, toArray } from 'rxjs';
import ts from 'typescript';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed, vi } from 'vitest';
import { registerDataSource } from '../../src/adapter-kit/registry.js';
import { AGENT_BIN, ROOT, startDaemon } from '../helpers/cli.js';
import { sample } from '../helpers/metrics.js';
import { basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub, type TestAgent } from '../helpers/relay-env.js';
import { crashyDataSource, FAKE_SECRET, faultyDataSource, faultyProbe } from '../fixtures/faulty-sources.js';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'faulty-sources.ts');
const BUILT_FIXTURE = join(ROOT, 'dist', 'test', 'fixtures', 'faulty-sources.js');
const LDIF = join(ROOT, 'config', 'demo', 'directory.ldif');
const LDIF_ENTRIES = (readFileSync(LDIF, 'utf8').match(/^dn:/gm) ?? []).length;

beforeAll(() => {
  for (const name of ['adapter-worker', 'worker-adapter', 'guarded-adapter', 'source-context']) {
    const built = join(ROOT, 'dist', 'src', 'pipeline', `${name}.js`);
    const source = join(ROOT, 'src', 'pipeline', `${name}.ts`);
    const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (builtAt < statSync(source).mtimeMs) throw new Error(`${built} is missing or older than its source: run \`npm run build\` first`);
  }
  // Node cannot run TypeScript: the fixture is transpiled next to where tsc would put it, so
  // its imports of src/… resolve to dist/src/… (a worker and the CLI import it from there).
  const js = ts.transpileModule(readFileSync(FIXTURE, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  mkdirSync(dirname(BUILT_FIXTURE), { recursive: true });
  writeFileSync(BUILT_FIXTURE, js.outputText);
  // Registered from the fixture's module, as `plugins:` would: a worker imports it from there.
  registerDataSource(faultyDataSource, new URL('../fixtures/faulty-sources.ts', import.meta.url).href);
  registerDataSource(crashyDataSource, new URL('../fixtures/faulty-sources.ts', import.meta.url).href);
});

const directoryYaml = (name: string, isolation?: string): string => `
  ${name}:
    type: ldif
    files: ${LDIF}
    baseDN: dc=demo,dc=example
    pageSize: 10
${isolation === undefined ? '' : `    isolation: ${isolation}\n`}`;

const DATA_SOURCES = `
dataSources:
${directoryYaml('directory')}
${directoryYaml('directory-isolated', 'worker')}    operations: [test, get, search, export]
  faulty:
    type: faulty
    operations: [test, get, schema, attributes, search]
  crashy:
    type: crashy
    operations: [test, get]
    isolation: worker
status: { listen: "127.0.0.1:0" }
`;

let env: Env;
let hub: RunningHub;
let agent: TestAgent;
let statusPort: number;
/** vitest's own unhandled-rejection listeners, set aside while the agent's guard is the process's. */
let vitestListeners: NodeJS.UnhandledRejectionListener[] = [];

beforeAll(async () => {
  env = makeEnv();
  hub = await startHub(env);
  agent = startAgent(env, basicAgentYaml(env, [hub.url]), DATA_SOURCES);
  await agent.statuses.next(isState('registered'));
  statusPort = (await agent.agent.statusAddress())?.port ?? 0;
  // The guard the agent CLI installs (process-guard.ts): here only its rejection handler —
  // an uncaught exception must still fail this test process.
  vitestListeners = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', agent.agent.processGuard.onUnhandledRejection);
});

afterAll(async () => {
  process.off('unhandledRejection', agent.agent.processGuard.onUnhandledRejection);
  for (const listener of vitestListeners) process.on('unhandledRejection', listener);
  await agent.agent.close();
  await hub.close();
  env.cleanup();
});

// The agent was started in a hook: print its log with the test that fails.
beforeEach(() => onTestFailed(() => console.error(`--- agent log ---\n${agent.logs.text()}`)));

const req = (dataSource: string) => ({ tenantId: '1', dataSource });

/** The LDIF source serves a full search: the exact count, every entry. */
async function directoryServes(dataSource = 'directory'): Promise<void> {
  const events = await lastValueFrom(hub.hub.searchEvents$({ ...req(dataSource), params: { filter: '(objectClass=*)' } }).pipe(toArray()));
  const items = events.flatMap((e) => (e.type === 'items' ? e.items : []));
  expect(items).toHaveLength(LDIF_ENTRIES);
  expect(events.at(-1)).toMatchObject({ type: 'end', count: LDIF_ENTRIES, truncated: false });
}

async function status(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${statusPort}${path}`);
  return { status: res.status, text: await res.text() };
}

/** An INTERNAL error naming the source and nothing of the adapter's own message or stack. */
function expectOpaqueInternal(err: unknown, op: string): void {
  expect(err).toMatchObject({ code: 'INTERNAL', message: `data source faulty failed unexpectedly (${op})` });
  expect(String((err as Error).message)).not.toContain(FAKE_SECRET);
}

const records = (): Array<Record<string, unknown>> => agent.logs.records();

describe('a data source with bugs, in the agent thread', () => {
  it('a synchronous throw in test is INTERNAL for that request; the LDIF source keeps serving', async () => {
    const err = await hub.hub.request({ ...req('faulty'), op: 'test' }).catch((e: unknown) => e);
    expectOpaqueInternal(err, 'test');
    // The log line names the data source and keeps the cause for the developer.
    expect(records().some((r) => r['msg'] === 'request failed unexpectedly' && r['dataSource'] === 'faulty')).toBe(true);
    await directoryServes();
  });

  it('a rejected promise-based Observable (get) is INTERNAL', async () => {
    const err = await hub.hub.request({ ...req('faulty'), op: 'get', params: { id: 1 } }).catch((e: unknown) => e);
    expectOpaqueInternal(err, 'get');
    await directoryServes();
  });

  it("an interop Observable whose subscribe throws (schema) is INTERNAL", async () => {
    const err = await hub.hub.request({ ...req('faulty'), op: 'schema' }).catch((e: unknown) => e);
    expectOpaqueInternal(err, 'schema');
    await directoryServes();
  });

  it('a stray rejection from a timer during a search is caught and attributed to the source', async () => {
    const before = agent.agent.health.record('faulty')?.unhandledRejections ?? 0;
    const events = await lastValueFrom(hub.hub.searchEvents$({ ...req('faulty'), params: { fault: 'stray' } }).pipe(toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'end', count: 20 });
    const strays = faultyProbe.straysScheduled;
    expect(strays).toBe(2);
    // Every stray rejection reached the guard, found through the async context of its search.
    await vi.waitFor(() => expect(agent.agent.health.record('faulty')?.unhandledRejections).toBe(before + strays), { timeout: 10_000, interval: 10 });
    const logged = records().filter((r) => r['msg']?.toString().startsWith('unhandled promise rejection') === true);
    expect(logged).toHaveLength(strays);
    for (const r of logged) expect(r).toMatchObject({ level: 50, dataSource: 'faulty', component: 'process-guard' });
    expect(agent.agent.processGuard.strayRejections).toBe(strays);
    await directoryServes();
  });

  it('a pooled client released twice when the hub cancels the search: caught, attributed, the agent serves on', async () => {
    const before = agent.agent.health.record('faulty')?.unhandledRejections ?? 0;
    const closesBefore = faultyProbe.searchCloses;
    // The consumer takes the first chunk and goes away: the hub cancels, the agent closes the source.
    await lastValueFrom(hub.hub.searchEvents$({ ...req('faulty'), params: { fault: 'double-release' } }, { window: 1 }).pipe(take(1)));
    await vi.waitFor(() => expect(faultyProbe.searchCloses).toBe(closesBefore + 1), { timeout: 10_000, interval: 10 });
    await vi.waitFor(() => expect(agent.agent.health.record('faulty')?.unhandledRejections).toBe(before + 1), { timeout: 10_000, interval: 10 });
    const last = records().filter((r) => r['component'] === 'process-guard').at(-1);
    expect(last).toMatchObject({ dataSource: 'faulty' });
    expect(String((last?.['err'] as { message?: unknown } | undefined)?.message)).toContain('released twice');
    await directoryServes();
  });

  it('/readyz stays 200 and shows the faulty source unhealthy, the LDIF source healthy; metrics counted', async () => {
    const ready = await status('/readyz');
    expect(ready.status).toBe(200);
    const body = JSON.parse(ready.text) as { status: string; detail: { dataSources: Record<string, Record<string, unknown>> } };
    expect(body.status).toBe('ready');
    expect(body.detail.dataSources['directory']).toMatchObject({ status: 'healthy', internalErrors: 0, unhandledRejections: 0 });
    expect(body.detail.dataSources['faulty']).toMatchObject({
      status: 'unhealthy',
      internalErrors: 3,
      unhandledRejections: 3,
      lastProblem: { kind: 'unhandled_rejection', message: 'unhandled promise rejection (Error thrown)' },
    });
    expect(ready.text).not.toContain(FAKE_SECRET);
    const text = (await status('/metrics')).text;
    expect(sample(text, 'datasync_agent_data_source_healthy', { data_source: 'faulty' })).toBe(0);
    expect(sample(text, 'datasync_agent_data_source_healthy', { data_source: 'directory' })).toBe(1);
    expect(sample(text, 'datasync_agent_data_source_faults_total', { data_source: 'faulty', kind: 'internal_error' })).toBe(3);
    expect(sample(text, 'datasync_agent_data_source_faults_total', { data_source: 'faulty', kind: 'unhandled_rejection' })).toBe(3);
    expect(sample(text, 'datasync_agent_data_source_faults_total', { data_source: 'directory', kind: 'internal_error' })).toBe(0);
  });

  it('a later successful request makes the source healthy again', async () => {
    await expect(hub.hub.request({ ...req('faulty'), op: 'attributes' })).resolves.toEqual([{ name: 'n' }]);
    expect(agent.agent.health.record('faulty')).toMatchObject({ status: 'healthy', internalErrors: 3 });
    const text = (await status('/metrics')).text;
    expect(sample(text, 'datasync_agent_data_source_healthy', { data_source: 'faulty' })).toBe(1);
  });
});

describe('isolation: worker', () => {
  it('a throw from a timer ends only the worker: INTERNAL retryable, the next request is served by a new worker', async () => {
    const err = await hub.hub.request({ ...req('crashy'), op: 'test' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERNAL', retryable: true });
    expect(String((err as Error).message)).toContain('worker restarted');
    expect(String((err as Error).message)).toContain('crashy');
    expect(String((err as Error).message)).not.toContain(FAKE_SECRET);
    expect(agent.agent.health.record('crashy')).toMatchObject({ status: 'unhealthy', workerCrashes: 1, internalErrors: 0 });

    const answer = (await hub.hub.request({ ...req('crashy'), op: 'get', params: {} })) as { threadId: number };
    expect(answer.threadId).toBeGreaterThan(0); // not the agent's main thread
    expect(records().filter((r) => r['msg'] === 'data source worker restarted' && r['dataSource'] === 'crashy')).toHaveLength(1);
    const text = (await status('/metrics')).text;
    expect(sample(text, 'datasync_agent_data_source_worker_restarts_total', { data_source: 'crashy' })).toBe(1);
    expect(sample(text, 'datasync_agent_data_source_faults_total', { data_source: 'crashy', kind: 'worker_crash' })).toBe(1);
    expect(agent.agent.health.record('crashy')?.status).toBe('healthy');
    // The agent itself never noticed: its sessions and other sources are as before.
    expect((await status('/readyz')).status).toBe(200);
    await directoryServes();
  });

  it('a worker-isolated LDIF source answers byte for byte what the in-thread one does', async () => {
    const bytesOf = async (dataSource: string): Promise<{ bytes: Buffer; end: unknown }> => {
      const events = await lastValueFrom(hub.hub.searchEvents$({ ...req(dataSource), params: { filter: '(objectClass=*)' } }).pipe(toArray()));
      const chunks = events.flatMap((e) => (e.type === 'items' && e.bytes !== undefined ? [e.bytes.ndjson()] : []));
      expect(chunks).toHaveLength(events.length - 1); // every chunk came as bytes
      return { bytes: Buffer.concat(chunks), end: events.at(-1) };
    };
    const inThread = await bytesOf('directory');
    const isolated = await bytesOf('directory-isolated');
    expect(isolated.end).toEqual({ type: 'end', count: LDIF_ENTRIES, truncated: false });
    expect(isolated.end).toEqual(inThread.end);
    expect(isolated.bytes.equals(inThread.bytes)).toBe(true);
    expect(inThread.bytes.toString('utf8').split('\n').filter((l) => l !== '')).toHaveLength(LDIF_ENTRIES);
    // get too, through the worker.
    const dn = 'uid=zangstrom,ou=people,dc=demo,dc=example';
    expect(await hub.hub.request({ ...req('directory-isolated'), op: 'get', params: { dn } })).toEqual(await hub.hub.request({ ...req('directory'), op: 'get', params: { dn } }));
  });
});

describe('isolation: worker, export', () => {
  it('records go in and results come out in order, through the worker, going on after a failed record', async () => {
    const people = 'ou=people,dc=demo,dc=example';
    const input = [
      { op: 'add', dn: `uid=isolated-1,${people}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'isolated-1', cn: 'Isolated One', sn: 'One' } },
      { op: 'add', dn: `uid=zangstrom,${people}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'zangstrom', cn: 'Duplicate', sn: 'Dup' } },
      { op: 'delete', dn: `uid=isolated-1,${people}` },
    ];
    type Result = { index: number; ok: boolean; code?: string };
    const results = (await lastValueFrom(hub.hub.export$(req('directory-isolated'), input).pipe(toArray()))).map((r) => r as Result);
    expect(results.map((r) => [r.index, r.ok])).toEqual([
      [0, true],
      [1, false],
      [2, true],
    ]);
    expect(results[1]?.code).toBe('ALREADY_EXISTS');
    expect(agent.agent.health.record('directory-isolated')).toMatchObject({ status: 'healthy', internalErrors: 0, workerCrashes: 0 });
  });
});

describe('the agent CLI', () => {
  it('stays up after a stray rejection of a plugin data source, and says which source it was', async () => {
    const yaml = `
logging: { level: info }
plugins: [${BUILT_FIXTURE}]
agent:
${basicAgentYaml(env, [hub.url]).replace('id: site-a-1', 'id: site-a-cli')}
reconnectDelay: 300
dataSources:
${directoryYaml('cli-directory')}
  cli-faulty:
    type: faulty
    operations: [test, search]
`;
    const file = join(env.dir, 'agent-cli-isolation.yaml');
    writeFileSync(file, yaml);
    const daemon = startDaemon(AGENT_BIN, ['--config', file]);
    try {
      await daemon.waitForLog((r) => r['msg'] === 'registered with hub');
      const events = await lastValueFrom(hub.hub.searchEvents$({ ...req('cli-faulty'), params: { fault: 'stray' } }).pipe(toArray()));
      expect(events.at(-1)).toMatchObject({ type: 'end', count: 20 });
      const logged = await daemon.waitForLog((r) => r['component'] === 'process-guard');
      expect(logged).toMatchObject({ level: 50, dataSource: 'cli-faulty' });
      // Still up and serving: the other source answers a full search after the rejections.
      await directoryServes('cli-directory');
      expect(daemon.child.exitCode).toBeNull();
      expect(daemon.logs.filter((r) => r['component'] === 'process-guard')).toHaveLength(2);
    } finally {
      expect(await daemon.stop('SIGTERM')).toBe(0);
    }
  });

  it('ends with exit 1 and a fatal line naming the source after an uncaught exception (no worker isolation)', async () => {
    const yaml = `
logging: { level: info }
plugins: [${BUILT_FIXTURE}]
agent:
${basicAgentYaml(env, [hub.url]).replace('id: site-a-1', 'id: site-a-cli-2')}
reconnectDelay: 300
# The crash must come from the hub's request, after registration, not from the start-up test.
testOnStart: false
dataSources:
  cli-crashy:
    type: crashy
    operations: [test, get]
`;
    const file = join(env.dir, 'agent-cli-uncaught.yaml');
    writeFileSync(file, yaml);
    const daemon = startDaemon(AGENT_BIN, ['--config', file]);
    try {
      await daemon.waitForLog((r) => r['msg'] === 'registered with hub');
      const exited = new Promise<number | null>((resolve) => daemon.child.once('exit', (code) => resolve(code)));
      // The request cannot be answered: the process that was serving it is gone.
      const answer = hub.hub.request({ ...req('cli-crashy'), op: 'test' }).catch((e: unknown) => e);
      expect(await exited).toBe(1);
      expect(await answer).toMatchObject({ code: 'AGENT_DISCONNECTED' });
      const fatal = daemon.logs.find((r) => r['level'] === 60);
      expect(fatal).toMatchObject({ component: 'process-guard', dataSource: 'cli-crashy' });
    } finally {
      await daemon.stop('SIGKILL');
    }
  });
});
