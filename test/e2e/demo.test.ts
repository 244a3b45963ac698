/**
 * `npm start` as a newcomer meets it: the demo process prints curl commands, and each one,
 * run exactly as printed by a shell, works against the hub's HTTP API, the agent and the
 * embedded ldif directory. Then SIGTERM stops the demo with exit 0.
 */
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROOT, startDaemon, type Daemon } from '../helpers/cli.js';
import { Agent } from 'undici';
import { contractFigures, withContract, type ApiContract } from '../helpers/e2e/openapi-contract.js';
import { checkCurlOutput, contractAt } from '../helpers/e2e/openapi-curl.js';
import { runDemoCalls, summarise } from '../helpers/e2e/openapi-demo-calls.js';
import { freePort } from '../helpers/slapd.js';

const run = promisify(execFile);
const DEMO_BIN = join(ROOT, 'dist', 'src', 'cli', 'demo.js');


let demo: Daemon;
let commands: Map<string, string>;
/** The demo hub's OpenAPI document: every printed command's output is checked against it. */
let contract: ApiContract;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  demo = startDaemon(DEMO_BIN, [], { DEMO_HUB_PORT: String(port) });
  await demo.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].includes('Ctrl-C stops the demo'), 20_000);
  // The banner: "  # what" then "  command" pairs.
  const lines = demo.logs.filter((l) => l['unparsed'] === true).map((l) => String(l['msg']));
  commands = new Map();
  for (let i = 0; i < lines.length - 1; i++) {
    const what = /^ {2}# (.*)$/.exec(lines[i] ?? '')?.[1];
    if (what !== undefined) commands.set(what, (lines[i + 1] ?? '').trim());
  }
  contract = await contractAt(base);
});

afterAll(async () => {
  expect(await demo.stop('SIGTERM')).toBe(0);
  const figures = contractFigures();
  console.log(`OpenAPI contract (demo): ${figures.responses} answers, ${figures.jsonBodies} JSON bodies, ${figures.ndjsonLines} NDJSON lines checked, ${figures.violations} violations`);
  expect(figures.violations).toBe(0);
  // The six printed commands, and the six typed calls.
  expect(figures.responses).toBe(12);
});

async function shell(what: string): Promise<string> {
  const command = [...commands.entries()].find(([k]) => k.startsWith(what))?.[1];
  expect(command, `printed command for "${what}"`).toBeDefined();
  const { stdout } = await run('bash', ['-c', `set -o pipefail; ${command!}`], { timeout: 20_000 });
  // Each command's answer is a 200 (the tests below check its content): it must be the documented one.
  checkCurlOutput(contract, command!, stdout);
  return stdout;
}

const ndjson = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('npm start (the demo)', () => {
  it('prints six commands', () => {
    expect([...commands.keys()]).toHaveLength(6);
    for (const c of commands.values()) expect(c).toMatch(/^(curl|printf) /);
  });

  it("lists the tenant's agent with its ldif data source", async () => {
    const body = JSON.parse(await shell("the tenant's agents")) as { agents: Array<{ id: string; dataSources: Array<{ type: string }> }> };
    expect(body.agents.map((a) => a.id)).toEqual(['demo-agent-1']);
    expect(body.agents[0]?.dataSources[0]?.type).toBe('ldif');
  });

  it('tests the data source', async () => {
    const body = JSON.parse(await shell('test the data source')) as { data: { ok: boolean; entries: number } };
    expect(body.data.ok).toBe(true);
    expect(body.data.entries).toBeGreaterThan(50);
  });

  it('streams a search as NDJSON ending with the summary line', async () => {
    const lines = ndjson(await shell('search'));
    const summary = lines.at(-1) as { end: boolean; count: number };
    expect(summary).toMatchObject({ end: true, truncated: false });
    expect(summary.count).toBe(lines.length - 1);
    expect(summary.count).toBeGreaterThan(1);
    for (const e of lines.slice(0, -1)) expect(String((e as { attributes: { cn: string[] } }).attributes.cn[0])).toMatch(/^A/);
  });

  it('gets one entry (UTF-8 intact)', async () => {
    const body = JSON.parse(await shell('one entry')) as { data: { attributes: { cn: string[] } } };
    expect(body.data.attributes.cn).toEqual(['Zoë Ångström']);
  });

  it('streams an export: one result per record and a summary', async () => {
    const lines = ndjson(await shell('a streamed export'));
    expect(lines.slice(0, 2)).toEqual([{ index: 0, ok: true }, { index: 1, ok: true }]);
    expect(lines[2]).toMatchObject({ index: 2, ok: false, code: 'NOT_FOUND' });
    expect(lines[3]).toEqual({ end: true, count: 3, ok: 2, failed: 1 });
  });

  it("makes the demo's calls with the types generated from the document (openapi-demo-calls.ts)", async () => {
    const agent = new Agent();
    try {
      // The export is only the delete of an entry that does not exist: the other tests' state stays.
      const answers = await runDemoCalls({ base, token: 'demo-token', dataSource: 'directory', dispatcher: withContract(agent) }, [
        '{"op":"delete","dn":"uid=nobody,ou=people,dc=demo,dc=example"}',
      ]);
      const s = summarise(answers);
      expect(s.agents).toEqual(['demo-agent-1']);
      expect(s.end).toMatchObject({ end: true, count: s.entries, truncated: false });
      expect(s.failed).toEqual([{ index: 0, code: 'NOT_FOUND' }]);
      expect(answers.document.openapi).toBe('3.1.0');
    } finally {
      await agent.close();
    }
  });

  it('serves the OpenAPI document', async () => {
    expect((JSON.parse(await shell('the API description')) as { openapi: string }).openapi).toBe('3.1.0');
  });
});

describe('npm start under npm: SIGTERM to npm stops the demo', () => {
  it('the demo process (run by npm through sh) ends, logging `stopped`, and its port is free again', async () => {
    const port = await freePort();
    const npm = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { ...process.env, DEMO_HUB_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const npmExited = new Promise<void>((resolve) => npm.on('exit', () => resolve()));
    try {
      await vi.waitFor(() => expect(out).toContain('Ctrl-C stops the demo'), { timeout: 30_000, interval: 50 });
      const demoPid = Number(/"pid":(\d+)/.exec(out)?.[1]);
      expect(demoPid).not.toBe(npm.pid);
      npm.kill('SIGTERM');
      await npmExited;
      // The demo saw its parent go and stopped like on SIGTERM: its last line, then the process is gone.
      await vi.waitFor(() => expect(out).toMatch(/"msg":"stopped"/), { timeout: 30_000, interval: 50 });
      await vi.waitFor(() => expect(() => process.kill(demoPid, 0)).toThrow(), { timeout: 30_000, interval: 50 });
      const server = createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
      await new Promise((resolve) => server.close(resolve));
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  });
});
