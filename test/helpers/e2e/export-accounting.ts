/**
 * The books of one interrupted-then-resent keyed export: what the caller was told on each of
 * the two attempts against what slapd's log says reached the directory. Pure: it returns one
 * matrix row and the list of broken rules, so a test asserts `violations` is empty and prints
 * the row.
 *
 * The rules, per record (the export adds new entries only, so every record can be written):
 * - written at most once: no DN gets a second ADD once one succeeded (0 duplicates);
 * - every write reported: a DN in slapd has its index reported ok (fresh, `replayed`, or
 *   `verified` — the entry read back) or `OUTCOME_UNKNOWN` (0 unreported);
 * - every reported success is real: an index reported ok has its entry (0 lost);
 * - the resend replays what the first attempt wrote and writes only the rest;
 * - `OUTCOME_UNKNOWN` only after an agent process died, at most one per death, and such a
 *   record is never written again.
 */
import type { Attempt } from './keyed-export.js';
import { indexOfDn } from './keyed-export.js';
import type { Line } from './ndjson-call.js';
import { appliedAdds, type AddOp } from './slapd-adds.js';

export type FaultKind = 'cut' | 'hub-restart' | 'agent-kill';

export interface RunFacts {
  readonly tag: string;
  readonly records: number;
  readonly kind: FaultKind;
  /** Agent processes killed during the first attempt. */
  readonly kills: number;
  readonly first: Attempt;
  readonly second: Attempt;
  /** slapd ADDs before the resend began (all with their RESULT), and from then on. */
  readonly addsBefore: readonly AddOp[];
  readonly addsAfter: readonly AddOp[];
  /** Indexes whose entry a search of slapd found after the resend. */
  readonly present: ReadonlySet<number>;
}

export interface RunRow {
  records: number;
  /** Results the caller received on the first attempt, and ADDs slapd saw before the resend. */
  firstResults: number;
  firstWrites: number;
  fresh: number;
  replayed: number;
  verified: number;
  unknown: number;
  codedErrors: number;
  duplicates: number;
  /** ADDs slapd logged no result for (the agent's LDAP connection closed first). */
  unanswered: number;
  unreported: number;
  lost: number;
  busy: number;
}

const isResult = (l: Line, n: number): boolean =>
  Number.isSafeInteger(l['index']) &&
  (l['index'] as number) >= 0 &&
  (l['index'] as number) < n &&
  (l['ok'] === true || (l['ok'] === false && typeof l['code'] === 'string' && typeof l['message'] === 'string' && typeof l['retryable'] === 'boolean'));

