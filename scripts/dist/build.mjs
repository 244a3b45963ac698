#!/usr/bin/env node
/**
 * `npm run dist`: the release artifacts, into `release/` (or `--out DIR`):
 *
 *   datasync-agent-<version>.tgz      the npm package (`npm install -g ./datasync-agent-<version>.tgz`)
 *   datasync-agent-<version>.tar.gz   the server distribution, like the classic agent's ZIP:
 *   datasync-agent-<version>.zip        datasync-agent-<version>/ with startup.sh, startup.bat,
 *                                       config/application.yaml, node_modules/ (the package and its
 *                                       production dependencies), systemd/, windows-service.md
 *   SHA256SUMS
 *
 * The package is packed from a staging copy (package.json, README.md, config/, docs/ and the
 * compiled app, see built-tree.mjs), never from the working tree's dist/ in place. The
 * distribution's node_modules is an `npm install` of that very tarball, so the archive holds
 * exactly what npm users get. The npm registry must be reachable for the dependencies (or npm's
 * cache must hold them).
 */
import { chmodSync, cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compiledApp } from './built-tree.mjs';
import { mustRun, run } from './run.mjs';
import { zipDirectory } from './zip.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLASSIC = join(ROOT, 'deploy', 'classic');
/** Where the systemd units expect the distribution (or a link to it). */
const INSTALL_DIR = '/opt/datasync-agent';

const started = performance.now();
const log = (line) => process.stdout.write(`[dist ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);

/**
 * A systemd unit of deploy/systemd, rewritten for the distribution's layout: the app lives in
 * node_modules/datasync-agent/ under the install directory. Every rewrite must apply, so a change
 * to the unit that this build no longer matches fails here, not on a server.
 */
export function unitForDistribution(text, unitName) {
  const rewrites = [
    [`${INSTALL_DIR}/dist/src/cli/`, `${INSTALL_DIR}/node_modules/datasync-agent/dist/src/cli/`],
    [`file://${INSTALL_DIR}/docs/`, `file://${INSTALL_DIR}/node_modules/datasync-agent/docs/`],
    [`deploy/systemd/${unitName}`, `${INSTALL_DIR}/systemd/${unitName}`],
  ];
  let out = text;
  for (const [from, to] of rewrites) {
    if (!out.includes(from)) throw new Error(`deploy/systemd/${unitName}: expected "${from}" to rewrite for the distribution`);
    out = out.split(from).join(to);
  }
  return out.replace(/^# (datasync-\w+ as a systemd service)\./m, `# $1, from the release archive installed in ${INSTALL_DIR}.`);
}

