/**
 * Severity for journald (src/log/journal-stream.ts): under systemd each JSON line starts with its
 * syslog priority, which journald strips and keeps; anywhere else lines are unchanged. The
 * logger is run in a child process whose stdout is a file named by JOURNAL_STREAM, as systemd
 * names the journal stream.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { withPriority, writesToJournal } from '../../../src/log/journal-stream.js';

const dir = mkdtempSync(join(tmpdir(), 'datasync-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const LOGGER = pathToFileURL(join(import.meta.dirname, '..', '..', '..', 'dist', 'src', 'log', 'logger.js')).href;

/** Runs the built logger with stdout into a file; JOURNAL_STREAM names that file (or not). */
function logInChild(name: string, journal: 'this file' | 'another file' | 'unset'): string[] {
  const file = join(dir, name);
  const fd = openSync(file, 'w');
  const st = fstatSync(fd);
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };
  if (journal === 'this file') env['JOURNAL_STREAM'] = `${st.dev}:${st.ino}`;
  if (journal === 'another file') env['JOURNAL_STREAM'] = `${st.dev}:${st.ino + 1}`;
  const script = `import(${JSON.stringify(LOGGER)}).then(({ createLogger }) => {
    const log = createLogger({ level: 'debug', format: 'json' }).child({ component: 't' });
    log.debug('d'); log.info('i'); log.warn({ password: 'pw-secret' }, 'w'); log.error('e'); log.fatal('f');
  });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', fd, 'pipe'], env });
  closeSync(fd);
  expect(r.status, r.stderr.toString()).toBe(0);
  return readFileSync(file, 'utf8').trim().split('\n');
}

describe('log lines into the systemd journal', () => {
  it('under systemd (stdout is JOURNAL_STREAM): each line starts with its priority, then the same JSON', () => {
    const lines = logInChild('journal.log', 'this file');
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['<7>', '<6>', '<4>', '<3>', '<2>']);
    const records = lines.map((l) => JSON.parse(l.slice(3)) as Record<string, unknown>);
    expect(records.map((r) => r['msg'])).toEqual(['d', 'i', 'w', 'e', 'f']);
    expect(lines.join('\n')).not.toContain('pw-secret');
  });

  it('anywhere else the lines are plain JSON: JOURNAL_STREAM unset, or naming another stream', () => {
    for (const [name, journal] of [['plain.log', 'unset'], ['other.log', 'another file']] as const) {
      const lines = logInChild(name, journal);
      expect(lines).toHaveLength(5);
      for (const l of lines) expect(l.startsWith('{"level":')).toBe(true);
    }
  });

  it('the prefix is read from the line head; other text passes unchanged; malformed JOURNAL_STREAM is ignored', () => {
    expect(withPriority('{"level":40,"msg":"x"}\n')).toBe('<4>{"level":40,"msg":"x"}\n');
    expect(withPriority('not a record\n')).toBe('not a record\n');
    expect(writesToJournal(1, 'garbage')).toBe(false);
    expect(writesToJournal(1, undefined)).toBe(false);
  });
});
