/**
 * Human-readable log lines for a terminal (`logging.format: pretty`, or `auto` when stdout is a
 * terminal): pino still writes its JSON line — redacted, each key once — and this stream turns
 * it into `time LEVEL [component] message key=value …`, with an error's stack on the lines
 * after. A line that is not a pino record is passed through as it came. No dependency: the
 * format is small, and a daemon's log path should not load a formatting library.
 */
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';

const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Readonly<Record<number, string>> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields shown in the line's head, or not at all. */
const HEAD = new Set(['level', 'time', 'msg', 'component', 'pid', 'hostname', 'name', 'err']);

export interface PrettyOptions {
  /** ANSI colour for the level. Default: off. */
  readonly colour?: boolean;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Local time `YYYY-MM-DD HH:MM:SS.mmm`: a terminal reader thinks in the machine's time. */
function localTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** `key=value`: strings bare unless they hold a space, quote or `=`; everything else as JSON. */
function field(key: string, value: unknown): string {
  if (typeof value === 'string') return `${key}=${/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`;
  return `${key}=${JSON.stringify(value)}`;
}

/** One pino JSON line as a human line (without the newline); `undefined` when it is not a record. */
export function prettyLine(json: string, options: PrettyOptions = {}): string | undefined {
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    rec = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const level = typeof rec['level'] === 'number' ? rec['level'] : 30;
  const label = (LEVELS[level] ?? String(level)).padEnd(5);
  const shown = options.colour ? `\u001b[${COLOURS[level] ?? '0'}m${label}\u001b[0m` : label;
  const time = typeof rec['time'] === 'number' ? localTime(rec['time']) : '';
  const component = typeof rec['component'] === 'string' ? ` [${rec['component']}]` : '';
  const msg = typeof rec['msg'] === 'string' ? ` ${rec['msg']}` : '';
  const rest = Object.entries(rec)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => ` ${field(k, v)}`)
    .join('');
  let out = `${time} ${shown}${component}${msg}${rest}`;
  const err = rec['err'] as { type?: unknown; message?: unknown; code?: unknown; stack?: unknown } | undefined;
  if (err !== undefined && err !== null && typeof err === 'object') {
    const head = `${typeof err.type === 'string' ? err.type : 'Error'}${typeof err.code === 'string' ? ` ${err.code}` : ''}: ${typeof err.message === 'string' ? err.message : JSON.stringify(err.message ?? '')}`;
    const stack = typeof err.stack === 'string' ? err.stack.split('\n').slice(1) : [];
    out += `\n    ${head}${stack.map((l) => `\n    ${l.trim()}`).join('')}`;
  }
  return out;
}

/** A destination for pino that writes human lines to a file descriptor (stdout: 1), synchronously. */
export function prettyStream(fd = 1, options: PrettyOptions = {}): Writable {
  let partial = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      let out = '';
      for (const line of lines) if (line !== '') out += `${prettyLine(line, options) ?? line}\n`;
      if (out !== '') writeSync(fd, out);
      done();
    },
    final(done) {
      if (partial !== '') writeSync(fd, `${prettyLine(partial, options) ?? partial}\n`);
      done();
    },
  });
}
