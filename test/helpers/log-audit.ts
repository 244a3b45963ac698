/**
 * Every log line a test sees — from the CLIs it runs (test/helpers/cli.ts) and from in-process
 * loggers (test/helpers/log-capture.ts) — is checked for a key written twice in one object
 * (`"component":"agent","component":"status"`): JSON.parse would silently keep the last value,
 * so the check reads the text itself. Registered as a setup file: each test file fails at its
 * end if any line it produced repeats a key, and names the line.
 */
import { afterAll, expect } from 'vitest';

interface Frame {
  readonly keys: Set<string> | undefined; // undefined: an array
  expectKey: boolean;
}

/** The keys written more than once within one JSON object of `text` (empty when none, or not JSON). */
export function repeatedKeys(text: string): string[] {
  const repeated: string[] = [];
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (top?.keys !== undefined && top.expectKey) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          return repeated;
        }
        if (top.keys.has(key)) repeated.push(key);
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: undefined, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack.at(-1);
      if (top?.keys !== undefined) top.expectKey = true;
    }
    i += 1;
  }
  return repeated;
}

const seen = { lines: 0, offending: [] as string[] };

/** Checks one line (JSON or not) a test saw. */
export function auditLogLine(line: string): void {
  if (!line.startsWith('{')) return;
  seen.lines += 1;
  const keys = repeatedKeys(line);
  if (keys.length > 0 && seen.offending.length < 20) seen.offending.push(`${keys.join(', ')} repeated in ${line.slice(0, 400)}`);
}

/** Lines audited so far in this file, and the offending ones. */
export const logAudit = (): { readonly lines: number; readonly offending: readonly string[] } => ({ ...seen });

afterAll(() => {
  expect(seen.offending, 'log lines with a key written twice').toEqual([]);
});
