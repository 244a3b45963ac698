/**
 * Plugins the way their authors ship them: the package is `npm pack`ed, each plugin (the example
 * `examples/jsonl-source` and the typed fixture `test/fixtures/plugins/typed-source`) is copied
 * to a temporary directory, gets the tarball installed there — its OWN copy of datasync-agent
 * and rxjs, not this repository's — and is compiled with TypeScript. Then the real CLIs run it:
 * `datasync-hub` and `datasync-agent` as processes with `plugins:` in the agent's configuration,
 * driven over the hub's HTTP API; `datasync-agent check` reports a missing and a broken plugin
 * at their lines; and the shipped contract suite (`datasync-agent/contract`, from the tarball)
 * runs against the jsonl plugin.
 *
 * Needs a current build (dist/), which `npm test` makes first. One pack for the file.
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HubApiError, type ExportResultLine } from '../../src/hub/client.js';
import { makeTestPki } from '../helpers/certs.js';
import { AGENT_BIN, ROOT, runCli, type Daemon } from '../helpers/cli.js';
import { AGENT_PASSWORD, API_TOKEN, hubClient, secretHashes, startAgentProcess, startHubProcess, writeHubConfig, type StackEnv } from '../helpers/e2e/stack.js';

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PEOPLE = 1_234;
const PAGE_SIZE = 100;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment for child commands: this one without what `npm test` adds about this
 * repository (`npm_package_*`, `npm_lifecycle_*`, `npm_config_local_prefix`, …), so an npm run
 * in a plugin's directory is about that directory. npm's own settings (cache, registry) stay.
 */
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|command$|config_local_prefix$|config_call$)/i.test(k) && k !== 'INIT_CWD'),
);

/** Runs a command to completion (no shell). */
function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const failed = (what: string, r: Run): Error => new Error(`${what} failed (exit ${String(r.code)}):\n${r.stdout}\n${r.stderr}`);

let work: string;
let env: StackEnv;
let tarball: string;
/** The temporary plugin directories, each with its own node_modules. */
const plugin = { jsonl: '', typed: '' };
/** What compiling each plugin printed. */
const compiled: Record<string, Run> = {};

/** Copies a plugin's sources (not a node_modules or dist it may have) and installs the tarball into it. */
async function installPlugin(source: string, name: string): Promise<string> {
  const dir = join(work, name);
  cpSync(source, dir, { recursive: true, filter: (src) => !/[\\/](node_modules|dist)$/.test(src) });
  // The plugin is compiled with this repository's TypeScript: its own is not installed (the
  // biggest package of the install, and not what is under test).
  const manifest = join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { devDependencies?: Record<string, string> };
  delete pkg.devDependencies?.['typescript'];
  writeFileSync(manifest, JSON.stringify(pkg, null, 2));
  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], dir);
  if (install.code !== 0) throw failed(`npm install in ${dir}`, install);
  compiled[name] = await run(process.execPath, [TSC, '-p', dir], dir);
  return dir;
}

/** A JSON-lines file of `n` people, keys `u1`…`un`, departments in turn. */
function writePeople(file: string, n: number): void {
  const depts = ['sales', 'eng', 'ops'];
  writeFileSync(file, Array.from({ length: n }, (_, i) => `${JSON.stringify({ id: `u${i + 1}`, name: `Person ${i + 1}`, dept: depts[i % 3] })}\n`).join(''));
}

