/**
 * Root pino logger with secrets redacted by path and each key once per line (unique-keys.ts).
 * Children are made with `logger.child({component})` and never get their own `redact` (it would
 * replace these paths).
 */
import { SECRET_KEYS as CONFIG_SECRET_KEYS } from '../support/secret-keys.js';
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { journalStream, writesToJournal } from './journal-stream.js';
import { prettyStream } from './pretty-stream.js';
import { logMethodWithUniqueKeys, withUniqueKeys } from './unique-keys.js';

/** A key as a pino redact path segment: bracketed unless it is an identifier. */
const segment = (key: string, first: boolean): string =>
  /^[A-Za-z_$][\w$]*$/.test(key) ? `${first ? '' : '.'}${key}` : `[${JSON.stringify(key)}]`;

/**
 * The paths redacted in every log line: config secrets (one list, shared with the config
 * reporter, including the `secretKeys` every registered data-source type declares) plus
 * credentials in headers and tokens. pino `*.x` matches one level only: the depths we log at are
 * listed explicitly. Computed when a logger is created, so plugins are loaded before.
 */
export function redactPaths(): string[] {
  const keys = [...CONFIG_SECRET_KEYS, 'token', 'authorization', 'Authorization'];
  return [
    ...keys.flatMap((k) => [segment(k, true), `*${segment(k, false)}`, `*.*${segment(k, false)}`, `*.*.*${segment(k, false)}`]),
    ...['authorization', 'proxy-authorization'].flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
  ];
}

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  /** Log file path; stdout when absent. */
  readonly file?: string;
  readonly name?: string;
  /** stdout only: `pretty` writes human lines (src/log/pretty-stream.ts). Default `json`; a file is always JSON. */
  readonly format?: 'json' | 'pretty';
}

/** `logging.format: auto` resolved: human lines on a terminal, JSON for journald, files and pipes. */
export function resolveLogFormat(format: 'auto' | 'json' | 'pretty', stdoutIsTerminal = process.stdout.isTTY === true): 'json' | 'pretty' {
  return format === 'auto' ? (stdoutIsTerminal ? 'pretty' : 'json') : format;
}

export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  // stdout is written synchronously (pino's own default): an asynchronous destination costs a
  // thread-pool hop and an extra event-loop wake-up per line (~40-70 µs per small request).
  const stdout = (): DestinationStream => {
    if (options.format === 'pretty') return prettyStream(1, { colour: process.stdout.isTTY === true && !process.env['NO_COLOR'] });
    // Under systemd each line carries its severity for journald (journal-stream.ts).
    if (writesToJournal(1)) return journalStream(1);
    return pino.destination({ dest: 1, sync: true });
  };
  const dest = destination ?? (options.file ? rollingFile(options.file) : stdout());
  return withUniqueKeys(
    serialisePrimitivesDirectly(
      pino(
        {
          name: options.name ?? 'datasync',
          level: options.level,
          redact: { paths: redactPaths(), censor: '[REDACTED]' },
          serializers: { err: pino.stdSerializers.err },
          hooks: { logMethod: logMethodWithUniqueKeys },
        },
        dest,
      ),
    ),
  );
}

type Stringify = (value: unknown, safe?: unknown) => string | undefined;

/**
 * pino serialises every top-level value of a line, and every binding of a child logger, through
 * the redactor of the paths that begin with `*` — strings and numbers included, each walking all
 * REDACT_PATHS (tens of µs per value: the largest cost of a per-request child logger or access
 * log line). A value that is not an object has nothing under it to redact, so it is serialised
 * with pino's own stringify directly, which is what the redactor ends with anyway; objects and
 * functions still go through the redactor. Top-level secret keys keep their own censoring
 * stringifier. Children share the root's stringifiers, so they get this too.
 */
function serialisePrimitivesDirectly(logger: Logger): Logger {
  const { stringifiersSym, wildcardFirstSym, stringifySym } = pino.symbols;
  const internals = logger as unknown as Record<symbol, unknown>;
  const stringifiers = internals[stringifiersSym] as Record<symbol, Stringify | undefined> | undefined;
  const redacting = stringifiers?.[wildcardFirstSym];
  const stringify = internals[stringifySym] as Stringify | undefined;
  if (stringifiers === undefined || redacting === undefined || stringify === undefined) return logger;
  stringifiers[wildcardFirstSym] = (value, safe) =>
    value === null || (typeof value !== 'object' && typeof value !== 'function') ? stringify(value, safe) : redacting(value, safe);
  return logger;
}

/**
 * A daemon that runs for years must not fill the disk: files roll daily or at 10 MiB, and the
 * newest 14 are kept (pino-roll runs in a worker thread, off the event loop).
 */
function rollingFile(file: string): DestinationStream {
  return pino.transport({
    target: 'pino-roll',
    options: { file, frequency: 'daily', size: '10m', mkdir: true, limit: { count: 14 } },
  });
}

export type { Logger } from 'pino';
