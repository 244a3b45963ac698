#!/usr/bin/env node
/**
 * `npm start`: the embedded default. A hub and an agent in one process on loopback, from
 * config/demo/: the agent serves an in-memory `ldif` directory (config/demo/directory.ldif), and
 * the hub's HTTP API is open to the demo token — so a fresh checkout can search and export
 * through the whole relay without any external server. Prints the curl commands to try.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { loadHubConfig } from '../config/index.js';
import { loadAgentConfig } from '../agent/load-config.js';
import { Hub } from '../hub/hub.js';
import { createLogger, resolveLogFormat } from '../log/logger.js';
import { onShutdownSignal, runMain } from './args.js';
import { isListenFailure, listenFailureLine } from './listen-failure.js';

/** The API token whose hash is in config/demo/hub.yaml. */
const DEMO_TOKEN = 'demo-token';

function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'config', 'demo'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the datasync-agent package root (config/demo)');
    dir = up;
  }
  return dir;
}

/** The commands a newcomer runs first; each works exactly as printed (see test/e2e/demo.test.ts). */
export function demoCommands(base: string, dataSource: string): Array<{ what: string; command: string }> {
  const auth = `-H 'Authorization: Bearer ${DEMO_TOKEN}'`;
  const ds = `${base}/v1/data-sources/${dataSource}`;
  const json = `-H 'Content-Type: application/json'`;
  const records = [
    '{"op":"add","dn":"uid=newhire,ou=people,dc=demo,dc=example","attributes":{"objectClass":["inetOrgPerson"],"uid":"newhire","cn":"New Hire","sn":"Hire","mail":"newhire@demo.example"}}',
    '{"op":"modify","dn":"uid=newhire,ou=people,dc=demo,dc=example","changes":[{"operation":"replace","attribute":"title","values":["Engineer"]}]}',
    '{"op":"delete","dn":"uid=nobody,ou=people,dc=demo,dc=example"}',
  ];
  return [
    { what: "the tenant's agents", command: `curl -s ${auth} ${base}/v1/agents` },
    { what: 'test the data source', command: `curl -s -X POST ${auth} ${ds}/test` },
    {
      what: 'search, streamed as NDJSON (one entry per line, then a summary line)',
      command: `curl -sN ${auth} ${json} -d '{"filter":"(&(objectClass=person)(cn=A*))","attributes":["cn","mail"]}' ${ds}/search`,
    },
    { what: 'one entry', command: `curl -s ${auth} ${json} -d '{"dn":"uid=zangstrom,ou=people,dc=demo,dc=example"}' ${ds}/get` },
    {
      what: 'a streamed export: NDJSON records in, one result per record out (the delete fails: no such entry)',
      command: `printf '%s\\n' ${records.map((r) => `'${r}'`).join(' ')} | curl -sN ${auth} -H 'Content-Type: application/x-ndjson' --data-binary @- ${ds}/export`,
    },
    { what: 'the API description', command: `curl -s ${base}/v1/openapi.json` },
  ];
}

async function main(): Promise<void> {
  const root = packageRoot();
  const hubConfig = loadHubConfig(join(root, 'config', 'demo', 'hub.yaml'));
  const agentConfig = loadAgentConfig(join(root, 'config', 'demo', 'application.yaml'));
  const logger = createLogger({ level: agentConfig.logging.level, format: resolveLogFormat(agentConfig.logging.format), name: 'datasync-demo' });
  const hub = new Hub(hubConfig, logger);
  let address;
  try {
    address = await hub.listen();
  } catch (err) {
    if (!isListenFailure(err)) throw err;
    // A second demo, or anything else on the demo's port: one line, no stack, exit 1.
    const { host, port } = hubConfig.listen;
    const file = 'config/demo/hub.yaml, or set DEMO_HUB_PORT';
    process.stderr.write(`${listenFailureLine('datasync-demo', err, { portKey: 'listen.port', hostKey: 'listen.host', file, host, port })}\n`);
    await hub.close().catch(() => undefined);
    process.exitCode = 1;
    return;
  }
  const agent = new Agent(agentConfig, logger);
  const base = `http://127.0.0.1:${address.port}`;
  const dataSource = Object.keys(agentConfig.dataSources)[0] ?? 'directory';
  let shown = false;
  agent.status$.subscribe((s) => {
    if (s.state !== 'registered' || shown) return;
    shown = true;
    const lines = demoCommands(base, dataSource).flatMap(({ what, command }) => [`  # ${what}`, `  ${command}`, '']);
    process.stdout.write(
      `\n  datasync demo: hub on ${base} (agents connect to ws://127.0.0.1:${address.port}/agent), ` +
        `agent ${agentConfig.agent.id} registered for tenant ${agentConfig.agent.tenantId}, serving data source '${dataSource}'.\n` +
        `  Try it (API token: ${DEMO_TOKEN}):\n\n${lines.join('\n')}\n` +
        `  Production-style examples: config/application.yaml, config/hub.yaml. Ctrl-C stops the demo.\n\n`,
    );
  });
  agent.start();
  onShutdownSignal(async () => {
    await agent.shutdown(agentConfig.shutdownGracePeriod);
    await hub.close();
    return 0;
  }, logger);
  stopWithParent();
}

/**
 * `npm start` runs the demo under `sh -c`: a SIGTERM to npm ends that shell, not this process,
 * which would go on holding its port, re-parented. When the parent changes, the demo stops as if
 * it had been sent SIGTERM itself.
 */
function stopWithParent(): void {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(watch);
      process.kill(process.pid, 'SIGTERM');
    }
  }, 250);
  watch.unref();
}

runMain(async () => {
  await main();
  return undefined;
});
