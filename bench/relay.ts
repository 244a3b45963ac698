/**
 * The relay under benchmark: a hub in this process and the agent as its own process (as in
 * production, so its memory can be sampled), registered for tenant `bench` with Basic auth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { hashPassword, loadHubConfig } from '../src/config/index.js';
import { Hub } from '../src/hub/hub.js';
import { createLogger } from '../src/log/logger.js';

export interface BenchRelay {
  readonly hub: Hub;
  /** The agent process's pid, for RSS sampling. */
  readonly pid: number;
  /** Stops the agent process (SIGTERM, waits) and the hub. */
  close(): Promise<void>;
}

export interface BenchRelayOptions {
  /** Working directory for the config files. */
  readonly dir: string;
  /** The agent's `dataSources` section (YAML, indented as under `dataSources:`). */
  readonly dataSources: string;
  /** Serve the hub over TLS with these PEM files; the agent trusts `caFile`. */
  readonly tls?: { certFile: string; keyFile: string; caFile: string };
}

export async function startBenchRelay(options: BenchRelayOptions): Promise<BenchRelay> {
  const { dir, tls } = options;
  const hubFile = join(dir, 'hub.yaml');
  writeFileSync(
    hubFile,
    `logging: { level: warn }
listen: { host: 127.0.0.1, port: 0, path: /agent }
${tls ? `tls: { cert: ${tls.certFile}, key: ${tls.keyFile} }` : ''}
tenants:
  bench:
    agents:
      - userName: bench
        passwordHash: ${await hashPassword('bench-pw')}
`,
  );
  const hub = new Hub(loadHubConfig(hubFile, {}), createLogger({ level: 'warn' }));
  const { port } = await hub.listen();
  const agentFile = join(dir, 'agent.yaml');
  writeFileSync(
    agentFile,
    `logging: { level: warn }
agent:
  id: bench-agent
  urls: [${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/agent]
  tenantId: bench
  userName: bench
  password: bench-pw
${tls ? `  trustStore: ${tls.caFile}` : ''}
dataSources:
${options.dataSources}
`,
  );
  const registered = firstValueFrom(hub.registry.events$.pipe(filter((e) => e.type === 'registered')));
  const nodeFlags = (process.env['BENCH_AGENT_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
  const agent: ChildProcess = spawn(process.execPath, [...nodeFlags, join(import.meta.dirname, '..', 'src', 'cli', 'agent.js'), '--config', agentFile], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<never>((_, reject) =>
    agent.once('exit', (code, signal) => reject(new Error(`agent exited early (code ${code}, signal ${signal})`))),
  );
  exited.catch(() => undefined);
  try {
    await Promise.race([registered, exited]);
  } catch (err) {
    await hub.close();
    throw err;
  }
  return {
    hub,
    pid: agent.pid!,
    close: async () => {
      if (agent.exitCode === null && agent.signalCode === null) {
        const gone = new Promise((r) => agent.once('exit', r));
        agent.kill('SIGTERM');
        await gone;
      }
      await hub.close();
    },
  };
}