function sha256(file) {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', fail)
      .on('end', () => done(hash.digest('hex')));
  });
}

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** npm pack of a staging copy; returns the tarball's path in `out`. */
async function packPackage(work, out) {
  const pack = join(work, 'pack');
  mkdirSync(pack);
  for (const file of ['package.json', 'README.md', 'config', 'docs']) cpSync(join(ROOT, file), join(pack, file), { recursive: true });
  const how = await compiledApp(ROOT, work, join(pack, 'dist', 'src'));
  log(`compiled app: ${how}`);
  // --ignore-scripts: `prepare` would run a build; the staging copy is built already.
  const packed = await mustRun('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], pack);
  const [info] = JSON.parse(packed.stdout);
  if (info === undefined) throw new Error(`npm pack made nothing:\n${packed.stdout}`);
  return join(out, info.filename);
}

/** The distribution's folder: the tarball installed with its production dependencies, and the classic files. */
async function stageDistribution(work, tarball, name, npmFlags) {
  const stage = join(work, 'archive', name);
  mkdirSync(stage, { recursive: true });
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify({ name: 'datasync-agent-distribution', private: true }, null, 2)}\n`);
  // --ignore-scripts as in deploy/Dockerfile: the one native dependency (bufferutil, optional)
  // ships prebuilt binaries for every platform, and ws works without it.
  await mustRun('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', ...npmFlags, '--prefix', stage, tarball], stage);
  // The manifest names the tarball by a path on this machine; node needs neither file. The
  // .bin links are for npm scripts (and a ZIP cannot carry links).
  for (const file of ['package.json', 'package-lock.json', join('node_modules', '.bin')]) rmSync(join(stage, file), { recursive: true, force: true });
  if (!existsSync(join(stage, 'node_modules', 'datasync-agent', 'dist', 'src', 'cli', 'agent.js'))) {
    throw new Error('the installed package has no dist/src/cli/agent.js');
  }

  cpSync(join(CLASSIC, 'startup.sh'), join(stage, 'startup.sh'));
  chmodSync(join(stage, 'startup.sh'), 0o755);
  // Windows files with Windows line ends (cmd.exe misreads labels in LF-only batch files).
  const crlf = (text) => text.replace(/\r?\n/g, '\r\n');
  writeFileSync(join(stage, 'startup.bat'), crlf(readFileSync(join(CLASSIC, 'startup.bat'), 'utf8')));
  writeFileSync(join(stage, 'windows-service.md'), crlf(readFileSync(join(CLASSIC, 'windows-service.md'), 'utf8')));
  cpSync(join(CLASSIC, 'README.md'), join(stage, 'README.md'));
  mkdirSync(join(stage, 'config'));
  cpSync(join(ROOT, 'config', 'application.yaml'), join(stage, 'config', 'application.yaml'));
  mkdirSync(join(stage, 'systemd'));
  for (const unit of ['datasync-agent.service', 'datasync-hub.service']) {
    writeFileSync(join(stage, 'systemd', unit), unitForDistribution(readFileSync(join(ROOT, 'deploy', 'systemd', unit), 'utf8'), unit));
  }
  return stage;
}

/** tar.gz with tar (GNU tar: owner root, so an unpack as root does not keep the build user's ids). */
async function tarGz(stage, file) {
  const gnu = (await run('tar', ['--version'], ROOT)).stdout.includes('GNU tar');
  const owner = gnu ? ['--owner=0', '--group=0', '--numeric-owner', '--sort=name'] : [];
  await mustRun('tar', ['-czf', file, ...owner, '-C', join(stage, '..'), basename(stage)], ROOT);
}

async function main() {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'prefer-offline': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(
      'Usage: node scripts/dist/build.mjs [--out DIR] [--prefer-offline]\n' +
        '  --out DIR          where the artifacts go (default: release/)\n' +
        "  --prefer-offline   npm install takes the dependencies' metadata from npm's cache when it has them\n",
    );
    return;
  }
  const out = resolve(values.out ?? join(ROOT, 'release'));
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const name = `${pkg.name}-${pkg.version}`;
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'datasync-dist-'));
  try {
    const artifacts = { tgz: join(out, `${name}.tgz`), tarGz: join(out, `${name}.tar.gz`), zip: join(out, `${name}.zip`) };
    for (const file of Object.values(artifacts)) rmSync(file, { force: true });

    const tarball = await packPackage(work, out);
    if (tarball !== artifacts.tgz) throw new Error(`npm pack wrote ${tarball}, expected ${artifacts.tgz}`);
    log(`npm package: ${basename(tarball)}`);

    const stage = await stageDistribution(work, tarball, name, values['prefer-offline'] ? ['--prefer-offline'] : []);
    log(`staged ${name}/ with its production dependencies`);
    await tarGz(stage, artifacts.tarGz);
    const entries = zipDirectory(stage, join(stage, '..'), artifacts.zip);
    log(`archives: ${basename(artifacts.tarGz)}, ${basename(artifacts.zip)} (${entries} entries)`);

    const sums = [];
    for (const file of Object.values(artifacts)) sums.push(`${await sha256(file)}  ${basename(file)}`);
    writeFileSync(join(out, 'SHA256SUMS'), `${sums.join('\n')}\n`);
    for (const file of Object.values(artifacts)) log(`${file}  ${mib(statSync(file).size)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`npm run dist failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
