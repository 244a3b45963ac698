/**
 * The product under benchmark as an operator runs it: `datasync-hub` and `datasync-agent`
 * started from dist/ as their own processes (so /proc measures each alone), with YAML written
 * here. The hub has tenant `bench` with a hashed API token and Basic agent credentials, default
 * settings otherwise, plain (ws/http) or TLS (wss/https, test PKI). Each agent offers one LDAP
 * data source; its name says which agent serves a request (the hub would otherwise balance
 * between agents offering the same name). Process logs go to files in the work directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, Pool, request, type Dispatcher } from 'undici';
import { hashPassword } from '../src/config/index.js';
import { freePort } from '../test/helpers/slapd.js';

export const API_TOKEN = 'bench-api-token-0123456789abcdef';
const AGENT_PASSWORD = 'bench-agent-password';
const DIST = join(import.meta.dirname, '..');
const HUB_BIN = join(DIST, 'src', 'cli', 'hub.js');
const AGENT_BIN = join(DIST, 'src', 'cli', 'agent.js');

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function spawnDaemon(bin: string, configFile: string, logFile: string): ChildProcess {
  const log = openSync(logFile, 'a');
  // BENCH_HUB_NODE_FLAGS / BENCH_AGENT_NODE_FLAGS: extra node flags (e.g. --trace-gc, --cpu-prof) for profiling runs.
  const flags = (process.env[bin === HUB_BIN ? 'BENCH_HUB_NODE_FLAGS' : 'BENCH_AGENT_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...flags, bin, '--config', configFile], { stdio: ['ignore', log, log] });
  closeSync(log);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

export interface HubProcess {
  readonly pid: number;
  readonly tls: boolean;
  /** ws(s)://127.0.0.1:PORT/agent */
  readonly agentUrl: string;
  /** http(s)://127.0.0.1:PORT */
  readonly apiUrl: string;
  /** A keep-alive dispatcher for the API (trusts the test CA when TLS), no body timeout. */
  readonly dispatcher: Dispatcher;
  /** A pool of `connections` keep-alive connections to the API, for concurrent callers. */
  pool(connections: number): Pool;
  readonly logFile: string;
  close(): Promise<void>;
}

export interface HubOptions {
  readonly dir: string;
  readonly name: string;
  /** PEM files: serve wss/https; `caPem` is what clients trust. */
  readonly tls?: { certFile: string; keyFile: string; caPem: string };
}

let hashes: Promise<[string, string]> | undefined;

export async function startHub(options: HubOptions): Promise<HubProcess> {
  const { dir, name, tls } = options;
  hashes ??= Promise.all([hashPassword(API_TOKEN), hashPassword(AGENT_PASSWORD)]);
  const [tokenHash, agentHash] = await hashes;
  const port = await freePort();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `listen: { host: 127.0.0.1, port: ${port}, path: /agent }
${tls ? `tls: { cert: ${tls.certFile}, key: ${tls.keyFile} }` : ''}
tenants:
  bench:
    apiTokens: ['${tokenHash}']
    agents:
      - userName: bench
        passwordHash: ${agentHash}
`,
  );
  const logFile = join(dir, `${name}.log`);
  const child = spawnDaemon(HUB_BIN, file, logFile);
  const scheme = tls ? 'https' : 'http';
  const apiUrl = `${scheme}://127.0.0.1:${port}`;
  const connect = tls ? { ca: tls.caPem } : {};
  const dispatcher = new Agent({ connect, bodyTimeout: 0, headersTimeout: 60_000 });
  const pools: Pool[] = [];
  const hub: HubProcess = {
    pid: child.pid!,
    tls: tls !== undefined,
    agentUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/agent`,
    apiUrl,
    dispatcher,
    pool: (connections) => {
      const pool = new Pool(apiUrl, { connections, connect, bodyTimeout: 0, headersTimeout: 60_000 });
      pools.push(pool);
      return pool;
    },
    logFile,
    close: async () => {
      await Promise.all([dispatcher.close(), ...pools.map((p) => p.close())]);
      await stopDaemon(child);
    },
  };
  await until(`hub ${name} listening (log: ${logFile})`, child, async () => {
    const res = await request(`${apiUrl}/v1/openapi.json`, { dispatcher });
    await res.body.dump();
    return res.statusCode === 200;
  });
  return hub;
}

export interface AgentProcess {
  readonly pid: number;
  readonly id: string;
  /** The name of its one LDAP data source. */
  readonly dataSource: string;
  readonly logFile: string;
  close(): Promise<void>;
}

export interface AgentOptions {
  readonly dir: string;
  readonly id: string;
  readonly hub: HubProcess;
  /** PEM CA file the agent trusts for a TLS hub. */
  readonly caFile?: string;
  readonly ldap: { url: string; bindDN: string; bindPassword: string; baseDN: string; pageSize: number };
  /** `searchWorkers` of the data source; undefined: the default. */
  readonly searchWorkers?: number;
}

/** Starts an agent offering data source `ldap-<id>` and waits until the hub lists it. */
export async function startAgent(options: AgentOptions): Promise<AgentProcess> {
  const { dir, id, hub, ldap } = options;
  const dataSource = `ldap-${id}`;
  const file = join(dir, `agent-${id}.yaml`);
  writeFileSync(
    file,
    `agent:
  id: ${id}
  urls: [${hub.agentUrl}]
  tenantId: bench
  userName: bench
  password: ${AGENT_PASSWORD}
${options.caFile ? `  trustStore: ${options.caFile}\n` : ''}dataSources:
  ${dataSource}:
    type: ldap
    url: ${ldap.url}
    bindDN: ${ldap.bindDN}
    bindPassword: ${ldap.bindPassword}
    baseDN: ${ldap.baseDN}
    pageSize: ${ldap.pageSize}
${options.searchWorkers === undefined ? '' : `    searchWorkers: ${options.searchWorkers}\n`}`,
  );
  const logFile = join(dir, `agent-${id}.log`);
  const child = spawnDaemon(AGENT_BIN, file, logFile);
  await until(`agent ${id} registered (log: ${logFile})`, child, async () => {
    const res = await request(`${hub.apiUrl}/v1/agents`, { dispatcher: hub.dispatcher, headers: { authorization: `Bearer ${API_TOKEN}` } });
    const body = (await res.body.json()) as { agents?: Array<{ id: string }> };
    return body.agents?.some((a) => a.id === id) === true;
  });
  return { pid: child.pid!, id, dataSource, logFile, close: () => stopDaemon(child) };
}

/** Polls `ready` every 50 ms for up to 60 s; fails at once if `child` exits. */
async function until(what: string, child: ChildProcess, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: the process exited (${child.exitCode ?? child.signalCode})`);
    if (await ready().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what}: not ready within 60 s`);
}
