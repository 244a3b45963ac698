/**
 * The layering rules (.dependency-cruiser.cjs, run on src/ by `npm run lint:deps` in `npm test`)
 * are able to fail. The same CLI with the same configuration is run on test/fixtures/layering,
 * a small src/ tree with one forbidden arrow per rule among allowed ones (a type-only cycle,
 * metrics reading a hub type, adapters importing adapters/directory, a SQL adapter importing the
 * kit and its own folder): it must report exactly the forbidden arrows, every rule at least once,
 * and exit non-zero the way `lint:deps` does.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/layering');
const CLI = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

interface Violation {
  readonly type: string;
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string; readonly severity: string };
}

interface CruiseJson {
  readonly summary: {
    readonly violations: readonly Violation[];
    readonly error: number;
    readonly ruleSetUsed: { readonly forbidden: ReadonlyArray<{ readonly name: string }> };
  };
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs depcruise on the fixture's src/ (paths in its answer are relative to the fixture). */
function depcruise(...extra: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, 'src', '--config', CONFIG, ...extra],
      { cwd: FIXTURE, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        // A non-zero exit is an answer here; only a failure to run at all is an error.
        if (err === null) resolve({ code: 0, stdout, stderr });
        else if (typeof err.code === 'number') resolve({ code: err.code, stdout, stderr });
        else reject(new Error(`depcruise did not run: ${err.message}`, { cause: err }));
      },
    );
  });
}

/** The forbidden arrows of the fixture, as `rule: from → to` (a cycle: its modules, sorted). */
const EXPECTED = [
  'adapter-kit-imports-only-lower-layers: src/adapter-kit/runner.ts → src/pipeline/run.ts',
  'adapters-do-not-import-each-other: src/adapters/ldif/load.ts → src/adapters/ldap/filter.ts',
  'adapters-import-only-the-kit-and-neutral-layers: src/adapters/scim/transport.ts → src/connection/session.ts',
  'config-imports-only-protocol-and-support: src/config/tls-check.ts → src/connection/session.ts',
  'hub-shares-only-neutral-layers-with-the-agent: src/hub/agent-link.ts → src/connection/session.ts',
  'log-is-neutral: src/log/config-level.ts → src/config/codecs.ts',
  'metrics-do-not-depend-on-hub-or-pipeline-code: src/metrics/agent-metrics.ts → src/hub/registry.ts',
  'no-circular: src/agent/health-listener.ts ↔ src/agent/health.ts',
  'operators-are-generic: src/operators/configured.ts → src/config/codecs.ts',
  'pipeline-knows-adapters-only-through-the-kit: src/pipeline/builtin-search.ts → src/adapters/ldap/search.ts',
  'protocol-imports-only-support: src/protocol/frames.ts → src/config/codecs.ts',
  'resolvable: src/cli/main.ts → ./missing.js',
  'sql-adapter-imports-only-the-kit: src/adapters/sql/codecs.ts → src/config/codecs.ts',
  'support-imports-nothing-of-ours: src/support/leak.ts → src/protocol/codec.ts',
];

function arrow(v: Violation): string {
  if (v.type === 'cycle') return `${v.rule.name}: ${[v.from, v.to].sort().join(' ↔ ')}`;
  return `${v.rule.name}: ${v.from} → ${v.to}`;
}

describe('layering rules (.dependency-cruiser.cjs)', () => {
  // Each run starts the CLI (and TypeScript): a few seconds on a loaded machine.
  let json: Run;
  let text: Run;
  beforeAll(async () => {
    [json, text] = await Promise.all([depcruise('--output-type', 'json'), depcruise()]);
  }, 120_000);

  it('report exactly the forbidden arrows of the fixture, and every rule is among them', () => {
    expect(json.stderr).toBe('');
    const result = JSON.parse(json.stdout) as CruiseJson;

    const found = [...new Set(result.summary.violations.map(arrow))].sort();
    expect(found).toEqual(EXPECTED);
    expect(result.summary.violations.every((v) => v.rule.severity === 'error')).toBe(true);

    // A rule added to the configuration without a forbidden arrow here fails this test.
    const rules = result.summary.ruleSetUsed.forbidden.map((r) => r.name).sort();
    const reported = [...new Set(result.summary.violations.map((v) => v.rule.name))].sort();
    expect(reported).toEqual(rules);
  });

  it('fail the command the way `npm run lint:deps` runs it (non-zero exit, each violation named)', () => {
    expect(text.code).not.toBe(0);
    for (const line of EXPECTED) expect(text.stdout).toContain(`error ${line.split(':')[0]}:`);
    expect(text.stdout).toMatch(/14 dependency violations \(14 errors, 0 warnings\)/);
  });
});
