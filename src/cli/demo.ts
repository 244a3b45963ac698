#!/usr/bin/env node
/**
 * `npm start`: the embedded default. A hub and an agent in one process on loopback, from
 * config/demo/, so a fresh checkout shows a registration without any external server.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { ConfigError, loadAgentConfig, loadHubConfig } from '../config/index.js';
import { Hub } from '../hub/hub.js';
import { createLogger } from '../log/logger.js';
import { onShutdownSignal } from './args.js';

function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'config', 'demo'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the datasync-agent package root (config/demo)');
    dir = up;
  }
  return dir;
}

async function main(): Promise<void> {
  const root = packageRoot();
  const hubConfig = loadHubConfig(join(root, 'config', 'demo', 'hub.yaml'));
  const agentConfig = loadAgentConfig(join(root, 'config', 'demo', 'application.yaml'));
  const logger = createLogger({ level: agentConfig.logging.level, name: 'datasync-demo' });
  const hub = new Hub(hubConfig, logger);
  const address = await hub.listen();
  const agent = new Agent(agentConfig, logger);
  agent.status$.subscribe((s) => {
    if (s.state === 'registered') {
      const agents = hub.registry.agents(agentConfig.agent.tenantId).map((l) => l.agentId);
      process.stderr.write(
        `\n  demo: agent ${agentConfig.agent.id} registered with the hub on ws://127.0.0.1:${address.port}/agent` +
          `\n        tenant ${agentConfig.agent.tenantId} now has agents: ${agents.join(', ')}` +
          `\n        check a config the way an operator would:  npx datasync-agent check --config config/application.yaml` +
          `\n        run a hub and an agent as two processes:   see README "Run a hub and an agent"` +
          `\n        Ctrl-C stops the demo.\n\n`,
      );
    }
  });
  agent.start();
  onShutdownSignal(async () => {
    agent.stop();
    await hub.close();
    logger.flush();
    return 0;
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = err instanceof ConfigError ? 2 : 1;
});
