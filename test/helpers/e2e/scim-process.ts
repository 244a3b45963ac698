/**
 * The SCIM test server as a separate process (real servers, stopped by pid: docs/architecture.md, "Testing"). Node
 * 20 cannot run the fixture's TypeScript, so `buildScimFixture()` transpiles it once per test
 * process with `tsconfig.scim-fixture.json` into `dist/test-fixtures`; `startScimProcess()` then
 * runs `scim-server-main.js` and reads its JSON-lines stdout: the listening line, then one line
 * per answered request (see `scim-server-main.ts`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { beforeEach, vi } from 'vitest';
import { ROOT } from '../cli.js';

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TSCONFIG = join(ROOT, 'test', 'helpers', 'e2e', 'tsconfig.scim-fixture.json');
const MAIN = join(ROOT, 'dist', 'test-fixtures', 'test', 'helpers', 'e2e', 'scim-server-main.js');
const SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

/** One line the SCIM process printed per answered request. */
export interface ScimRequestLine {
  readonly method: string;
  /** Path without query, e.g. `/scim/v2/Users`. */
  readonly path: string;
  readonly query: Record<string, string>;
  readonly status: number;
}

export interface ScimProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:PORT/scim/v2` */
  readonly url: string;
  readonly token: string;
  readonly users: number;
  /** Requests answered so far, in arrival order. */
  readonly requests: ScimRequestLine[];
  /** Everything written to stdout and stderr. */
  output(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

let built: Promise<void> | undefined;

/** Transpiles the SCIM fixture and its entry point (once per test process). */
export function buildScimFixture(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const tsc = spawn(process.execPath, [TSC, '-p', TSCONFIG], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    tsc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    tsc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    tsc.once('error', reject);
    tsc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc -p ${TSCONFIG} exited ${code}:\n${out}`))));
  });
  return built;
}

/** Builds (if needed) and starts the SCIM server process; resolves once it listens. */
export async function startScimProcess(opts: { users: number; groups?: number }): Promise<ScimProcess> {
  await buildScimFixture();
  const args = [MAIN, '--users', String(opts.users), '--groups', String(opts.groups ?? 5)];
  // --pdeathsig: the server dies with the test worker even if no cleanup hook runs.
  const child = SETPRIV
    ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const requests: ScimRequestLine[] = [];
  let listening: { url: string; token: string } | undefined;
  let raw = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    raw += d.toString();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec['msg'] === 'scim listening') listening = { url: rec['url'] as string, token: rec['token'] as string };
      else if (rec['msg'] === 'scim request') requests.push(rec as unknown as ScimRequestLine);
    }
  });
  child.stderr.on('data', (d: Buffer) => (raw += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const up = await vi
    .waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`the SCIM server exited (${child.exitCode}):\n${raw}`);
        if (!listening) throw new Error('the SCIM server is not listening yet');
        return listening;
      },
      { timeout: 30_000, interval: 50 },
    )
    .catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
  return {
    child,
    url: up.url,
    token: up.token,
    users: opts.users,
    requests,
    output: () => raw,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** On a failing test, print what the SCIM process wrote during it. Call at file level. */
export function printScimOutputOnFailure(get: () => ScimProcess | undefined): void {
  beforeEach(({ onTestFailed }) => {
    const scim = get();
    if (!scim) return;
    const from = scim.output().length;
    onTestFailed(() => console.error(`--- SCIM server process (${scim.url}) during the failed test ---\n${scim.output().slice(from)}`));
  });
}
