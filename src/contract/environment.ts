/**
 * The contract suite's own world, in this process: a real `Hub` (plain ws on 127.0.0.1, any
 * free port, a generated tenant credential) and a real `Agent` serving the fixture's data
 * sources — `ok`, `bad-credentials`, `unreachable` (where the fixture gives settings) and
 * `read-only` (`ok` allowing only test, get and search) — through adapters built by the
 * definition's own `create` and observed by `searchObserver`. Checks talk to the agent the way
 * a cloud application does: through the hub.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { BehaviorSubject, filter, firstValueFrom, type Subscription } from 'rxjs';
import type { DataSourceAdapter } from '../adapter-kit/adapter.js';
import type { DataSourceDefinition } from '../adapter-kit/define.js';
import { dataSourceOrigin, registerDataSource } from '../adapter-kit/registry.js';
import { Agent } from '../agent/agent.js';
import { OPERATIONS, type Operation } from '../config/codecs.js';
import { getDataSourceType, type DataSourceConfig } from '../config/data-source-registry.js';
import { hashPassword } from '../config/password-hash.js';
import type { AgentLink } from '../hub/agent-link.js';
import { Hub } from '../hub/hub.js';
import { isProtocolError } from '../protocol/errors.js';
import { CONTRACT_AGENT, CONTRACT_TENANT, contractAgentConfig, contractHubConfig } from './configs.js';
import type { ContractFixture, SettingsKind } from './fixture.js';
import { logBuffer, type LogBuffer } from './log-buffer.js';
import { searchObserver, type SearchObserver } from './observed-adapter.js';
import { guard, until } from './wait.js';

/** Data-source names in the agent's configuration, by the fixture's settings kind. */
export const SOURCE_NAMES: Readonly<Record<SettingsKind | 'readOnly', string>> = {
  ok: 'ok',
  badCredentials: 'bad-credentials',
  unreachable: 'unreachable',
  readOnly: 'read-only',
};

/** What the read-only source allows. */
export const READ_ONLY_OPERATIONS: readonly Operation[] = ['test', 'get', 'search'];

export interface ContractEnvironment {
  readonly hub: Hub;
  readonly agent: Agent;
  readonly tenantId: string;
  readonly observer: SearchObserver;
  readonly logs: LogBuffer;
  /** What the adapter of `ok` implements. */
  readonly supports: readonly Operation[];
  /** Whether the fixture configured a source of this kind. */
  configured(kind: SettingsKind): boolean;
  /** The agent's current registered connection at the hub. */
  link(): AgentLink;
  /** Resolves with the agent's next registered connection other than `previous`. */
  reregistered(previous: AgentLink): Promise<AgentLink>;
  /**
   * One request to the agent and its answer, touching no adapter (a data source the agent does
   * not have): what the agent was doing before it has had its turns on the event loop.
   */
  roundTrip(): Promise<void>;
  close(): Promise<void>;
}

/** Registers the fixture's definition, unless this very definition's type is registered already. */
function register(fixture: ContractFixture): void {
  const definition = fixture.definition as unknown as DataSourceDefinition;
  const known = getDataSourceType(definition.type);
  if (known !== undefined) {
    if (known.codec === definition.config) return;
    throw new Error(`contract suite: data source type '${definition.type}' is already registered by ${dataSourceOrigin(definition.type) ?? 'another module'} with another definition`);
  }
  registerDataSource(definition, fixture.origin ?? 'datasync-agent contract suite');
}

/** The `dataSources` entries of the agent's configuration, from the fixture's settings. */
function dataSourceSettings(fixture: ContractFixture): Record<string, Record<string, unknown>> {
  const ok = fixture.settings('ok');
  if (ok === undefined) throw new Error("contract suite: fixture.settings('ok') must give the settings of a working data source");
  // Without an allow-list, `ok` allows everything: narrowed to what the adapter supports once it exists.
  const okSettings = ok['operations'] === undefined ? { ...ok, operations: [...OPERATIONS] } : ok;
  const entries: Record<string, Record<string, unknown>> = {
    [SOURCE_NAMES.ok]: okSettings,
    [SOURCE_NAMES.readOnly]: { ...ok, operations: [...READ_ONLY_OPERATIONS] },
  };
  for (const kind of ['badCredentials', 'unreachable'] as const) {
    const settings = fixture.settings(kind);
    if (settings !== undefined) entries[SOURCE_NAMES[kind]] = settings;
  }
  return entries;
}

