/**
 * The repository explains itself: no file cites a document that is not in it (the founding
 * design, style and library notes lived outside the repo once; their content is in docs/), and
 * every `docs/<name>.md` a file names exists.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const TEXT = /\.(ts|js|cjs|mjs|md|json|yaml|yml|sh)$/;
const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => TEXT.test(f) && !f.startsWith('test/fixtures/') && existsSync(join(ROOT, f)));

// Built from parts so this file does not match itself.
const OUTSIDE = new RegExp(['\\.\\./shared', '(DESIGN|STYLE|LIBRARIES)\\.md', '(DESIGN|STYLE) §'].join('|'));

describe('the repository is self-contained', () => {
  it('lists a plausible number of files', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it('cites no document outside the repository', () => {
    const hits = files.flatMap((f) =>
      readFileSync(join(ROOT, f), 'utf8')
        .split('\n')
        .flatMap((line, i) => (OUTSIDE.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits).toEqual([]);
  });

  it('every docs/<name>.md named in the code and docs exists', () => {
    const missing = new Set<string>();
    for (const f of files) {
      for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/\bdocs\/([\w-]+\.md)\b/g)) {
        if (!existsSync(join(ROOT, 'docs', m[1]!))) missing.add(`${f}: docs/${m[1]}`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