export function accountRun(f: RunFacts): { row: RunRow; violations: string[] } {
  const v: string[] = [];
  const n = f.records;
  const dnIndex = (op: AddOp): number => indexOfDn(f.tag, op.dn) ?? -1;

  // Shapes and order of both attempts.
  for (const [name, a] of [
    ['attempt 1', f.first],
    ['attempt 2', f.second],
  ] as const) {
    a.results.forEach((l, pos) => {
      if (!isResult(l, n)) v.push(`${name}: malformed result line ${JSON.stringify(l)}`);
      else if (l['index'] !== pos) v.push(`${name}: result ${pos} has index ${String(l['index'])} (results come in record order)`);
    });
  }
  if (f.first.results.some((l) => l['replayed'] === true)) v.push('attempt 1 (a fresh key) has replayed results');
  const okLines = f.second.results.filter((l) => l['ok'] === true).length;
  const summary = { kind: 'summary', line: { end: true, count: n, ok: okLines, failed: n - okLines } };
  if (JSON.stringify(f.second.ending) !== JSON.stringify(summary)) v.push(`attempt 2 ended ${JSON.stringify(f.second.ending)}, expected ${JSON.stringify(summary)}`);
  if (f.second.results.length !== n) v.push(`attempt 2 has ${f.second.results.length} results for ${n} records`);

  // What slapd saw, per index.
  const before = new Map<number, AddOp[]>();
  const after = new Map<number, AddOp[]>();
  for (const [ops, into] of [
    [f.addsBefore, before],
    [f.addsAfter, after],
  ] as const) {
    for (const op of ops) into.set(dnIndex(op), [...(into.get(dnIndex(op)) ?? []), op]);
  }
  const presentDn = (dn: string): boolean => f.present.has(indexOfDn(f.tag, dn) ?? -1);
  const { applied, duplicates, failedAdds, unanswered } = appliedAdds([...f.addsBefore, ...f.addsAfter], presentDn);
  if (duplicates > 0) v.push(`${duplicates} ADDs of a DN after its ADD had succeeded`);
  for (const op of failedAdds) v.push(`ADD ${op.dn} failed with err=${String(op.err)}`);
  const appliedIdx = new Set([...applied].map(dnIndex));
  for (const i of f.present) if (!appliedIdx.has(i)) v.push(`record ${i}: entry present without an ADD in slapd's log`);
  const row: RunRow = {
    records: n,
    firstResults: f.first.results.length,
    firstWrites: f.addsBefore.length,
    fresh: 0,
    replayed: 0,
    verified: 0,
    unknown: 0,
    codedErrors: 0,
    duplicates,
    unanswered,
    unreported: 0,
    lost: 0,
    busy: f.second.busy,
  };
  const firstByIndex = new Map(f.first.results.map((l) => [l['index'] as number, l]));
  for (let i = 0; i < n; i++) {
    const last = f.second.results[i];
    const wroteBefore = (before.get(i) ?? []).some((o) => applied.has(o));
    const wroteAfter = (after.get(i) ?? []).length;
    const first = firstByIndex.get(i);
    if (first?.['ok'] === true && wroteBefore === false) v.push(`record ${i}: attempt 1 reported ok, slapd saw no successful ADD`);
    if (!last || last['index'] !== i) continue; // reported above
    if (last['ok'] === true) {
      if (!f.present.has(i)) {
        row.lost += 1;
        v.push(`record ${i}: reported ok, no entry in slapd`);
      }
      if (last['verified'] === true || last['replayed'] === true) {
        // Written by attempt 1: its journaled result, or (its outcome lost with the agent)
        // confirmed by reading the entry back.
        if (last['verified'] === true) row.verified += 1;
        else row.replayed += 1;
        if (!wroteBefore) v.push(`record ${i}: ${JSON.stringify(last)}, but attempt 1 never wrote it`);
        if (wroteAfter > 0) v.push(`record ${i}: ${JSON.stringify(last)}, yet sent to slapd again`);
      } else {
        row.fresh += 1;
        if (wroteBefore) v.push(`record ${i}: attempt 1 wrote it, attempt 2 reports it as newly written (neither replayed nor verified)`);
        if (wroteAfter !== 1) v.push(`record ${i}: fresh ok on attempt 2 with ${wroteAfter} ADDs`);
      }
    } else if (last['code'] === 'OUTCOME_UNKNOWN') {
      row.unknown += 1;
      if (f.kind !== 'agent-kill') v.push(`record ${i}: OUTCOME_UNKNOWN without an agent kill (${f.kind})`);
      if (wroteAfter > 0) v.push(`record ${i}: OUTCOME_UNKNOWN, yet sent to slapd again`);
      if (first !== undefined) v.push(`record ${i}: attempt 1 reported ${JSON.stringify(first)}, attempt 2 OUTCOME_UNKNOWN`);
    } else {
      row.codedErrors += 1;
      v.push(`record ${i}: ${String(last['code'])} on attempt 2 (${String(last['message'])}): every record of this export can be written`);
      if (f.present.has(i)) {
        row.unreported += 1;
        v.push(`record ${i}: in slapd but reported ${String(last['code'])}`);
      }
    }
  }
  if (row.unknown > f.kills) v.push(`${row.unknown} OUTCOME_UNKNOWN for ${f.kills} agent kills`);
  // At most the record being written when the fault hit can lose its outcome.
  if (row.verified + row.unknown > Math.max(f.kills, 1)) v.push(`${row.verified} verified + ${row.unknown} unknown records: more than the one in flight per fault`);
  return { row, violations: v };
}

/** A fixed-width matrix line for the report. */
export function formatRow(label: string, r: RunRow): string {
  return (
    `${label.padEnd(34)} records ${r.records}, attempt 1: ${r.firstResults} results/${r.firstWrites} writes; attempt 2: ` +
    `fresh ${r.fresh}, replayed ${r.replayed}, verified ${r.verified}, OUTCOME_UNKNOWN ${r.unknown}, coded errors ${r.codedErrors}; ` +
    `duplicates ${r.duplicates}, ADDs without result ${r.unanswered}, unreported ${r.unreported}, lost ${r.lost}, BUSY resends ${r.busy}`
  );
}
