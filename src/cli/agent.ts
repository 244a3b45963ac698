#!/usr/bin/env node
/** `datasync-agent` — run the agent, or check its configuration. */
import { loadAgentConfig, summarizeAgentConfig } from '../config/index.js';
import { TlsStoreError } from '../connection/tls-stores.js';
import { Agent } from '../agent/agent.js';
import { VERSION } from '../version.js';
import { answerMeta, loadOrReport, loggerFor, onShutdownSignal, parseCliArgs } from './args.js';

const USAGE = `Usage: datasync-agent [run|check] --config FILE

Commands:
  run     connect to every hub URL in the config and serve requests (default)
  check   decode the config file and print what would run, or every problem found

Options:
  -c, --config FILE   agent configuration (application.yaml)
  -h, --help          show this help
  -v, --version       print the version

Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or usage.`;

function main(argv: readonly string[]): number | undefined {
  let args;
  try {
    args = parseCliArgs(argv, 'run');
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
    return 2;
  }
  const answered = answerMeta(args, USAGE, VERSION, ['run', 'check']);
  if (answered !== undefined) return answered;
  const file = args.config ?? 'config/application.yaml';
  const config = loadOrReport(loadAgentConfig, file);
  if (!config) return 2;
  if (args.command === 'check') {
    process.stdout.write(`${file}: OK\n${summarizeAgentConfig(config)}\n`);
    return 0;
  }
  const logger = loggerFor(config.logging, 'datasync-agent');
  let agent: Agent;
  try {
    agent = new Agent(config, logger);
  } catch (err) {
    // A key store or a data source that cannot be set up: say what, not a stack trace.
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err }, `agent cannot start: ${message}`);
    process.stderr.write(`datasync-agent: cannot start: ${message}\n`);
    return err instanceof TlsStoreError ? 2 : 1;
  }
  agent.start();
  onShutdownSignal(async (signal) => {
    logger.info({ signal, gracePeriodMs: config.shutdownGracePeriod }, 'shutting down');
    await agent.shutdown(config.shutdownGracePeriod);
    // Give the close frames a moment to leave before the process ends.
    await new Promise((r) => setTimeout(r, 200));
    logger.flush();
    return 0;
  });
  return undefined;
}

const code = main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
