import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// dist/src/version.js and src/version.ts both sit two levels below package.json … or one.
function readVersion(): string {
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(p) as { name?: unknown; version?: unknown };
      if (pkg.name === 'datasync-agent' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}

/** The package version, sent in `hello.agent.version` and printed by `--version`. */
export const VERSION: string = readVersion();