beforeAll(async () => {
  for (const built of [AGENT_BIN, join(ROOT, 'dist', 'src', 'cli', 'hub.js'), join(ROOT, 'dist', 'src', 'adapter-kit', 'index.js')]) {
    if (!existsSync(built)) throw new Error(`${built} is missing: build first (npm run build; npm test does)`);
  }
  work = mkdtempSync(join(tmpdir(), 'datasync-plugin-e2e-'));
  env = { dir: work, pki: makeTestPki(join(work, 'pki')) };
  // --ignore-scripts: `prepare` would build again; dist/ is current.
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
  if (pack.code !== 0) throw failed('npm pack', pack);
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string }>;
  if (packed === undefined) throw new Error(`npm pack made nothing:\n${pack.stdout}`);
  tarball = join(work, packed.filename);
  [plugin.jsonl, plugin.typed] = await Promise.all([
    installPlugin(join(ROOT, 'examples', 'jsonl-source'), 'jsonl-source'),
    installPlugin(join(ROOT, 'test', 'fixtures', 'plugins', 'typed-source'), 'typed-source'),
    secretHashes(),
  ]);
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('plugins built against the packed package', () => {
  it('compile with TypeScript, without an error', () => {
    for (const name of ['jsonl-source', 'typed-source']) {
      const r = compiled[name];
      expect(r, name).toBeDefined();
      expect(`${r?.stdout ?? ''}${r?.stderr ?? ''}`, name).toBe('');
      expect(r?.code, name).toBe(0);
      expect(existsSync(join(work, name, 'dist', 'index.js')), name).toBe(true);
    }
  });

  it('each has its own installed copy of datasync-agent and rxjs, not the repository', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const dir of [plugin.jsonl, plugin.typed]) {
      for (const pkg of ['datasync-agent', 'rxjs']) {
        const installed = join(dir, 'node_modules', pkg);
        expect(lstatSync(installed).isSymbolicLink(), installed).toBe(false);
        expect(realpathSync(installed).startsWith(dir + sep), installed).toBe(true);
      }
      expect((JSON.parse(readFileSync(join(dir, 'node_modules', 'datasync-agent', 'package.json'), 'utf8')) as { version: string }).version).toBe(version);
      // Where the plugin's own `import 'datasync-agent/adapter-kit'` resolves.
      const resolved = await run(process.execPath, ['--input-type=module', '-e', "process.stdout.write(import.meta.resolve('datasync-agent/adapter-kit'))"], join(dir, 'dist'));
      expect(fileURLToPath(resolved.stdout)).toBe(join(dir, 'node_modules', 'datasync-agent', 'dist', 'src', 'adapter-kit', 'index.js'));
    }
  });
});

