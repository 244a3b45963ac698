/**
 * Keyed (idempotent) exports through the hub's HTTP API, as a cloud app that retries would run
 * them: the NDJSON body sent with an `Idempotency-Key` header, every result line kept by index,
 * the way the response ended recorded; a resend that meets a retryable `BUSY` (the agent still
 * finishing the first attempt) is sent again after `Retry-After`, as the API asks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { vi } from 'vitest';
import { ndjsonCall, type Ending, type Line } from './ndjson-call.js';
import { API_TOKEN } from './stack.js';

/** `uid=<tag>-00042,ou=people,…` for record 42 of run `tag`. */
export function resumeDn(tag: string, i: number, base: string): string {
  return `uid=${tag}-${String(i).padStart(5, '0')},${base}`;
}

/** One `add` record per line, `n` new inetOrgPerson entries under `base`. */
export function addRecordLines(tag: string, n: number, base: string): string[] {
  return Array.from({ length: n }, (_, i) => {
    const uid = `${tag}-${String(i).padStart(5, '0')}`;
    return JSON.stringify({ op: 'add', dn: resumeDn(tag, i, base), attributes: { objectClass: ['inetOrgPerson'], uid, cn: `Resume ${tag} Nº ${i}`, sn: 'Resume' } });
  });
}

/** The record index a DN of run `tag` belongs to, or undefined for another run's DN. */
export function indexOfDn(tag: string, dn: string): number | undefined {
  const m = new RegExp(`^uid=${tag}-(\\d{5}),`, 'i').exec(dn);
  return m ? Number(m[1]) : undefined;
}

export interface Attempt {
  readonly requestId: string;
  readonly status: number;
  /** Result lines in the order received. */
  readonly results: Line[];
  readonly ending: Ending;
  /** Resends answered 503 BUSY before this attempt was accepted. */
  readonly busy: number;
}

export interface KeyedExportOptions {
  readonly dispatcher: Dispatcher;
  readonly requestId: string;
  readonly key: string | undefined;
  readonly lines: readonly string[] | AsyncIterable<string>;
}

/** A running keyed export: `results` fills as lines arrive; `done` resolves with the attempt. */
export interface RunningExport {
  readonly results: Line[];
  readonly done: Promise<Attempt>;
  abort(): void;
}

/** Starts a keyed export and reads its response to the end in the background. */
export function startKeyedExport(url: string, opts: KeyedExportOptions, busy = 0): RunningExport {
  const results: Line[] = [];
  let abort = (): void => undefined;
  const body = Array.isArray(opts.lines) ? `${(opts.lines as string[]).join('\n')}\n` : (opts.lines as AsyncIterable<string>);
  const done = (async (): Promise<Attempt> => {
    let call;
    try {
      call = await ndjsonCall(url, {
        dispatcher: opts.dispatcher,
        requestId: opts.requestId,
        body: typeof body === 'string' ? body : withNewlines(body),
        contentType: 'application/x-ndjson',
        ...(opts.key === undefined ? {} : { headers: { 'idempotency-key': opts.key } }),
      });
    } catch (err) {
      // The connection went before the response began (a hub stopped under it).
      return { requestId: opts.requestId, status: 0, results, ending: { kind: 'cut', reason: `no response: ${String(err)}` }, busy };
    }
    abort = () => call.abort();
    let ending: Ending;
    try {
      ending = await call.finish((line) => results.push(line));
    } catch (err) {
      ending = { kind: 'cut', reason: `unreadable response after ${results.length} results: ${String(err)}` };
    }
    return { requestId: opts.requestId, status: call.status, results, ending, busy };
  })();
  return { results, done, abort: () => abort() };
}

async function* withNewlines(lines: AsyncIterable<string>): AsyncGenerator<string> {
  for await (const line of lines) yield `${line}\n`;
}

/**
 * Sends the export, and again while the agent answers a retryable BUSY (it is still finishing an
 * earlier attempt under the same key), waiting the `Retry-After` the hub gives. Anything else is
 * returned as it came.
 */
export async function sendKeyedExport(url: string, opts: KeyedExportOptions, maxBusy = 30): Promise<Attempt> {
  for (let busy = 0; ; busy++) {
    const attempt = await startKeyedExport(url, { ...opts, requestId: busy === 0 ? opts.requestId : `${opts.requestId}-busy${busy}` }, busy).done;
    const e = attempt.ending;
    if (e.kind !== 'failure' || e.body.code !== 'BUSY' || !e.body.retryable || busy >= maxBusy) return attempt;
    await sleep(1000); // Retry-After: 1 (docs/http-api.md)
  }
}

export interface AgentView {
  readonly id: string;
  readonly sessionId: string;
}

/** `GET /v1/agents` (an empty list while the hub is down). */
export async function listAgents(apiUrl: string, dispatcher: Dispatcher): Promise<AgentView[]> {
  try {
    const res = await request(`${apiUrl}/v1/agents`, { dispatcher, headers: { authorization: `Bearer ${API_TOKEN}` } });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return [];
    }
    return ((await res.body.json()) as { agents: AgentView[] }).agents;
  } catch {
    return [];
  }
}

/**
 * Waits until the hub lists `agentId` with a session other than `notSession` (the agent has
 * registered again after a fault); resolves with the new session id.
 */
export async function waitForRegistration(apiUrl: string, dispatcher: Dispatcher, agentId: string, notSession?: string, timeoutMs = 30_000): Promise<string> {
  return vi.waitFor(
    async () => {
      const a = (await listAgents(apiUrl, dispatcher)).find((x) => x.id === agentId);
      if (!a || a.sessionId === notSession) throw new Error(`agent ${agentId} not registered (again) yet`);
      return a.sessionId;
    },
    { timeout: timeoutMs, interval: 50 },
  );
}