export async function startEnvironment(fixture: ContractFixture): Promise<ContractEnvironment> {
  register(fixture);
  const logs = logBuffer();
  const password = randomBytes(24).toString('base64url');
  const hub = new Hub(contractHubConfig(await hashPassword(password)), logs.logger.child({ side: 'hub' }));
  const address: AddressInfo = await hub.listen();
  const subscriptions: Subscription[] = [];
  let agent: Agent | undefined;
  try {
    const settings = dataSourceSettings(fixture);
    const config = contractAgentConfig(`ws://127.0.0.1:${address.port}/agent`, password, settings);
    const observer = searchObserver(() => fixture.upstreamRequests());
    const definition = fixture.definition as unknown as DataSourceDefinition;
    const adapterLog = logs.logger.child({ side: 'agent' });
    const adapters = new Map<string, DataSourceAdapter>();
    const dataSources: Record<string, DataSourceConfig> = { ...config.dataSources };
    for (const [name, ds] of Object.entries(config.dataSources)) {
      adapters.set(name, observer.observe(definition.create(name, ds, adapterLog.child({ component: 'adapter', dataSource: name })), name));
    }
    const supports = adapters.get(SOURCE_NAMES.ok)?.supports ?? [];
    if (fixture.settings('ok')?.['operations'] === undefined) {
      const ok = dataSources[SOURCE_NAMES.ok] as DataSourceConfig;
      dataSources[SOURCE_NAMES.ok] = { ...ok, operations: ok.operations.filter((op) => supports.includes(op)) };
    }

    // Which connection of our agent is registered now (replaced on every reconnection).
    const current = new BehaviorSubject<AgentLink | undefined>(undefined);
    subscriptions.push(
      hub.registry.events$.subscribe((e) => {
        if (e.tenantId !== CONTRACT_TENANT || e.agentId !== CONTRACT_AGENT.id) return;
        if (e.type === 'registered') current.next(e.link);
        else if (current.value === e.link) current.next(undefined);
      }),
    );
    const started = new Agent({ ...config, dataSources }, logs.logger.child({ side: 'agent' }), { adapters });
    agent = started;
    started.start();
    await until(current, () => current.value, 'the agent registering with the contract hub', () => `agent log problems: ${logs.problemsSince(0, 5).join(' | ')}`);

    const link = (): AgentLink => {
      const l = current.value;
      if (l === undefined) throw new Error('the agent is not registered with the contract hub');
      return l;
    };
    return {
      hub,
      agent: started,
      tenantId: CONTRACT_TENANT,
      observer,
      logs,
      supports,
      configured: (kind) => SOURCE_NAMES[kind] in dataSources,
      link,
      reregistered: (previous) => firstValueFrom(current.pipe(filter((l): l is AgentLink => l !== undefined && l !== previous))),
      async roundTrip() {
        const answer = await guard(
          link()
            .request({ op: 'test', dataSource: 'contract-no-such-source', params: {}, timeoutMs: 10_000 })
            .then(
              () => 'an answer',
              (err: unknown) => (isProtocolError(err) ? err.code : String(err)),
            ),
          'a round trip to the agent',
        );
        if (answer !== 'UNKNOWN_DATA_SOURCE') throw new Error(`a request for a data source the agent does not have: expected UNKNOWN_DATA_SOURCE, got ${answer}`);
      },
      async close() {
        for (const s of subscriptions) s.unsubscribe();
        await started.close();
        await hub.close();
      },
    };
  } catch (err) {
    for (const s of subscriptions) s.unsubscribe();
    await agent?.close().catch(() => undefined);
    await hub.close();
    throw err;
  }
}
