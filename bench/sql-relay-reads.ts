/**
 * Paths (b) and (c) of the SQL search benchmark: the consumer of a `search` through the relay
 * (hub in this process ← agent in its own process ← PostgreSQL), at full speed and stalling.
 *
 * (b) reads the stream's chunk events under the hub's default credit window and counts their
 *     items without parsing them (the hub's HTTP API also writes the agent's bytes as they
 *     are); the agent's peak RSS is its VmHWM, reset before the search.
 * (c) grants credit for a few chunks, then grants none: the agent must stop pulling pages. The
 *     stall is recognised by the server's own count of the agent role's page queries
 *     (pg_stat_statements) and the chunks received both staying unchanged for `stablePolls`
 *     consecutive polls. Measured then: the agent's RSS against its RSS just before the search,
 *     its peak (VmHWM) over the stalled search, and the agent role's sessions that are idle in
 *     a transaction or running a statement. Then credit flows again and the search must
 *     complete with every row.
 */
import { Subject, type Subscription } from 'rxjs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Hub } from '../src/hub/hub.js';
import type { StreamEvent } from '../src/hub/request-sinks.js';
import { peakMb, resetPeak, rssMb } from './proc.js';
import type { BenchDatabase } from './sql-database.js';

export interface SearchRequest {
  readonly tenantId: string;
  readonly dataSource: string;
  readonly params: Record<string, unknown>;
}

export interface RelayRead {
  readonly entries: number;
  readonly seconds: number;
  /** Agent VmHWM over the search, MB. */
  readonly agentPeakMb: number;
}

/** One search at full speed; resolves when the `end` event came, checking its count. */
export async function relayedSearch(hub: Hub, agentPid: number, req: SearchRequest): Promise<RelayRead> {
  resetPeak(agentPid);
  const t0 = performance.now();
  const entries = await new Promise<number>((resolve, reject) => {
    let n = 0;
    hub.searchEvents$(req).subscribe({
      next: (e: StreamEvent) => {
        if (e.type === 'items') n += e.count;
        else if (e.count !== n) reject(new Error(`end says ${e.count} entries, ${n} were received`));
      },
      error: reject,
      complete: () => resolve(n),
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  return { entries, seconds, agentPeakMb: peakMb(agentPid) };
}

export interface StallOptions {
  /** Chunks whose credit is granted back before the consumer stops (on top of the initial window). */
  readonly readChunks: number;
  /** Consecutive polls without a new page query or chunk that make a stall. */
  readonly stablePolls: number;
  readonly pollMs: number;
  /** Rows the search must deliver in the end. */
  readonly rows: number;
}

export interface StallResult {
  /** Agent VmRSS just before the search. */
  readonly beforeMb: number;
  /** Agent VmRSS once stalled. */
  readonly stalledMb: number;
  /** Agent VmHWM from the search's start until the stall was measured. */
  readonly peakMb: number;
  /** Entries received before the stall. */
  readonly entriesAtStall: number;
  /** Page queries the agent role ran from the search's start until the stall. */
  readonly pageQueriesAtStall: number;
  /** Agent-role sessions `idle in transaction` while stalled. */
  readonly idleInTransaction: number;
  /** Agent-role sessions running a statement while stalled. */
  readonly activeSessions: number;
  /** Polls until the stall was recognised. */
  readonly polls: number;
  /** Entries delivered in all, after the consumer resumed. */
  readonly entries: number;
}

const STALL_DEADLINE_MS = 120_000;

export async function stalledSearch(hub: Hub, agentPid: number, db: BenchDatabase, agentRole: string, req: SearchRequest, o: StallOptions): Promise<StallResult> {
  const beforeMb = rssMb(agentPid);
  resetPeak(agentPid);
  const queries0 = await db.pageQueries(agentRole);
  const demand = new Subject<number>();
  const window = 8;
  let chunks = 0;
  let entries = 0;
  let resumed = false;
  let sub: Subscription | undefined;
  const done = new Promise<number>((resolve, reject) => {
    sub = hub.searchEvents$(req, { window, demand$: demand }).subscribe({
      next: (e: StreamEvent) => {
        if (e.type !== 'items') {
          if (e.count !== entries) reject(new Error(`end says ${e.count} entries, ${entries} were received`));
          return;
        }
        chunks += 1;
        entries += e.count;
        if (resumed || chunks <= o.readChunks) demand.next(1);
      },
      error: reject,
      complete: () => resolve(entries),
    });
  });
  done.catch(() => undefined);
  try {
    let last = { queries: -1, chunks: -1 };
    let stable = 0;
    let polls = 0;
    const deadline = Date.now() + STALL_DEADLINE_MS;
    while (stable < o.stablePolls) {
      if (Date.now() > deadline) throw new Error(`no stall within ${STALL_DEADLINE_MS / 1000} s (${chunks} chunks, ${entries} entries)`);
      await sleep(o.pollMs);
      polls += 1;
      const now = { queries: await db.pageQueries(agentRole), chunks };
      stable = now.queries === last.queries && now.chunks === last.chunks ? stable + 1 : 0;
      last = now;
    }
    if (entries >= o.rows) throw new Error(`the whole search (${entries} entries) arrived before the consumer stalled: nothing was measured`);
    const stalled = {
      stalledMb: rssMb(agentPid),
      peakMb: peakMb(agentPid),
      entriesAtStall: entries,
      pageQueriesAtStall: last.queries - queries0,
      idleInTransaction: await db.idleInTransaction(agentRole),
      activeSessions: await db.activeSessions(agentRole),
      polls,
    };
    resumed = true;
    demand.next(window);
    const total = await done;
    if (total !== o.rows) throw new Error(`the resumed search delivered ${total} entries, expected ${o.rows}`);
    return { beforeMb, ...stalled, entries: total };
  } finally {
    sub?.unsubscribe();
  }
}
