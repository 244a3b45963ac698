/**
 * Vitest `globalSetup` of the projects whose tests run built code: worker threads load
 * `dist/src/adapters/ldap/search-worker.js` and `dist/src/pipeline/adapter-worker.js` (vitest
 * cannot start a `.ts` worker), and child processes run the CLIs and modules from `dist/`.
 * Without a build, `vitest run --project integration` would test whatever `dist/` held — stale
 * code. Before the first test file, every `src/**\/*.ts` is compared with its `dist/src/…/*.js`
 * (mtime); when one is missing or older, `tsc -p tsconfig.build.json` rebuilds `dist/` in place
 * (never deleting it: other runs may be using it). Runs that start together take a lock, so
 * one compiles and the others wait for it and find `dist/` current.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as wait } from 'node:timers/promises';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src');
const LOCK = join(ROOT, 'node_modules', '.cache', 'datasync-dist-build.lock');
/** How often a run waiting for another's build looks at the lock (a poll of a file, not a test's sleep). */
const LOCK_POLL_MS = 200;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The first source whose build is missing or older than it (or than tsconfig.json), or
 * `undefined` when dist is current. `since`: edits after this time do not count (a build that
 * started then could not have seen them; the next run rebuilds).
 */
export function staleSource(since = Number.POSITIVE_INFINITY): string | undefined {
  const config = statSync(join(ROOT, 'tsconfig.json')).mtimeMs;
  for (const file of sources(SRC)) {
    const built = join(ROOT, 'dist', relative(ROOT, file)).replace(/\.ts$/, '.js');
    if (!existsSync(built)) return relative(ROOT, file);
    const builtAt = statSync(built).mtimeMs;
    if (builtAt < Math.min(statSync(file).mtimeMs, since) || builtAt < Math.min(config, since)) return relative(ROOT, file);
  }
  return undefined;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Takes the build lock (a directory: creating it is atomic), waiting for a live holder. */
async function lock(): Promise<() => void> {
  mkdirSync(dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
      } catch {
        // Created, pid not written yet: the holder is alive.
      }
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) rmSync(LOCK, { recursive: true, force: true });
      else await wait(LOCK_POLL_MS);
    }
  }
}

function compile(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    // Type errors still emit (noEmitOnError is off): what matters here is that dist/ is current.
    // `npm run typecheck` is where type errors fail the run.
    const out = String((err as { stdout?: Buffer }).stdout ?? '');
    console.warn(`[fresh-dist] tsc reported errors (dist/ was still emitted):\n${out.split('\n').slice(0, 20).join('\n')}`);
  }
}

export default async function setup(): Promise<void> {
  if (staleSource() === undefined) return;
  const unlock = await lock();
  try {
    const stale = staleSource(); // another run may have built it while this one waited
    if (stale === undefined) return;
    const started = performance.now();
    const startedAt = Date.now() - 1000; // file-system mtimes may be coarser than the clock
    compile();
    const still = staleSource(startedAt);
    if (still !== undefined) throw new Error(`dist/ is still older than ${still} after tsc -p tsconfig.build.json: the tests would run stale code`);
    console.info(`[fresh-dist] dist/ was missing or older than ${stale}: rebuilt in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    unlock();
  }
}
