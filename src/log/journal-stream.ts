/**
 * JSON lines into the systemd journal with their severity. journald files every stdout line of a
 * service at one priority (info) unless the line starts with a syslog prefix such as `<4>`,
 * which it strips and keeps as the priority. So under systemd — `JOURNAL_STREAM` names the
 * device and inode of the journal stream, and stdout is that stream — each JSON line is written
 * with the prefix of its pino level: `journalctl -p warning` then shows warnings and errors, and
 * `journalctl -o cat` still prints plain JSON. Anywhere else (a terminal, a pipe, a file, a
 * container) the lines go out unchanged.
 */
import { fstatSync, writeSync } from 'node:fs';

/** pino level → syslog priority (debug 7, info 6, warning 4, err 3, crit 2). */
function priorityOf(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/** Is `fd` the journal stream systemd connected (`JOURNAL_STREAM=<dev>:<ino>`)? */
export function writesToJournal(fd: number, journalStream = process.env['JOURNAL_STREAM']): boolean {
  if (journalStream === undefined) return false;
  const m = /^(\d+):(\d+)$/.exec(journalStream);
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}

/** `<p>` + the line: pino writes `{"level":N,` first, so the level is read from the line's head. */
export function withPriority(line: string): string {
  const m = /^\{"level":(\d+)/.exec(line);
  return m ? `<${priorityOf(Number(m[1]))}>${line}` : line;
}

/** A pino destination writing each line with its syslog priority prefix to `fd`, synchronously. */
export function journalStream(fd = 1): { write(chunk: string): boolean } {
  return {
    write(chunk: string): boolean {
      // pino writes one whole line per call on a synchronous destination.
      writeSync(fd, chunk.endsWith('\n') && chunk.indexOf('\n') === chunk.length - 1 ? withPriority(chunk) : chunk.split(/(?<=\n)/).map(withPriority).join(''));
      return true;
    },
  };
}
