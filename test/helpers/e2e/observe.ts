/**
 * What the e2e tests observe from the outside: slapd's page requests (its `stats` log has one
 * `SRCH` line per page of a paged search, RFC 2696), the status listeners over HTTP, and a
 * counter that has stopped moving — found by polling, not by a fixed sleep, so a slow machine
 * only makes the test wait longer.
 */
import { request } from 'undici';
import { vi } from 'vitest';
import type { Slapd } from '../slapd.js';

/** SRCH lines slapd logged since byte `from` of its log for searches based at `base`. */
export function pageRequests(slapd: Slapd, from: number, base: string): number {
  const needle = ` SRCH base="${base}"`;
  const log = slapd.log(from);
  let n = 0;
  for (let i = log.indexOf(needle); i !== -1; i = log.indexOf(needle, i + needle.length)) n += 1;
  return n;
}

/**
 * Resolves with `read()` once it has returned the same value for `quietMs` (polled every 100 ms);
 * fails after `timeoutMs` of continuous change.
 */
export async function settled(read: () => number, opts: { quietMs: number; timeoutMs: number }): Promise<number> {
  let value = read();
  let since = performance.now();
  return vi.waitFor(
    () => {
      const now = read();
      if (now !== value) {
        value = now;
        since = performance.now();
      }
      if (performance.now() - since < opts.quietMs) throw new Error(`still changing: ${now}`);
      return now;
    },
    { timeout: opts.timeoutMs, interval: 100 },
  );
}

export interface StatusReply {
  readonly status: number;
  readonly body: unknown;
}

/** GET a status endpoint (`/readyz`, `/healthz`) of a status listener; JSON body. */
export async function statusGet(port: number, path: string): Promise<StatusReply> {
  const res = await request(`http://127.0.0.1:${port}${path}`);
  return { status: res.statusCode, body: await res.body.json() };
}

/** The Prometheus text of a status listener. */
export async function metricsText(port: number): Promise<string> {
  const res = await request(`http://127.0.0.1:${port}/metrics`);
  return res.body.text();
}
