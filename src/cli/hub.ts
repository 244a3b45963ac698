#!/usr/bin/env node
/** `datasync-hub` — run the hub, check its configuration, or hash a password for hub.yaml. */
import type { AddressInfo } from 'node:net';
import { hashPassword, summarizeHubConfig, type HubConfig } from '../config/index.js';
import { loadCheckedHubConfig } from '../config/hub-files.js';
import { Hub } from '../hub/hub.js';
import { VERSION } from '../version.js';
import { answerMeta, loadOrReport, loggerFor, onShutdownSignal, parseCliArgs, runMain } from './args.js';
import { isListenFailure, listenFailureLine, type ListenSetting } from './listen-failure.js';

const USAGE = `Usage: datasync-hub [run|check|hash-password] --config FILE

Commands:
  run             listen for agents (default)
  check           decode the config file, open the files it names (TLS certificate and key,
                  client CA bundle) and print what would run, or every problem found
  hash-password   read a password on standard input, print its scrypt hash for hub.yaml

Options:
  -c, --config FILE   hub configuration (hub.yaml)
  -h, --help          show this help
  -v, --version       print the version

Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or usage.`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function main(argv: readonly string[]): Promise<number | undefined> {
  let args;
  try {
    args = parseCliArgs(argv, 'run');
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
    return 2;
  }
  const answered = answerMeta(args, USAGE, VERSION, ['run', 'check', 'hash-password']);
  if (answered !== undefined) return answered;
  if (args.command === 'hash-password') {
    const password = await readStdin();
    if (password.length === 0) {
      process.stderr.write('hash-password: empty password on standard input\n');
      return 2;
    }
    process.stdout.write(`${await hashPassword(password)}\n`);
    return 0;
  }
  const file = args.config ?? 'config/hub.yaml';
  // The configuration and the files it names (TLS pair, client CAs): a missing or unusable file
  // is a configuration problem with its FILE:LINE:COL, exit 2, for `check` and `run` alike.
  const checked = await loadOrReport(loadCheckedHubConfig, file);
  if (!checked) return 2;
  const { config, warnings } = checked;
  if (args.command === 'check') {
    process.stdout.write(`${file}: OK\n${summarizeHubConfig(config)}\n`);
    for (const w of warnings) process.stderr.write(`${w}\n`);
    return 0;
  }
  const logger = loggerFor(config.logging, 'datasync-hub');
  for (const w of warnings) logger.warn(w);
  const hub = new Hub(config, logger);
  try {
    await hub.listen();
  } catch (err) {
    if (!isListenFailure(err)) {
      logger.fatal({ err }, 'hub could not listen');
      return 1;
    }
    // A busy or privileged port: one line naming the key to change, no stack trace.
    const line = listenFailureLine('datasync-hub', err, listenSetting(config, file, hubListening(hub)));
    logger.fatal({ code: err.code }, line);
    logger.flush();
    process.stderr.write(`${line}\n`);
    await hub.close().catch(() => undefined);
    return 1;
  }
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'shutting down');
    await hub.close();
    return 0;
  }, logger);
  return undefined;
}

/** The main listener is up when `listen()` failed: it was the status listener that could not bind. */
function hubListening(hub: Hub): boolean {
  return (hub.address() as AddressInfo | null) !== null;
}

function listenSetting(config: HubConfig, file: string, statusFailed: boolean): ListenSetting {
  const status = config.status?.listen;
  return statusFailed && status !== undefined
    ? { portKey: 'status.listen', hostKey: 'status.listen', file, host: status.host, port: status.port }
    : { portKey: 'listen.port', hostKey: 'listen.host', file, host: config.listen.host, port: config.listen.port };
}

runMain(() => main(process.argv.slice(2)));
