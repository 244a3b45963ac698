#!/usr/bin/env node
/** `datasync-hub` — run the hub, check its configuration, or hash a password for hub.yaml. */
import { hashPassword, loadHubConfig, summarizeHubConfig } from '../config/index.js';
import { Hub } from '../hub/hub.js';
import { VERSION } from '../version.js';
import { answerMeta, loadOrReport, loggerFor, onShutdownSignal, parseCliArgs, runMain } from './args.js';

const USAGE = `Usage: datasync-hub [run|check|hash-password] --config FILE

Commands:
  run             listen for agents (default)
  check           decode the config file and print what would run, or every problem found
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
  const config = await loadOrReport(loadHubConfig, file);
  if (!config) return 2;
  if (args.command === 'check') {
    process.stdout.write(`${file}: OK\n${summarizeHubConfig(config)}\n`);
    return 0;
  }
  const logger = loggerFor(config.logging, 'datasync-hub');
  const hub = new Hub(config, logger);
  try {
    await hub.listen();
  } catch (err) {
    logger.fatal({ err }, 'hub could not listen');
    return 1;
  }
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'shutting down');
    await hub.close();
    logger.flush();
    return 0;
  });
  return undefined;
}

runMain(() => main(process.argv.slice(2)));