describe('loaded via plugins: by the real agent, served through the real hub', () => {
  const daemons: Daemon[] = [];
  afterEach(async () => {
    const codes = [];
    for (const d of daemons.splice(0).reverse()) codes.push(await d.stop('SIGTERM'));
    expect(codes).toEqual(codes.map(() => 0));
  });

  it('test, search (every record), export and get on the plugins, each on its own module instance', async () => {
    const data = join(work, 'data');
    mkdirSync(data, { recursive: true });
    writePeople(join(data, 'people.jsonl'), PEOPLE);
    writeFileSync(join(data, 'broken.jsonl'), '{"id":"a"}\n{"id":"b"}\n{"id": oops}\n{"id":"d"}\n');

    const hub = await startHubProcess(await writeHubConfig(env));
    daemons.push(hub.daemon);
    const agent = await startAgentProcess(env, {
      id: 'plugin-agent',
      hubs: [hub],
      extra: `plugins:\n  - ${JSON.stringify(plugin.jsonl)}\n  - ${JSON.stringify(plugin.typed)}\n`,
      dataSources: `  people:
    type: jsonl
    file: ${JSON.stringify(join(data, 'people.jsonl'))}
    pageSize: ${PAGE_SIZE}
    writable: true
    operations: [test, attributes, get, search, export]
  broken:
    type: jsonl
    file: ${JSON.stringify(join(data, 'broken.jsonl'))}
    pageSize: 2
  absent:
    type: jsonl
    file: ${JSON.stringify(join(data, 'absent.jsonl'))}
  things:
    type: static
    key: name
    records:
      - { name: kettle, watts: 2200 }
      - { name: lamp, watts: 40 }
`,
    });
    daemons.push(agent.daemon);
    const client = hubClient(hub, env.pki);
    try {
      const sources = await client.dataSources();
      expect(sources.map((s) => [s.name, s.type]).sort()).toEqual([
        ['absent', 'jsonl'],
        ['broken', 'jsonl'],
        ['people', 'jsonl'],
        ['things', 'static'],
      ]);

      // The typed plugin's kit is the copy in its own node_modules: the agent (this
      // repository's dist/) loaded the plugin, which runs on the package it was built against.
      const typedTest = (await client.test('things')) as { ok: boolean; records: number; kit: string };
      expect(typedTest).toMatchObject({ ok: true, records: 2 });
      expect(fileURLToPath(typedTest.kit)).toBe(join(plugin.typed, 'node_modules', 'datasync-agent', 'dist', 'src', 'adapter-kit', 'index.js'));
      expect(fileURLToPath(typedTest.kit).startsWith(ROOT + sep)).toBe(false);
      expect(await client.get('things', { key: 'lamp' })).toEqual({ name: 'lamp', watts: 40 });
      await expect(client.get('things', { key: 'toaster' })).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });

      expect(await client.test('people')).toMatchObject({ ok: true, target: join(data, 'people.jsonl'), records: PEOPLE, writable: true });

      // Every record, exactly once, in file order.
      const keys: string[] = [];
      const search = client.search<{ key: string; attributes: Record<string, unknown> }>('people');
      for await (const entry of search) {
        expect(entry.attributes['id']).toBe(entry.key);
        keys.push(entry.key);
      }
      expect(search.summary).toMatchObject({ count: PEOPLE, truncated: false });
      expect(keys).toEqual(Array.from({ length: PEOPLE }, (_, i) => `u${i + 1}`));

      const sales = client.search('people', { filter: { dept: 'sales' } });
      let salesCount = 0;
      for await (const _ of sales) salesCount += 1;
      expect(salesCount).toBe(Math.ceil(PEOPLE / 3));
      expect(sales.summary?.count).toBe(salesCount);

      // One result per record, in order; the bad record fails alone.
      const records = [
        { op: 'upsert', key: 'u1', attributes: { name: 'Ada Lovelace' } },
        { op: 'upsert', key: 'u2', colour: 'red' },
        { op: 'delete', key: 'u3' },
        { op: 'upsert', key: 'new-1', attributes: { name: 'New Person', dept: 'eng' } },
      ];
      const results: ExportResultLine[] = [];
      const exported = client.export('people', records);
      for await (const r of exported) results.push(r);
      expect(results).toEqual([
        { index: 0, ok: true, data: { action: 'updated' } },
        { index: 1, ok: false, code: 'BAD_REQUEST', message: expect.stringMatching(/unknown key 'colour'/) as unknown, retryable: false },
        { index: 2, ok: true, data: { action: 'deleted' } },
        { index: 3, ok: true, data: { action: 'added' } },
      ]);
      expect(exported.summary).toMatchObject({ count: 4, ok: 3, failed: 1 });
      expect(await client.get('people', { key: 'u1' })).toEqual({ key: 'u1', attributes: { id: 'u1', name: 'Ada Lovelace', dept: 'sales' } });
      expect(await client.get('people', { key: 'new-1' })).toEqual({ key: 'new-1', attributes: { id: 'new-1', name: 'New Person', dept: 'eng' } });
      await expect(client.get('people', { key: 'u3' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const lines = readFileSync(join(data, 'people.jsonl'), 'utf8').trimEnd().split('\n');
      expect(lines).toHaveLength(PEOPLE);

      // A broken line ends the stream, after the pages before it, with a coded error naming the
      // line; the agent goes on serving.
      const broken: string[] = [];
      const failure = await (async () => {
        for await (const entry of client.search<{ key: string }>('broken')) broken.push(entry.key);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(HubApiError);
      expect(failure).toMatchObject({ code: 'UPSTREAM_ERROR', message: expect.stringContaining(`${join(data, 'broken.jsonl')}:3: not JSON`) as unknown });
      expect(broken).toEqual(['a', 'b']);
      await expect(client.test('absent')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
      // Export is off unless the source is writable.
      await expect((async () => {
        for await (const _ of client.export('broken', [{ op: 'delete', key: 'a' }]));
      })()).rejects.toMatchObject({ code: 'OPERATION_NOT_ALLOWED' });
      expect(await client.get('people', { key: 'u1234' })).toMatchObject({ key: 'u1234' });
    } finally {
      await client.close();
    }
    // Nothing at error level, no secret in any line.
    for (const d of [agent.daemon, hub.daemon]) {
      expect(d.logs.filter((r) => (r['level'] as number) >= 50)).toEqual([]);
      const output = JSON.stringify(d.logs) + d.stderr();
      expect(output.includes(API_TOKEN) || output.includes(AGENT_PASSWORD)).toBe(false);
    }
  });
});

describe('datasync-agent check with plugins', () => {
  it('a good configuration: exit 0, the plugin types summarised', async () => {
    const file = join(work, 'check-ok.yaml');
    writeFileSync(
      file,
      `agent: { id: a, urls: [wss://hub.example/agent], tenantId: t, userName: u, password: p }
plugins: [${JSON.stringify(plugin.jsonl)}, ${JSON.stringify(plugin.typed)}]
dataSources:
  people: { type: jsonl, file: ./people.jsonl, writable: true }
  things: { type: static, records: [] }
`,
    );
    const r = await runCli(AGENT_BIN, ['check', '--offline', '--config', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The path is resolved against the configuration file's directory.
    expect(r.stdout).toContain(`${join(work, 'people.jsonl')} (key id, writable)`);
  });

  it('a missing plugin and one that throws at import: exit 2, each at its line', async () => {
    writeFileSync(join(work, 'throws.mjs'), "throw new Error('this plugin is broken');\n");
    const file = join(work, 'check-bad.yaml');
    writeFileSync(
      file,
      `agent: { id: a, urls: [wss://hub.example/agent], tenantId: t, userName: u, password: p }
plugins:
  - ${JSON.stringify(plugin.jsonl)}
  - ./no-such-plugin.js
  - ./throws.mjs
dataSources:
  people: { type: jsonl, file: ./people.jsonl }
`,
    );
    const r = await runCli(AGENT_BIN, ['check', '--offline', '--config', file]);
    expect(r.code).toBe(2);
    const problems = r.stderr.split('\n').filter((l) => l.startsWith(`${file}:`));
    expect(problems).toEqual([
      `${file}:4:5: plugins.1: cannot find plugin './no-such-plugin.js' (no such file: ${join(work, 'no-such-plugin.js')})`,
      `${file}:5:5: plugins.2: plugin './throws.mjs' failed to load: Error: this plugin is broken`,
    ]);
  });
});

describe('the shipped contract suite', () => {
  const contractSource = join(ROOT, 'src', 'contract', 'index.ts');
  it.runIf(existsSync(contractSource))('passes against the jsonl plugin (runContract from the installed tarball)', async () => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'contract', 'index.js'))) throw new Error('dist/src/contract is missing: dist/ is older than src/contract (npm run build)');
    const dir = join(plugin.jsonl, 'contract');
    mkdirSync(dir, { recursive: true });
    writePeople(join(dir, 'people.jsonl'), 180);
    // An unreadable file is "bad credentials" — unless this runs as root, who reads anything.
    const locked = join(dir, 'locked.jsonl');
    writePeople(locked, 1);
    chmodSync(locked, 0o000);
    const script = join(plugin.jsonl, 'run-contract.mjs');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runContract } from 'datasync-agent/contract';
import definition, { linesReadSoFar } from './dist/index.js';

const dir = ${JSON.stringify(dir)};
const readable = (file) => { try { readFileSync(file); return true; } catch { return false; } };
const source = (file) => ({ type: 'jsonl', file, pageSize: 50, writable: true, operations: ['test', 'attributes', 'get', 'search', 'export'] });
const fixture = {
  definition,
  settings: (kind) =>
    kind === 'ok' ? source(join(dir, 'people.jsonl'))
    : kind === 'unreachable' ? source(join(dir, 'absent.jsonl'))
    : readable(join(dir, 'locked.jsonl')) ? undefined : source(join(dir, 'locked.jsonl')),
  search: { params: {}, count: 180 },
  get: { params: { key: 'u7' }, matches: (r) => r?.key === 'u7' && r?.attributes?.name === 'Person 7' },
  export: {
    // Updates only, so the search count stays 180 whatever order the checks run in.
    records: () => [
      { op: 'upsert', key: 'u1', attributes: { note: 'a' } },
      { op: 'upsert', key: 'u2', attributes: { note: 'b' } },
      { op: 'delete', key: 'nobody' },
      { op: 'upsert', key: 'u3', attributes: { note: 'c' } },
    ],
    failingIndex: 2,
  },
  upstreamRequests: () => linesReadSoFar(),
};
const outcome = await runContract(fixture).then(
  (r) => ({ ok: true, ...r }),
  (e) => ({ ok: false, message: String(e?.message), errors: (e?.errors ?? []).map((x) => String(x?.message ?? x)) }),
);
process.stdout.write(JSON.stringify(outcome));
process.exit(0);
`,
    );
    const r = await run(process.execPath, [script], plugin.jsonl);
    expect(r.code, r.stderr).toBe(0);
    const outcome = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('{"ok":'))) as { ok: boolean; passed?: string[]; skipped?: string[]; errors?: string[] };
    expect(outcome.errors ?? [], r.stdout).toEqual([]);
    expect(outcome.ok).toBe(true);
    expect(outcome.passed?.length).toBeGreaterThan(5);
    console.log(`[e2e plugin-tarball] contract on the jsonl plugin: ${outcome.passed?.length ?? 0} passed, skipped: ${JSON.stringify(outcome.skipped)}`);
  });
});
