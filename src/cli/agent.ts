#!/usr/bin/env node
/** `datasync-agent` — run the agent, or check its configuration and what it connects to. */
import { summarizeAgentConfig } from '../config/index.js';
import { agentConfigWarnings } from '../config/agent-config.js';
import { loadAgentConfigWithPlugins } from '../agent/load-config.js';
import { TlsStoreError } from '../support/tls-stores.js';
import { ProxyConfigError } from '../support/proxy-url.js';
import { Agent } from '../agent/agent.js';
import { VERSION } from '../version.js';
import { answerMeta, loadOrReport, loggerFor, onShutdownSignal, parseCliArgs, runMain } from './args.js';
import { DEFAULT_CHECK_TIMEOUT_MS, checkExitCode, formatCheckTable, runChecks } from './check.js';
import { isListenFailure, listenFailureLine } from './listen-failure.js';

const USAGE = `Usage: datasync-agent [run|check] --config FILE [--offline] [--timeout MS]

Commands:
  run     connect to every hub URL in the config and serve requests (default)
  check   decode the config file and print what would run (or every problem found), then
          test it live: each data source (connect, bind/authenticate, read) and each hub URL
          (DNS, TCP, proxy, TLS, path and credentials up to the WebSocket upgrade; it closes
          right after, without registering, so a running agent is not disturbed); prints
          CHECK | TARGET | RESULT | DETAIL

Options:
  -c, --config FILE   agent configuration (default config/application.yaml)
      --offline       check: only decode the config, test nothing
      --timeout MS    check: deadline of each live test (default ${DEFAULT_CHECK_TIMEOUT_MS})
  -h, --help          show this help
  -v, --version       print the version

Exit codes: 0 ok (check: every test passed), 1 runtime failure (check: a live test failed),
2 invalid configuration or usage.`;

async function main(argv: readonly string[]): Promise<number | undefined> {
  let args;
  try {
    args = parseCliArgs(argv, 'run', { offline: true, timeout: true });
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
    return 2;
  }
  const answered = answerMeta(args, USAGE, VERSION, ['run', 'check']);
  if (answered !== undefined) return answered;
  if (args.command !== 'check' && (args.offline || args.timeoutMs !== undefined)) {
    process.stderr.write(`--offline and --timeout go with check\n\n${USAGE}\n`);
    return 2;
  }
  const file = args.config ?? 'config/application.yaml';
  const config = await loadOrReport(loadAgentConfigWithPlugins, file);
  if (!config) return 2;
  if (args.command === 'check') {
    process.stdout.write(`${file}: OK\n${summarizeAgentConfig(config)}\n`);
    for (const w of agentConfigWarnings(config)) process.stdout.write(`warning: ${w}\n`);
    if (args.offline) return 0;
    const rows = await runChecks(config, { timeoutMs: args.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS });
    process.stdout.write(`\n${formatCheckTable(rows)}\n`);
    return checkExitCode(rows);
  }
  const logger = loggerFor(config.logging, 'datasync-agent');
  let agent: Agent;
  try {
    agent = new Agent(config, logger);
  } catch (err) {
    // A key store, a proxy URL (HTTPS_PROXY, …) or a data source that cannot be set up: say
    // what, not a stack trace. The first two are configuration: exit 2, so a service manager
    // does not restart into the same failure (ProxyConfigError carries no unmasked URL).
    const message = err instanceof Error ? err.message : String(err);
    const config = err instanceof TlsStoreError || err instanceof ProxyConfigError;
    logger.fatal({ err }, `agent cannot start: ${message}`);
    process.stderr.write(`datasync-agent: ${config ? 'invalid configuration' : 'cannot start'}: ${message}\n`);
    return config ? 2 : 1;
  }
  // A stray promise rejection of a data source is logged and recorded, and the agent goes on;
  // an uncaught exception is fatal (exit 1): see src/agent/process-guard.ts.
  agent.processGuard.install();
  agent.start();
  onShutdownSignal(async (signal) => {
    logger.info({ signal, gracePeriodMs: config.shutdownGracePeriod }, 'shutting down');
    await agent.shutdown(config.shutdownGracePeriod);
    // Give the close frames a moment to leave before the process ends.
    await new Promise((r) => setTimeout(r, 200));
    return 0;
  }, logger);
  try {
    await agent.statusAddress();
  } catch (err) {
    // The status listener (status.listen) cannot bind: one line naming the key, exit 1 — an
    // agent whose health endpoint is missing would look dead to its orchestrator anyway.
    const status = config.status?.listen;
    // Anything else was logged by the agent, which goes on without its status listener.
    if (!isListenFailure(err) || status === undefined) return undefined;
    const line = listenFailureLine('datasync-agent', err, {
      portKey: 'status.listen',
      hostKey: 'status.listen',
      file,
      host: status.host,
      port: status.port,
    });
    logger.fatal({ code: err.code }, line);
    logger.flush();
    process.stderr.write(`${line}\n`);
    await agent.close();
    return 1;
  }
  return undefined;
}

runMain(() => main(process.argv.slice(2)));
