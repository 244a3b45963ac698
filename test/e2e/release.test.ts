/**
 * The release artifacts as an operator gets them: `npm run dist` (scripts/dist/build.mjs) runs
 * once into a temporary directory. The server distribution's `.zip` is unpacked by an
 * independent reader (Python's zipfile, which checks every CRC) and its `startup.sh` runs the
 * agent against a real hub: it registers, serves a request from the archive's own node_modules,
 * and SIGTERM to the script's pid stops node itself (the script `exec`s). The `.tar.gz` must hold
 * the same files, bytes and modes. The Windows files cannot run here: their paths and commands
 * are checked against the unpacked tree. The npm tarball is installed into a fresh prefix and
 * its bins run.
 *
 * Needs a current build (dist/, which the e2e project's global setup refreshes) and the npm
 * registry or npm's cache for the production dependencies.
 *
 * Scratch files go to a tmpfs (/dev/shm) when there is one: the run writes and deletes three
 * copies of node_modules (about 14 000 files each), and deleting one takes over 30 s on a disk
 * mounted with `discard`, nothing on a tmpfs. The build's own staging goes there too (TMPDIR).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants as fsConstants,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { makeEnv, startHub, type Env, type RunningHub } from '../helpers/relay-env.js';

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const NAME = `${pkg.name}-${pkg.version}`;

/** /dev/shm when it is a writable directory (a tmpfs on Linux), else the system temp directory. */
function scratchBase(): string {
  try {
    if (statSync('/dev/shm').isDirectory()) {
      accessSync('/dev/shm', fsConstants.W_OK | fsConstants.X_OK);
      return '/dev/shm';
    }
  } catch {
    // No /dev/shm (macOS, Windows) or not writable.
  }
  return tmpdir();
}
const SCRATCH = scratchBase();
const ENTRY = 'node_modules/datasync-agent/dist/src/cli/agent.js';

/** This environment without what `npm test` sets about this repository (a child npm must act on its own directory). */
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|command$|config_local_prefix$|config_call$)/i.test(k) && k !== 'INIT_CWD'),
);

/** Runs a command to completion (no shell). */
function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const failed = (what: string, r: Run): Error => new Error(`${what} failed (exit ${String(r.code)}):\n${r.stdout}\n${r.stderr}`);

/** Extracts a ZIP with Python's zipfile after its CRC check, restoring the Unix modes of the entries. */
const UNZIP_PY = `
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
if bad is not None:
    sys.exit("bad CRC: " + bad)
for info in z.infolist():
    path = z.extract(info, sys.argv[2])
    mode = (info.external_attr >> 16) & 0o7777
    if mode:
        os.chmod(path, mode)
print(len(z.infolist()))
`;

interface TreeEntry {
  readonly kind: 'dir' | 'file' | 'link';
  readonly mode: number;
  readonly sha256?: string;
}

/** Every path under `dir` with its kind, permission bits and content hash. */
function tree(dir: string, into = new Map<string, TreeEntry>(), root = dir): Map<string, TreeEntry> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stats = lstatSync(path);
    const key = relative(root, path);
    if (stats.isSymbolicLink()) into.set(key, { kind: 'link', mode: 0 });
    else if (stats.isDirectory()) {
      into.set(key, { kind: 'dir', mode: stats.mode & 0o777 });
      tree(path, into, root);
    } else into.set(key, { kind: 'file', mode: stats.mode & 0o777, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') });
  }
  return into;
}

