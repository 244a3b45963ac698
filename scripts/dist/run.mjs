/**
 * Child processes of the release build (`npm run dist`): npm, tsc and tar, run without a shell
 * and with their output collected.
 *
 * npm commands must act on the directory they run in, not on this repository: when the build
 * itself runs under `npm run`, npm exports `npm_config_local_prefix`, `npm_package_*`, … for
 * the repository, and a child npm would read them. They are dropped; npm's own settings (cache,
 * registry) stay.
 */
import { spawn } from 'node:child_process';

export const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|command$|config_local_prefix$|config_call$)/i.test(k) && k !== 'INIT_CWD'),
);

/** Runs `command` to completion in `cwd`; resolves with its exit code and output. */
export function run(command, args, cwd) {
  return new Promise((resolve, reject) => {
    // npm on Windows is npm.cmd, which needs a shell; everywhere else no shell.
    const shell = process.platform === 'win32' && command === 'npm';
    const child = spawn(command, args, { cwd, env: childEnv, shell, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d.toString()));
    child.stderr.on('data', (d) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `run`, failing with the command's output unless it exits 0. */
export async function mustRun(command, args, cwd) {
  const r = await run(command, args, cwd);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed with exit ${String(r.code)}:\n${r.stdout}${r.stderr}`);
  return r;
}
