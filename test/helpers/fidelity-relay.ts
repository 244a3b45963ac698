/**
 * The fidelity tests' view of the relay: a real hub and agent (test/helpers/relay-env.ts) called
 * over the hub's HTTP API the way a cloud application calls it, every response read as raw bytes
 * (NDJSON lines must be valid UTF-8 JSON; nothing is decoded leniently), and `ldapsearch` as the
 * independent reader of what a directory holds.
 */
import { isUtf8 } from 'node:buffer';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent as UndiciAgent, request } from 'undici';
import { API_TOKENS, basicAgentYaml, isState, startAgent, startHub, type Env, type RunningHub, type TestAgent } from './relay-env.js';
import { parseLdapsearch, type RawEntry } from './ldif-reference.js';
import type { Slapd } from './slapd.js';

export interface FidelityRelay {
  readonly hub: RunningHub;
  readonly agent: TestAgent;
  /** POST `/v1/data-sources/NAME/search`: the entries, the final line, and any problem with the stream itself. */
  search(dataSource: string, params: Record<string, unknown>): Promise<SearchOutput>;
  /** POST `/v1/data-sources/NAME/get`: the HTTP status and the parsed body. */
  get(dataSource: string, params: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }>;
  /** POST `/v1/data-sources/NAME/export` with NDJSON records: the result lines (the last is the summary). */
  export(dataSource: string, records: readonly unknown[]): Promise<{ status: number; lines: Array<Record<string, unknown>> }>;
  close(): Promise<void>;
}

export interface SearchOutput {
  readonly status: number;
  readonly entries: unknown[];
  readonly last: Record<string, unknown> | undefined;
  /** Lines that are not UTF-8 or not JSON, a missing summary, a count that disagrees. */
  readonly problems: string[];
}

/** Splits a body into lines and parses each as JSON, refusing lines that are not UTF-8. */
export function ndjsonLines(body: Buffer, problems: string[]): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  let start = 0;
  for (let nl = body.indexOf(0x0a); start < body.length; nl = body.indexOf(0x0a, start)) {
    const end = nl === -1 ? body.length : nl;
    const line = body.subarray(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    if (!isUtf8(line)) {
      problems.push(`line ${lines.length + 1} is not UTF-8: ${line.toString('hex').slice(0, 200)}`);
      continue;
    }
    try {
      lines.push(JSON.parse(line.toString('utf8')) as Record<string, unknown>);
    } catch (err) {
      problems.push(`line ${lines.length + 1} is not JSON (${String(err)}): ${line.toString('utf8').slice(0, 200)}`);
    }
  }
  return lines;
}

/** Starts a TLS hub and an agent serving `dataSourcesYaml` (the `dataSources:` section), registered. */
export async function startFidelityRelay(env: Env, dataSourcesYaml: string, ca: Buffer): Promise<FidelityRelay> {
  const hub = await startHub(env);
  const agent = startAgent(env, basicAgentYaml(env, [hub.url]), dataSourcesYaml);
  await agent.statuses.next(isState('registered'));
  const dispatcher = new UndiciAgent({ connect: { ca }, bodyTimeout: 0, headersTimeout: 60_000 });
  const base = `https://127.0.0.1:${hub.port}/v1/data-sources`;
  const post = async (path: string, body: string, contentType = 'application/json') => {
    const res = await request(`${base}/${path}`, {
      method: 'POST',
      dispatcher,
      headers: { authorization: `Bearer ${API_TOKENS.tenant1}`, 'content-type': contentType, accept: 'application/x-ndjson, application/json' },
      body,
    });
    return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
  };
  return {
    hub,
    agent,
    async search(dataSource, params) {
      const res = await post(`${encodeURIComponent(dataSource)}/search`, JSON.stringify(params));
      const problems: string[] = [];
      if (res.status !== 200) return { status: res.status, entries: [], last: undefined, problems: [`status ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`] };
      const lines = ndjsonLines(res.body, problems);
      const last = lines.at(-1);
      if (last?.['end'] !== true) problems.push(`the stream did not end with a summary: ${JSON.stringify(last).slice(0, 500)}`);
      const entries = last?.['end'] === true ? lines.slice(0, -1) : lines;
      if (last?.['end'] === true && last['count'] !== entries.length) problems.push(`summary count ${String(last['count'])} but ${entries.length} entry lines`);
      return { status: res.status, entries, last, problems };
    },
    async get(dataSource, params) {
      const res = await post(`${encodeURIComponent(dataSource)}/get`, JSON.stringify(params));
      if (!isUtf8(res.body)) return { status: res.status, body: { problem: `body is not UTF-8: ${res.body.toString('hex').slice(0, 200)}` } };
      return { status: res.status, body: JSON.parse(res.body.toString('utf8')) as Record<string, unknown> };
    },
    async export(dataSource, records) {
      const body = records.map((r) => `${JSON.stringify(r)}\n`).join('');
      const res = await post(`${encodeURIComponent(dataSource)}/export`, body, 'application/x-ndjson');
      const problems: string[] = [];
      const lines = ndjsonLines(res.body, problems);
      if (problems.length > 0) throw new Error(problems.join('\n'));
      return { status: res.status, lines };
    },
    async close() {
      agent.stop();
      await hub.close();
      await dispatcher.close();
    },
  };
}

/**
 * `ldapsearch -LLL -o ldif-wrap=no` of the subtree `base` (all user attributes), parsed. Run
 * asynchronously: the server may live in this process (the scripted responder).
 */
export async function ldapsearch(server: Pick<Slapd, 'url' | 'adminDN' | 'adminPassword'>, base: string): Promise<RawEntry[]> {
  const args = ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', server.url, '-D', server.adminDN, '-w', server.adminPassword, '-b', base, '-s', 'sub', '(objectClass=*)'];
  const child = spawn('ldapsearch', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new Error(`ldapsearch failed (${code ?? signal}): ${Buffer.concat(err).toString('utf8')}`);
  return parseLdapsearch(Buffer.concat(out));
}

/** A failure message listing the first differences (a test expects `'0 differences'`). */
export function summarise(differences: readonly string[], max = 40): string {
  if (differences.length === 0) return '0 differences';
  return `${differences.length} differences:\n${differences.slice(0, max).join('\n')}${differences.length > max ? `\n… and ${differences.length - max} more` : ''}`;
}