let work: string;
let env: Env;
let release: string;
/** The distribution unpacked from the .zip and from the .tar.gz (each `…/datasync-agent-<version>`). */
let fromZip: string;
let fromTar: string;
let zipEntries: number;
let buildOutput: string;
/** `npm install` of the npm tarball into a fresh prefix, started once the build is done. */
let npmInstall: Promise<Run>;
let npmPrefix: string;
/** The startup.sh processes this file started. */
const started: ChildProcess[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(SCRATCH, 'datasync-release-'));
  env = makeEnv();
  release = join(work, 'release');
  const build = await run(process.execPath, [join(ROOT, 'scripts', 'dist', 'build.mjs'), '--out', release, '--prefer-offline'], {
    env: { ...childEnv, TMPDIR: SCRATCH },
  });
  if (build.code !== 0) throw failed('npm run dist', build);
  buildOutput = build.stdout;
  npmPrefix = join(work, 'npm-prefix');
  mkdirSync(npmPrefix);
  npmInstall = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', npmPrefix, join(release, `${NAME}.tgz`)], {
    cwd: npmPrefix,
  });
  for (const dir of ['zip', 'tar']) mkdirSync(join(work, dir));
  const unzip = await run('python3', ['-c', UNZIP_PY, join(release, `${NAME}.zip`), join(work, 'zip')]);
  if (unzip.code !== 0) throw failed('unzip (python3 zipfile)', unzip);
  zipEntries = Number(unzip.stdout.trim());
  const untar = await run('tar', ['-xzf', join(release, `${NAME}.tar.gz`), '-C', join(work, 'tar')]);
  if (untar.code !== 0) throw failed('tar -xzf', untar);
  // startup.sh resolves its own directory physically (pwd -P): compare with real paths.
  fromZip = realpathSync(join(work, 'zip', NAME));
  fromTar = realpathSync(join(work, 'tar', NAME));
}, 600_000);

