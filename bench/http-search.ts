/**
 * The HTTP caller of the search benchmark: POSTs a search to the hub's API and reads the NDJSON
 * answer as a cloud application would, over a keep-alive connection. It counts lines (newline
 * bytes) instead of parsing each entry, as `ldapsearch >/dev/null` does not interpret its output
 * either; the last line (the summary) is parsed and its `count` checked against the lines read.
 * A stalled caller stops reading after `stall.after` entries for `stall.ms`, leaving the bytes in
 * the socket (the backpressure under test), then drains the rest.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { API_TOKEN, type HubProcess } from './stack.js';

export interface SearchRead {
  /** Entry lines read (the summary line excluded). */
  readonly entries: number;
  readonly seconds: number;
}

export interface SearchParams {
  readonly base: string;
  readonly filter: string;
}

const NL = 0x0a;

export async function httpSearch(hub: HubProcess, dataSource: string, params: SearchParams, stall?: { after: number; ms: number }): Promise<SearchRead> {
  const t0 = performance.now();
  const res = await request(`${hub.apiUrl}/v1/data-sources/${dataSource}/search`, {
    method: 'POST',
    dispatcher: hub.dispatcher,
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ base: params.base, scope: 'sub', filter: params.filter }),
  });
  if (res.statusCode !== 200) throw new Error(`search answered ${res.statusCode}: ${await res.body.text()}`);
  let lines = 0;
  let stalled = false;
  // The bytes after the last newline: the start of the line being read (kept for the summary).
  let tail: Buffer = Buffer.alloc(0);
  let last: Buffer = Buffer.alloc(0);
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(NL); nl !== -1; nl = chunk.indexOf(NL, nl + 1)) {
      lines++;
      last = tail.length > 0 ? Buffer.concat([tail, chunk.subarray(from, nl)]) : chunk.subarray(from, nl);
      tail = Buffer.alloc(0);
      from = nl + 1;
    }
    if (from < chunk.length) tail = Buffer.concat([tail, chunk.subarray(from)]);
    if (stall && !stalled && lines >= stall.after) {
      stalled = true;
      await sleep(stall.ms);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary = JSON.parse(last.toString('utf8')) as { end?: boolean; count?: number; error?: unknown };
  if (summary.end !== true) throw new Error(`search ended without its summary line: ${last.toString('utf8').slice(0, 500)}`);
  if (summary.count !== lines - 1) throw new Error(`search summary says ${summary.count} entries, ${lines - 1} lines were read`);
  return { entries: lines - 1, seconds };
}
