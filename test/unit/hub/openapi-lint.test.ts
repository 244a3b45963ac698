/**
 * The generated OpenAPI document checked by an independent linter: `redocly lint` with the
 * recommended rules (redocly.yaml in the repo root says which two are off, and why) finds no
 * error and no warning — its structural rules validate the document as OpenAPI 3.1.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { buildDocument } from '../../helpers/e2e/openapi-document.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..', '..');

it('lints clean with redocly (recommended rules, OpenAPI 3.1 structure)', async () => {
  const { document } = await buildDocument();
  const dir = mkdtempSync(join(tmpdir(), 'openapi-lint-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    let stdout: string;
    try {
      ({ stdout } = await run(join(ROOT, 'node_modules', '.bin', 'redocly'), ['lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format=json'], { cwd: ROOT }));
    } catch (err) {
      // Exit 1 when there are errors: the report is still on stdout.
      stdout = (err as { stdout?: string }).stdout ?? String(err);
    }
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string }> };
    console.log(`redocly lint: ${report.totals.errors} errors, ${report.totals.warnings} warnings`);
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