afterAll(async () => {
  // A startup.sh still running after a failed test (never one that exited: its pid may be reused).
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await npmInstall?.catch(() => undefined);
  env?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

describe('npm run dist', () => {
  it('writes the npm package, the .tar.gz and the .zip, with their SHA-256 sums', () => {
    expect(readdirSync(release).sort()).toEqual([`${NAME}.tar.gz`, `${NAME}.tgz`, `${NAME}.zip`, 'SHA256SUMS'].sort());
    const sums = readFileSync(join(release, 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(sums).toHaveLength(3);
    for (const line of sums) {
      const [sum, file] = line.split(/\s+/);
      expect(createHash('sha256').update(readFileSync(join(release, file!))).digest('hex'), file).toBe(sum);
    }
    expect(buildOutput).toContain(`${NAME}.zip`);
  });

  it('puts the same files, bytes and modes in the .zip and the .tar.gz, in the classic layout', () => {
    const zip = tree(fromZip);
    const tar = tree(fromTar);
    expect(zip.size).toBeGreaterThan(1000);
    // The ZIP's entries: every file and directory, plus the top folder itself.
    expect(zipEntries).toBe(zip.size + 1);
    expect([...zip.entries()].filter(([, e]) => e.kind === 'link')).toEqual([]);
    const differing = [...new Set([...zip.keys(), ...tar.keys()])].filter((path) => JSON.stringify(zip.get(path)) !== JSON.stringify(tar.get(path)));
    expect(differing.slice(0, 20).map((path) => ({ path, zip: zip.get(path), tar: tar.get(path) }))).toEqual([]);

    const top = readdirSync(fromZip).sort();
    expect(top).toEqual(['README.md', 'config', 'node_modules', 'startup.bat', 'startup.sh', 'systemd', 'windows-service.md']);
    expect(zip.get('startup.sh')?.mode).toBe(0o755);
    expect(readFileSync(join(fromZip, 'config', 'application.yaml'), 'utf8')).toBe(readFileSync(join(ROOT, 'config', 'application.yaml'), 'utf8'));
    expect(readdirSync(join(fromZip, 'systemd')).sort()).toEqual(['datasync-agent.service', 'datasync-hub.service']);
    const installed = JSON.parse(readFileSync(join(fromZip, 'node_modules', 'datasync-agent', 'package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(pkg.version);
    expect(existsSync(join(fromZip, ENTRY))).toBe(true);
    // Production dependencies only: every runtime dependency and the peer rxjs, no build tool.
    for (const dep of [...Object.keys(pkg.dependencies), 'rxjs']) expect(existsSync(join(fromZip, 'node_modules', dep, 'package.json')), dep).toBe(true);
    for (const dev of ['typescript', 'vitest', 'eslint', 'dependency-cruiser', 'pino-pretty']) expect(existsSync(join(fromZip, 'node_modules', dev)), dev).toBe(false);
  });
});

describe('startup.sh from the unpacked ZIP', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub(env);
  });
  afterAll(() => hub?.close());

  it('runs the agent, which registers with a hub and serves a request; SIGTERM to the script stops node (exec)', async () => {
    const agentId = 'release-agent-1';
    writeFileSync(
      join(fromZip, 'config', 'people.ldif'),
      ['dn: dc=example,dc=com', 'objectClass: domain', 'dc: example', '', 'dn: cn=Ada,dc=example,dc=com', 'objectClass: person', 'cn: Ada', 'sn: Lovelace', ''].join('\n'),
    );
    writeFileSync(
      join(fromZip, 'config', 'application.yaml'),
      `logging: { level: info }
agent:
  id: ${agentId}
  urls: [${hub.url}]
  tenantId: 1
  userName: agent
  password: \${DATASYNC_PASSWORD}
  trustStore: ${env.pki.ca.file}
reconnectDelay: 300
dataSources:
  people:
    type: ldif
    files: [people.ldif]
    baseDN: dc=example,dc=com
`,
    );
    const events = hub.hub.registry.events$;
    const registered = firstValueFrom(events.pipe(filter((e) => e.type === 'registered' && e.agentId === agentId), timeout(30_000)));
    const unregistered = firstValueFrom(events.pipe(filter((e) => e.type === 'unregistered' && e.agentId === agentId), timeout(60_000)));
    unregistered.catch(() => undefined);

    const child = spawn(join(fromZip, 'startup.sh'), [], {
      cwd: work,
      env: { PATH: process.env['PATH'], DATASYNC_PASSWORD: 'agent-secret-123' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid!;
    started.push(child);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    onTestFailed(() => console.error(`--- startup.sh output ---\n${output}`));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // A script that cannot start (not executable, no shell) fails the test at once.
    const notStarted = new Promise<never>((_, reject) => child.on('error', reject));

    await Promise.race([registered, notStarted]);
    const answer = (await hub.hub.request({ tenantId: '1', dataSource: 'people', op: 'test', timeoutMs: 30_000 })) as { ok: boolean; entries: number };
    expect(answer).toMatchObject({ ok: true, entries: 2 });

    // The script's pid is node running the archive's agent with the archive's config: the
    // shell replaced itself.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv.slice(1)).toEqual([join(fromZip, ENTRY), '--config', join(fromZip, 'config', 'application.yaml')]);
    expect(realpathSync(argv[0]!)).toBe(realpathSync(process.execPath));

    child.kill('SIGTERM');
    // node itself got the signal: it drained, closed the session and exited 0 (a shell killed by
    // the signal would report it and leave node registered).
    expect(await exited).toEqual({ code: 0, signal: null });
    await unregistered;
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });
});

describe('startup.sh from the unpacked .tar.gz', () => {
  const startup = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> =>
    run(join(fromTar, 'startup.sh'), args, { cwd: work, env: { PATH: process.env['PATH'], ...extraEnv } });

  it('passes its arguments on and returns the agent exit code', async () => {
    const version = await startup(['--version']);
    expect(version.stdout.trim()).toBe(pkg.version);
    expect(version.code).toBe(0);

    // The shipped sample decodes as it is (its secrets default through ${NAME:-…}).
    const check = await startup(['check', '--offline']);
    expect(check.stderr).toBe('');
    expect(check.stdout).toContain(`${join(fromTar, 'config', 'application.yaml')}: OK`);
    expect(check.code).toBe(0);

    // A --config given to the script wins over the default one; a bad file is exit 2 with its line.
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, 'agent:\n  urls: [ftp://nowhere]\n');
    const refused = await startup(['check', '--offline', '--config', bad]);
    expect(refused.stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+`));
    expect(refused.code).toBe(2);
  });

  it('refuses a Node.js older than 20 with one line and exit 127', async () => {
    const fakeNode = join(work, 'node18');
    writeFileSync(fakeNode, '#!/bin/sh\n# Answers the version probe as Node.js 18 would: not new enough.\nexit 1\n', { mode: 0o755 });
    const r = await startup(['--version'], { DATASYNC_NODE: fakeNode });
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/DATASYNC_NODE=.*node18 is not Node\.js 20 or later/)]);
    expect(r.code).toBe(127);
  });
});

describe('service files in the archive', () => {
  it('the systemd units run the archive layout under /opt/datasync-agent and keep everything else of deploy/systemd', () => {
    for (const unit of ['datasync-agent.service', 'datasync-hub.service']) {
      const text = readFileSync(join(fromZip, 'systemd', unit), 'utf8');
      const exec = /^ExecStart=(\S+) (\S+) run --config (\S+)$/m.exec(text);
      expect(exec, unit).not.toBeNull();
      expect(exec![2]!.startsWith('/opt/datasync-agent/'), unit).toBe(true);
      expect(existsSync(join(fromZip, exec![2]!.slice('/opt/datasync-agent/'.length))), `${unit}: ${exec![2]}`).toBe(true);
      const docs = /^Documentation=file:\/\/\/opt\/datasync-agent\/(\S+)$/m.exec(text);
      expect(docs && existsSync(join(fromZip, docs[1]!)), `${unit}: Documentation=`).toBe(true);
      // Only the paths changed: every other line of the repository's unit is there as it is.
      const original = readFileSync(join(ROOT, 'deploy', 'systemd', unit), 'utf8').split('\n');
      const kept = original.filter((l) => !l.includes('/opt/datasync-agent') && !l.includes('deploy/systemd') && !/^# datasync-\w+ as a systemd service/.test(l));
      const lines = new Set(text.split('\n'));
      expect(kept.filter((l) => !lines.has(l)), unit).toEqual([]);
    }
  });

  it('startup.bat runs the same entry with the same config as startup.sh, with CRLF line ends', () => {
    const bat = readFileSync(join(fromZip, 'startup.bat'), 'utf8');
    expect(bat.split('\n').slice(0, -1).every((l) => l.endsWith('\r')), 'CRLF line ends').toBe(true);
    const sh = readFileSync(join(fromZip, 'startup.sh'), 'utf8');
    const shLaunch = /^exec "\$node_bin" "\$here\/(\S+)" --config "\$here\/(\S+)" "\$@"$/m.exec(sh);
    const batLaunch = /^"%NODE_EXE%" "%HERE%\\(\S+)" --config "%HERE%\\(\S+)" %\*\r$/m.exec(bat);
    expect(shLaunch).not.toBeNull();
    expect(batLaunch).not.toBeNull();
    const batPaths = [batLaunch![1]!, batLaunch![2]!].map((p) => p.replaceAll('\\', '/'));
    expect(batPaths).toEqual([shLaunch![1], shLaunch![2]]);
    expect(batPaths[0]).toBe(ENTRY);
    for (const p of batPaths) expect(existsSync(join(fromZip, p)), p).toBe(true);
    expect(bat).toMatch(/^@echo off\r$/m);
    expect(bat).toContain('%DATASYNC_NODE%');
    expect(bat).toMatch(/>= 20 \?/);
    expect(bat).toMatch(/^exit \/b %ERRORLEVEL%\r$/m);
    expect(bat).toMatch(/^exit \/b 127\r$/m);
  });

  it('windows-service.md installs the service with NSSM on the archive entry and explains sc.exe', () => {
    const notes = readFileSync(join(fromZip, 'windows-service.md'), 'utf8');
    const install = /^nssm install datasync-agent "([^"]+node\.exe)" "\\"C:\\Program Files\\datasync-agent\\([^"\\]+(?:\\[^"\\]+)*)\\" run --config ([^"]+)"\r$/m.exec(notes);
    expect(install, 'nssm install line').not.toBeNull();
    expect(install![2]!.replaceAll('\\', '/')).toBe(ENTRY);
    for (const line of ['AppStopMethodConsole 45000', 'AppExit 2 Exit', 'AppDirectory "C:\\Program Files\\datasync-agent"']) expect(notes).toContain(line);
    expect(notes).toMatch(/sc\.exe failure datasync-agent/);
    expect(notes).toContain('1053');
  });
});

describe('the npm tarball', () => {
  it('installs into a fresh prefix, and its bins run', async () => {
    const install = await npmInstall;
    if (install.code !== 0) throw failed('npm install of the tarball', install);
    const bin = join(npmPrefix, 'node_modules', '.bin');
    const agentVersion = await run(join(bin, 'datasync-agent'), ['--version'], { cwd: npmPrefix });
    expect(agentVersion.stdout.trim()).toBe(pkg.version);
    const hubVersion = await run(join(bin, 'datasync-hub'), ['--version'], { cwd: npmPrefix });
    expect(hubVersion.stdout.trim()).toBe(pkg.version);
    const sample = join(npmPrefix, 'node_modules', 'datasync-agent', 'config', 'application.yaml');
    const check = await run(join(bin, 'datasync-agent'), ['check', '--offline', '--config', sample], { cwd: npmPrefix });
    expect(check.stdout).toContain(`${sample}: OK`);
    expect(check.code).toBe(0);
  }, 300_000);
});
