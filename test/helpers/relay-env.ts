/**
 * Real hub + real agents for integration tests: configs are written as YAML and loaded by the
 * product's own loaders, servers listen on 127.0.0.1 port 0, logs are captured in memory and
 * printed when a test fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, onTestFailed, vi } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { DataSourceAdapter } from '../../src/adapter-kit/adapter.js';
import { loadAgentConfig, loadHubConfig, hashPassword } from '../../src/config/index.js';
import type { ConnectionStatus } from '../../src/connection/status.js';
import { Hub } from '../../src/hub/hub.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { makeTestPki, type TestPki } from './certs.js';
import { captureLogs, type LogCapture } from './log-capture.js';

/** Prints `text()` if the current test fails; outside a test (e.g. beforeAll) there is no test to hook. */
function printOnFailure(text: () => string): void {
  try {
    onTestFailed(() => console.error(text()));
  } catch {
    // Called from a hook: the suite's own failure output applies.
  }
}

export interface Env {
  readonly dir: string;
  readonly pki: TestPki;
  cleanup(): void;
}

export function makeEnv(): Env {
  const dir = mkdtempSync(join(tmpdir(), 'datasync-it-'));
  const pki = makeTestPki(dir);
  return { dir, pki, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** API tokens of the fixture hub's tenants 1 and 2 (hub.yaml holds their scrypt hashes). */
export const API_TOKENS = { tenant1: 'api-token-tenant-1-0123456789', tenant2: 'api-token-tenant-2-9876543210' } as const;

interface FixtureHashes {
  readonly agent: string;
  readonly other: string;
  readonly token1: string;
  readonly token2: string;
}

let hashes: Promise<FixtureHashes> | undefined;
/** scrypt is slow on purpose: hash the fixture passwords and tokens once per process. */
export function fixtureHashes(): Promise<FixtureHashes> {
  hashes ??= Promise.all([
    hashPassword('agent-secret-123'),
    hashPassword('other-secret-456'),
    hashPassword(API_TOKENS.tenant1),
    hashPassword(API_TOKENS.tenant2),
  ]).then(([agent, other, token1, token2]) => ({ agent, other, token1, token2 }));
  return hashes;
}

export interface RunningHub {
  readonly hub: Hub;
  readonly url: string;
  readonly port: number;
  readonly logs: LogCapture;
  close(): Promise<void>;
}

export interface HubSetup {
  readonly port?: number;
  readonly tls?: boolean;
  readonly keepAliveInterval?: number;
  readonly keepAliveTimeout?: number;
  /** More top-level hub.yaml (e.g. `api:` limits or `timeouts:`). */
  readonly extra?: string;
}

/**
 * A TLS hub with two tenants: 1 (Basic `agent` + certificate CN site-a-1, API token
 * `API_TOKENS.tenant1`) and 2 (Basic `other`, API token `API_TOKENS.tenant2`).
 */
export async function startHub(env: Env, setup: HubSetup = {}): Promise<RunningHub> {
  const h = await fixtureHashes();
  const tls = setup.tls ?? true;
  const yaml = `
${unlessSet(setup.extra, 'logging', 'logging: { level: trace }')}
listen: { host: 127.0.0.1, port: ${setup.port ?? 0}, path: /agent }
${tls ? `tls: { cert: ${env.pki.server.certFile}, key: ${env.pki.server.keyFile}, clientCa: ${env.pki.ca.file} }` : ''}
keepAliveInterval: ${setup.keepAliveInterval ?? 2000}
keepAliveTimeout: ${setup.keepAliveTimeout ?? 10000}
registrationTimeout: 3000
${setup.extra ?? ''}
tenants:
  "1":
    apiTokens: ['${h.token1}']
    agents:
      - userName: agent
        passwordHash: ${h.agent}
${tls ? '      - certificateSubject: site-a-1' : ''}
  "2":
    apiTokens: ['${h.token2}']
    agents:
      - userName: other
        passwordHash: ${h.other}
`;
  const file = join(env.dir, `hub-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const logs = captureLogs('trace');
  const hub = new Hub(loadHubConfig(file, {}), logs.logger);
  const address = await hub.listen();
  printOnFailure(() => `--- hub log (port ${address.port}) ---\n${logs.text()}`);
  return {
    hub,
    port: address.port,
    url: `${tls ? 'wss' : 'ws'}://127.0.0.1:${address.port}/agent`,
    logs,
    close: () => hub.close(),
  };
}

export interface TestAgent {
  readonly agent: Agent;
  readonly logs: LogCapture;
  readonly statuses: StatusRecorder;
  stop(): void;
}

/** `yaml` (a default), unless the test's own top-level YAML `extra` sets a key matching `key`. */
function unlessSet(extra: string | undefined, key: string, yaml: string): string {
  return new RegExp(`^(${key}):`, 'm').test(extra ?? '') ? '' : yaml;
}

/** Writes an agent config (`agentYaml` is the `agent:` section body, indented 2) and starts it. */
export function startAgent(env: Env, agentYaml: string, extra = '', options: AgentOptions = {}): TestAgent {
  // Keep-alive: a ping every 2 s, 10 s to answer — a loaded 2-core machine can stall an event
  // loop for seconds, and a shorter timeout cuts healthy links there. A test about keep-alive
  // sets its own in `extra`.
  const keepAlive = unlessSet(extra, 'keepAlive(Interval|Timeout)', 'keepAliveInterval: 2000\nkeepAliveTimeout: 10000');
  // Tests count the operations their upstreams see: no start-up test unless one asks for it.
  const testOnStart = unlessSet(extra, 'testOnStart', 'testOnStart: false');
  const yaml = `
${unlessSet(extra, 'logging', 'logging: { level: trace }')}
agent:
${agentYaml}
reconnectDelay: 300
maxReconnectDelay: 2000
reconnectResetAfter: 5000
${keepAlive}
${testOnStart}
${extra}
`;
  const file = join(env.dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const logs = captureLogs('trace');
  const agent = new Agent(loadAgentConfig(file, {}), logs.logger, options);
  const statuses = recordStatuses(agent);
  agent.start();
  printOnFailure(() => `--- agent log ---\n${logs.text()}`);
  return { agent, logs, statuses, stop: () => agent.stop() };
}

export interface Timed {
  readonly at: number;
  readonly status: ConnectionStatus;
}

export interface StatusRecorder {
  readonly all: Timed[];
  /** Resolves with the first status after the cursor matching `pred`, and moves the cursor past it. */
  next(pred: (s: ConnectionStatus) => boolean, timeoutMs?: number): Promise<Timed>;
  /** Resolves with the first status ever recorded matching `pred` (order-independent; cursor unchanged). */
  seen(pred: (s: ConnectionStatus) => boolean, timeoutMs?: number): Promise<Timed>;
}

export function recordStatuses(agent: Agent): StatusRecorder {
  const all: Timed[] = [];
  let cursor = 0;
  agent.status$.subscribe((status) => all.push({ at: performance.now(), status }));
  return {
    all,
    async next(pred, timeoutMs = 10_000) {
      return vi.waitFor(
        () => {
          const i = all.findIndex((e, idx) => idx >= cursor && pred(e.status));
          if (i < 0) throw new Error(`no matching status yet; seen: ${all.map((e) => e.status.state).join(',')}`);
          cursor = i + 1;
          return all[i]!;
        },
        { timeout: timeoutMs, interval: 10 },
      );
    },
    async seen(pred, timeoutMs = 10_000) {
      return vi.waitFor(
        () => {
          const e = all.find((x) => pred(x.status));
          if (!e) throw new Error(`no matching status yet; seen: ${all.map((x) => x.status.state).join(',')}`);
          return e;
        },
        { timeout: timeoutMs, interval: 10 },
      );
    },
  };
}

export const isState =
  <S extends ConnectionStatus['state']>(state: S, url?: string) =>
  (s: ConnectionStatus): boolean =>
    s.state === state && (url === undefined || s.url === url);

/** YAML for Basic auth against tenant 1 with the fixture CA trusted. */
export function basicAgentYaml(env: Env, urls: string[], more = ''): string {
  return `  id: site-a-1
  urls: [${urls.join(', ')}]
  tenantId: 1
  userName: agent
  password: agent-secret-123
  trustStore: ${env.pki.ca.file}
${more}`;
}

/**
 * `dataSources` YAML for one source served by an adapter object passed to the Agent (e.g. the
 * in-memory adapter): the ldap entry only gives it a name, a type and an allow-list.
 */
export function memoryDataSourceYaml(operations: readonly string[] = ['test', 'get', 'search', 'export'], name = 'mem'): string {
  return `
dataSources:
  ${name}:
    type: ldap
    url: ldap://127.0.0.1:1
    baseDN: dc=example,dc=com
    operations: [${operations.join(', ')}]
`;
}

export interface RelayFixture {
  /** The file's environment (temp dir, PKI), made in beforeAll. */
  readonly env: Env;
  /** Runs `cleanup` after the current test; the last registered runs first. */
  later(cleanup: () => unknown): void;
  /** A hub and one agent serving `adapter` as data source `mem`, registered; both stopped after the test. */
  memoryRelay(adapter: DataSourceAdapter, options?: { agentExtra?: string; hub?: HubSetup }): Promise<{ hub: RunningHub; agent: TestAgent }>;
}

/** Round trips `roundTrips` awaits by default. */
export const SETTLE_ROUND_TRIPS = 3;

/**
 * Requests to the agent that touch no adapter (a data source it does not have), answered
 * UNKNOWN_DATA_SOURCE, one after the other. Each travels the same sockets and event loops as
 * the frames sent before it: once the answers are back, the agent has acted on everything the
 * hub sent it earlier (credit, cancel) — the event a "nothing more happened" check awaits
 * instead of a sleep.
 */
export async function roundTrips(hub: Hub, tenantId = '1', n = SETTLE_ROUND_TRIPS): Promise<void> {
  for (let i = 0; i < n; i++) {
    const answer = await hub.request({ tenantId, dataSource: 'no-such-source-round-trip', op: 'test', timeoutMs: 30_000 }).then(
      () => 'an answer',
      (err: unknown) => (err instanceof ProtocolError ? err.code : String(err)),
    );
    if (answer !== 'UNKNOWN_DATA_SOURCE') throw new Error(`round trip to the agent: expected UNKNOWN_DATA_SOURCE, got ${answer}`);
  }
}

/** One Env per test file and per-test cleanups: call at the top level of a test file. */
export function relayFixture(): RelayFixture {
  let env: Env | undefined;
  const cleanups: Array<() => unknown> = [];
  beforeAll(() => {
    env = makeEnv();
    return () => env?.cleanup();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const fixture: RelayFixture = {
    get env(): Env {
      if (!env) throw new Error('relayFixture: env is made in beforeAll');
      return env;
    },
    later: (cleanup) => void cleanups.push(cleanup),
    async memoryRelay(adapter, options = {}) {
      const hub = await startHub(fixture.env, options.hub);
      fixture.later(() => hub.close());
      const agent = startAgent(fixture.env, basicAgentYaml(fixture.env, [hub.url]), memoryDataSourceYaml() + (options.agentExtra ?? ''), {
        adapters: new Map([['mem', adapter]]),
      });
      fixture.later(() => agent.stop());
      await agent.statuses.next(isState('registered'));
      return { hub, agent };
    },
  };
  return fixture;
}
