/**
 * The compiled app for a release (`npm run dist`): `dist/src` when it is current, else a fresh
 * `tsc -p tsconfig.build.json` into a temporary directory. The repository's `dist/` is never
 * written or deleted here: tests and CLIs of other runs may be using it.
 *
 * "Current" means every `src/**.ts` has its `dist/src/**.js` no older than the source and than
 * tsconfig.json. Files in `dist/src` without a source any more (a file removed or renamed since
 * the last build) are left out of the copy, so the release holds what `src/` holds.
 */
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { run } from './run.mjs';

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

const isSource = (file) => file.endsWith('.ts') && !file.endsWith('.d.ts');

/** The first source whose build is missing or older than it (or than tsconfig.json); undefined when dist/src is current. */
export function staleSource(root) {
  const src = join(root, 'src');
  if (!existsSync(join(root, 'dist', 'src'))) return 'dist/src (missing)';
  const configAt = statSync(join(root, 'tsconfig.json')).mtimeMs;
  for (const file of files(src).filter(isSource)) {
    const built = join(root, 'dist', relative(root, file)).replace(/\.ts$/, '.js');
    if (!existsSync(built)) return relative(root, file);
    const builtAt = statSync(built).mtimeMs;
    if (builtAt < statSync(file).mtimeMs || builtAt < configAt) return relative(root, file);
  }
  return undefined;
}

/** The source a compiled file comes from: `a/b.js`, `a/b.js.map`, `a/b.d.ts`, `a/b.d.ts.map` → `a/b.ts`. */
const sourceOf = (compiled) => compiled.replace(/\.(js|js\.map|d\.ts|d\.ts\.map)$/, '.ts');

/**
 * Puts the compiled app at `target` (the future `dist/src` of the package) and says where it
 * came from. `work` is a scratch directory for a fresh build.
 */
export async function compiledApp(root, work, target) {
  const stale = staleSource(root);
  if (stale === undefined) {
    const from = join(root, 'dist', 'src');
    cpSync(from, target, {
      recursive: true,
      filter: (path) => statSync(path).isDirectory() || existsSync(join(root, 'src', sourceOf(relative(from, path)))),
    });
    return 'dist/src (current)';
  }
  const outDir = join(work, 'tsc-out');
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const built = await run(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], root);
  // Type errors still emit (noEmitOnError is off); a release must not be built from code that
  // does not type-check.
  if (built.code !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${built.stdout}${built.stderr}`);
  cpSync(join(outDir, 'src'), target, { recursive: true });
  return `tsc into a temporary directory (dist/ was stale: ${stale})`;
}
