import { parseArgs } from 'node:util';
import { ConfigError, type LoggingConfig } from '../config/index.js';
import { createLogger, resolveLogFormat, type Logger } from '../log/logger.js';

export interface CliArgs {
  readonly command: string;
  readonly config: string | undefined;
  readonly help: boolean;
  readonly version: boolean;
  /** `--offline` (agent `check` only): decode the config, test nothing. */
  readonly offline: boolean;
  /** `--timeout MS` (agent `check` only): deadline of each live check. */
  readonly timeoutMs: number | undefined;
}

/** Flags only some CLIs take; a CLI that does not accept one rejects it as unknown. */
export interface ExtraFlags {
  readonly offline?: boolean;
  readonly timeout?: boolean;
}

/** `prog [command] [--config FILE] [--help] [--version]`; unknown flags throw a TypeError. */
export function parseCliArgs(argv: readonly string[], defaultCommand: string, extra: ExtraFlags = {}): CliArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      ...(extra.offline === true ? { offline: { type: 'boolean' } } : {}),
      ...(extra.timeout === true ? { timeout: { type: 'string' } } : {}),
    },
  });
  if (positionals.length > 1) throw new TypeError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  const timeout: unknown = values['timeout'];
  let timeoutMs: number | undefined;
  if (typeof timeout === 'string') {
    timeoutMs = /^\d+$/.test(timeout) ? Number(timeout) : NaN;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`--timeout expects a positive number of milliseconds, got ${JSON.stringify(timeout)}`);
    }
  }
  return {
    command: positionals[0] ?? defaultCommand,
    config: values.config,
    help: values.help ?? false,
    version: values.version ?? false,
    offline: values['offline'] === true,
    timeoutMs,
  };
}

/**
 * Waits for SIGINT/SIGTERM once, then runs `stop` and exits with its code. With a logger, the
 * last line logged is `stopped`, with the signal and the exit code (or the error that made the
 * stop fail, exit 1): an operator reading the log sees the process ended on purpose.
 */
export function onShutdownSignal(stop: (signal: string) => Promise<number>, log?: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    const exit = (code: number, err?: unknown): never => {
      log?.info({ signal, exitCode: code, ...(err === undefined ? {} : { err }) }, 'stopped');
      log?.flush();
      process.exit(code);
    };
    stop(signal).then(
      (code) => exit(code),
      (err: unknown) => exit(1, err),
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

/** Loads a config file; on a ConfigError prints every problem and returns undefined (exit 2). */
export async function loadOrReport<C>(load: (file: string) => C | Promise<C>, file: string): Promise<C | undefined> {
  try {
    return await load(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return undefined;
    }
    throw err;
  }
}

/** Answers `--help`, `--version` and unknown commands; returns an exit code when it did. */
export function answerMeta(args: CliArgs, usage: string, version: string, commands: readonly string[]): number | undefined {
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  if (!commands.includes(args.command)) {
    process.stderr.write(`unknown command ${JSON.stringify(args.command)}\n\n${usage}\n`);
    return 2;
  }
  return undefined;
}

/** The process logger from a config's `logging` section (stdout, or a rolling file). */
export function loggerFor(logging: LoggingConfig, name: string): Logger {
  return createLogger({ level: logging.level, format: resolveLogFormat(logging.format), ...(logging.file ? { file: logging.file } : {}), name });
}

/**
 * Runs a CLI's `main`: a number is the exit code, `undefined` means the process keeps running
 * (a daemon); a failure is printed (a ConfigError as its problem list) with exit code 2 for
 * configuration errors, 1 otherwise.
 */
export function runMain(main: () => Promise<number | undefined>): void {
  main().then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = err instanceof ConfigError ? 2 : 1;
    },
  );
}
