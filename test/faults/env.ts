/**
 * Shared setup of the fault scenarios: an agent whose timing settings each scenario chooses,
 * with its LDAP adapters built here (the product's own `createLdapAdapter`) so a test can read
 * their connection-pool stats; a figure line per scenario for the README table; memory sampling.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFailed } from 'vitest';
import { createLdapAdapter, type LdapAdapter } from '../../src/adapters/ldap/index.js';
import type { LdapDataSourceConfig } from '../../src/adapters/ldap/config.js';
import { tap } from 'rxjs';
import { isBatchSource, type DataSourceAdapter, type OperationContext, type SearchSource } from '../../src/adapter-kit/adapter.js';
import { Agent } from '../../src/agent/agent.js';
import { loadAgentConfig } from '../../src/config/index.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { basicAgentYaml, recordStatuses, type Env, type StatusRecorder } from '../helpers/relay-env.js';
import type { Slapd } from '../helpers/slapd.js';

/** Top-level agent settings a scenario may set (ms or counts, as in application.yaml). */
export type AgentSettings = Partial<
  Record<
    | 'reconnectDelay'
    | 'maxReconnectDelay'
    | 'reconnectResetAfter'
    | 'keepAliveInterval'
    | 'keepAliveTimeout'
    | 'maxConcurrentRequests'
    | 'maxQueuedRequests'
    | 'shutdownGracePeriod',
    number
  >
>;

/** The agent's registration timeout here (TCP + TLS + upgrade, then hello → welcome). */
export const REGISTRATION_TIMEOUT_MS = 2000;

/** Fast, fixed-delay reconnects (no backoff growth, so reconnect times are comparable). */
export const DEFAULT_SETTINGS = {
  reconnectDelay: 500,
  maxReconnectDelay: 500,
  reconnectResetAfter: 5000,
  keepAliveInterval: 500,
  keepAliveTimeout: 500,
} as const satisfies AgentSettings;

export interface FaultAgent {
  readonly agent: Agent;
  readonly logs: LogCapture;
  readonly statuses: StatusRecorder;
  readonly settings: Required<Pick<AgentSettings, keyof typeof DEFAULT_SETTINGS>> & AgentSettings;
  /** The LDAP adapters by data-source name (pool stats: `ldap.get(name)!.stats`). */
  readonly ldap: ReadonlyMap<string, LdapAdapter>;
  /** Entries the agent has pulled from a data source's searches so far (upstream reads). */
  pulled(dataSource: string): number;
  /** Closes connections and adapters. */
  close(): Promise<void>;
}

export interface FaultAgentSetup {
  /** Hub URLs the agent dials (directly, or a fault proxy's). */
  readonly urls: string[];
  /** The body of `dataSources:` (each data source indented 2). */
  readonly dataSources: string;
  readonly settings?: AgentSettings;
  /** Adapters to use instead of config-built ones, by name. */
  readonly adapters?: ReadonlyMap<string, DataSourceAdapter>;
}

/** Writes application.yaml, builds the LDAP adapters, starts the agent. */
export function startFaultAgent(env: Env, setup: FaultAgentSetup): FaultAgent {
  const settings = { ...DEFAULT_SETTINGS, ...setup.settings };
  const yaml = `
logging: { level: debug }
agent:
${basicAgentYaml(env, setup.urls)}
${Object.entries(settings)
  .map(([k, v]) => `${k}: ${v}`)
  .join('\n')}
testOnStart: false
dataSources:
${setup.dataSources}
`;
  const file = join(env.dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const config = loadAgentConfig(file, {});
  const logs = captureLogs('debug');
  const adapters = new Map<string, DataSourceAdapter>(setup.adapters ?? []);
  const ldap = new Map<string, LdapAdapter>();
  const pulled = new Map<string, number>();
  for (const [name, ds] of Object.entries(config.dataSources)) {
    if (ds.type !== 'ldap' || adapters.has(name)) continue;
    const adapter = createLdapAdapter(name, ds as LdapDataSourceConfig, logs.logger);
    adapters.set(name, countingPulls(adapter, (n) => pulled.set(name, (pulled.get(name) ?? 0) + n)));
    ldap.set(name, adapter);
  }
  const agent = new Agent(config, logs.logger, { adapters, registrationTimeoutMs: REGISTRATION_TIMEOUT_MS });
  const statuses = recordStatuses(agent);
  agent.start();
  try {
    onTestFailed(() => console.error(`--- agent log (last 300 lines) ---\n${logs.lines.slice(-300).join('\n')}`));
  } catch {
    // Started from a hook: the suite's failure output applies.
  }
  return { agent, logs, statuses, settings, ldap, pulled: (name) => pulled.get(name) ?? 0, close: () => agent.close() };
}

/** The adapter, with every page its searches pull counted (pages of values or batches). */
function countingPulls(adapter: DataSourceAdapter, count: (items: number) => void): DataSourceAdapter {
  const search = adapter.search?.bind(adapter);
  if (!search) return adapter;
  return Object.assign(Object.create(adapter) as DataSourceAdapter, {
    search: (params: Record<string, unknown>, ctx: OperationContext): SearchSource => {
      const source = search(params, ctx);
      if (isBatchSource(source)) {
        return { itemFormat: 'json-batch', pull: () => source.pull().pipe(tap((page) => count(page.items.count))), close: () => source.close() };
      }
      return {
        ...(source.itemFormat === undefined ? {} : { itemFormat: source.itemFormat }),
        pull: () => source.pull().pipe(tap((page) => count(page.items.length))),
        close: () => source.close(),
      };
    },
  });
}

/** `dataSources:` YAML for one LDAP data source on `url` (slapd itself or a proxy in front of it). */
export function ldapSourceYaml(name: string, slapd: Slapd, url = slapd.url, pageSize = 500): string {
  return `  ${name}:
    type: ldap
    url: ${url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${slapd.adminPassword}
    baseDN: ${slapd.baseDN}
    pageSize: ${pageSize}
    timeoutMs: 5000
    operations: [test, get, search, export]
`;
}

/** One line per scenario with its measured figures, for the README table. */
export function figure(scenario: string, text: string): void {
  console.log(`FIGURE ${scenario}: ${text}`);
}

/** `1234567` → `1,234,567`. */
export const fmt = (n: number): string => Math.round(n).toLocaleString('en');

export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Samples this process's heap and RSS every `everyMs` until `stop()`; reports the peaks over the baseline. */
export function sampleMemory(everyMs = 100): { stop(): { heapGrowth: number; rssGrowth: number; samples: number } } {
  const base = process.memoryUsage();
  let heapPeak = base.heapUsed;
  let rssPeak = base.rss;
  let samples = 0;
  const take = (): void => {
    const m = process.memoryUsage();
    heapPeak = Math.max(heapPeak, m.heapUsed);
    rssPeak = Math.max(rssPeak, m.rss);
    samples += 1;
  };
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { heapGrowth: heapPeak - base.heapUsed, rssGrowth: rssPeak - base.rss, samples };
    },
  };
}

/** Closed LDAP connections in slapd's log since byte `from` (`conn=N fd=M closed`). */
export function closedConnections(slapd: Slapd, from: number): number {
  return (slapd.log(from).match(/ fd=\d+ closed/g) ?? []).length;
}
