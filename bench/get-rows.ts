/**
 * Small requests: one-entry `get`s through the HTTP API (hub ← agent ← slapd) against the same
 * read straight from ldapts (a base-scope search on one bound client), and a hub-only call
 * (`GET /v1/agents`) for what the hub's HTTP layer alone costs. Callers use keep-alive
 * connections (undici Agent/Pool), as a real caller would.
 *
 * Per run: `calls` sequential calls (latency p50/p99, CPU per call of agent, hub, slapd and this
 * process as the client), then twice as many calls spread over 32 concurrent callers (calls/s).
 */
import { Client } from 'ldapts';
import { realisticPersonDn } from '../test/fixtures/ldap/realistic.js';
import { median, percentile } from './measure.js';
import { cpuMeter, type Role } from './proc.js';
import { API_TOKEN, type AgentProcess, type HubProcess } from './stack.js';

export const CONCURRENT_CALLERS = 32;

export interface GetPath {
  readonly label: string;
  /** CPU per call is measured for these processes (plus `client`, this process). */
  readonly pids: Partial<Record<Exclude<Role, 'client'>, number>>;
  /** One call for person `i`; rejects unless exactly one answer came back. */
  readonly call: (i: number, concurrent: boolean) => Promise<void>;
  readonly close: () => Promise<void>;
}

export interface GetSample {
  /** Sequential latencies, ms. */
  readonly latenciesMs: number[];
  /** CPU seconds per call (sequential), per process. */
  readonly cpuPerCall: Partial<Record<Role, number>>;
  /** Calls per second with 32 concurrent callers. */
  readonly concurrentPerSecond: number;
}

export interface GetSummary {
  readonly label: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly concurrentPerSecond: number;
  /** Median µs of CPU per call, per process. */
  readonly cpuUsPerCall: Partial<Record<Role, number>>;
}

export async function ldaptsGetPath(ldap: { url: string; bindDN: string; bindPassword: string }, slapdPid: number, people: number): Promise<GetPath> {
  const client = new Client({ url: ldap.url });
  await client.bind(ldap.bindDN, ldap.bindPassword);
  return {
    label: 'ldapts `search` (base scope), direct, one connection',
    pids: { slapd: slapdPid },
    call: async (i) => {
      const { searchEntries } = await client.search(personDn(i, people), { scope: 'base', filter: '(objectClass=*)' });
      if (searchEntries.length !== 1) throw new Error(`direct get ${personDn(i, people)}: ${searchEntries.length} entries`);
    },
    close: () => client.unbind(),
  };
}

export function relayGetPath(hub: HubProcess, agent: AgentProcess, slapdPid: number, people: number): GetPath {
  const pool = hub.pool(CONCURRENT_CALLERS);
  const headers = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };
  return {
    label: `HTTP \`POST …/get\`, hub ← agent ← slapd (${hub.tls ? 'https/wss' : 'http/ws'})`,
    pids: { agent: agent.pid, hub: hub.pid, slapd: slapdPid },
    call: async (i, concurrent) => {
      const dn = personDn(i, people);
      const res = await (concurrent ? pool : hub.dispatcher).request({
        origin: hub.apiUrl,
        path: `/v1/data-sources/${agent.dataSource}/get`,
        method: 'POST',
        headers,
        body: JSON.stringify({ dn }),
      });
      const body = (await res.body.json()) as { data?: { dn?: string } };
      if (res.statusCode !== 200 || body.data?.dn !== dn) throw new Error(`relayed get ${dn}: ${res.statusCode} ${JSON.stringify(body).slice(0, 300)}`);
    },
    close: () => Promise.resolve(),
  };
}

export function hubOnlyPath(hub: HubProcess): GetPath {
  const pool = hub.pool(CONCURRENT_CALLERS);
  return {
    label: 'HTTP `GET /v1/agents` (hub only)',
    pids: { hub: hub.pid },
    call: async (_i, concurrent) => {
      const res = await (concurrent ? pool : hub.dispatcher).request({ origin: hub.apiUrl, path: '/v1/agents', method: 'GET', headers: { authorization: `Bearer ${API_TOKEN}` } });
      const body = (await res.body.json()) as { agents?: unknown[] };
      if (res.statusCode !== 200 || !Array.isArray(body.agents)) throw new Error(`GET /v1/agents: ${res.statusCode}`);
    },
    close: () => Promise.resolve(),
  };
}

const personDn = (i: number, people: number): string => realisticPersonDn(1 + ((i * 7919) % people));

/** One run of `path`: `calls` sequential calls, then `2 × calls` calls over 32 concurrent callers. */
export async function measureGets(path: GetPath, calls: number): Promise<GetSample> {
  const latenciesMs: number[] = [];
  const stop = cpuMeter({ ...path.pids, client: 'self' }).start();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await path.call(i, false);
    latenciesMs.push(performance.now() - t0);
  }
  const cpu = stop();
  const cpuPerCall: Partial<Record<Role, number>> = {};
  for (const [role, sec] of Object.entries(cpu) as Array<[Role, number]>) cpuPerCall[role] = sec / calls;

  const concurrentCalls = 2 * calls;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENT_CALLERS }, async () => {
      while (next < concurrentCalls) await path.call(next++, true);
    }),
  );
  const concurrentPerSecond = concurrentCalls / ((performance.now() - t0) / 1000);
  return { latenciesMs, cpuPerCall, concurrentPerSecond };
}

/** Medians over runs (latency percentiles of each run first, then their median). */
export function summariseGets(label: string, samples: readonly GetSample[]): GetSummary {
  const roles = new Set(samples.flatMap((s) => Object.keys(s.cpuPerCall) as Role[]));
  const cpuUsPerCall: Partial<Record<Role, number>> = {};
  for (const role of roles) cpuUsPerCall[role] = median(samples.map((s) => (s.cpuPerCall[role] ?? Number.NaN) * 1e6));
  return {
    label,
    p50Ms: median(samples.map((s) => percentile(s.latenciesMs, 50))),
    p99Ms: median(samples.map((s) => percentile(s.latenciesMs, 99))),
    concurrentPerSecond: median(samples.map((s) => s.concurrentPerSecond)),
    cpuUsPerCall,
  };
}
