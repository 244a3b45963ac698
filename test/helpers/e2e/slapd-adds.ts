/**
 * slapd's own account of the writes an export made: the ADD operations in its `stats` log
 * (`conn=N op=M ADD dn="…"`, then `conn=N op=M RESULT tag=105 err=E …`), the oracle for
 * "written at most once". The agent's own reports are what is under test, so only slapd's
 * log may say what reached the directory.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Client } from 'ldapts';
import { vi } from 'vitest';
import type { Slapd } from '../slapd.js';

export interface AddOp {
  readonly dn: string;
  /**
   * Result code (RFC 4511 §4.1.9: 0 success, 68 entryAlreadyExists); undefined while none was
   * logged — and for good when the client's connection closed first: slapd then sends (and
   * logs) no result, though the entry may have been added all the same.
   */
  readonly err: number | undefined;
  /** The LDAP connection closed (`conn=N fd=M closed`). */
  readonly closed: boolean;
}

const ADD = /conn=(\d+) op=(\d+) ADD dn="([^"]*)"/;
const RESULT = /conn=(\d+) op=(\d+) RESULT tag=105 err=(\d+)/;
const CLOSED = /conn=(\d+) fd=\d+ closed/;

/**
 * Reads slapd's log incrementally from byte `from`: cheap enough to poll every few
 * milliseconds while an export runs (a trigger "after K ADDs").
 */
export class SlapdAddLog {
  private offset: number;
  private rest = '';
  private readonly ops: Array<{ dn: string; err: number | undefined; closed: boolean; conn: string }> = [];
  private readonly byOp = new Map<string, { dn: string; err: number | undefined }>();
  /** Markers of `settle` seen in the log. */
  private readonly markers = new Set<string>();

  constructor(
    private readonly slapd: Slapd,
    /** Only ADDs of DNs matching this count (the other tests' writes are not ours). */
    private readonly match: (dn: string) => boolean,
    from = slapd.logSize(),
  ) {
    this.offset = from;
  }

  /** Reads what slapd logged since the last call; returns every ADD so far, in log order. */
  poll(): readonly AddOp[] {
    const size = statSync(this.slapd.logFile).size;
    if (size > this.offset) {
      const buf = Buffer.alloc(size - this.offset);
      const fd = openSync(this.slapd.logFile, 'r');
      try {
        readSync(fd, buf, 0, buf.length, this.offset);
      } finally {
        closeSync(fd);
      }
      this.offset = size;
      const lines = (this.rest + buf.toString('utf8')).split('\n');
      this.rest = lines.pop() ?? '';
      for (const line of lines) this.line(line);
    }
    return this.ops;
  }

  /** ADD operations logged so far (after `poll`). */
  get count(): number {
    return this.poll().length;
  }

  /** ADDs without their RESULT line on a connection still open: slapd still writing, or its log not flushed. */
  get pending(): number {
    return this.poll().filter((o) => o.err === undefined && !o.closed).length;
  }

  /**
   * Waits until the log holds everything slapd did so far and every ADD has its answer: a search
   * for a unique marker is sent after them, and slapd logs in order, so once the marker is in
   * the file nothing earlier is still on its way there. Returns the ADDs.
   */
  async settle(timeoutMs = 15_000): Promise<readonly AddOp[]> {
    const marker = `settle-${randomUUID()}`;
    const client = new Client({ url: this.slapd.url });
    try {
      await client.bind(this.slapd.adminDN, this.slapd.adminPassword);
      await client.search(this.slapd.baseDN, { scope: 'base', filter: `(uid=${marker})`, attributes: ['1.1'] });
    } finally {
      await client.unbind().catch(() => undefined);
    }
    await vi.waitFor(
      () => {
        this.poll();
        if (!this.markers.has(marker)) throw new Error('marker search not logged yet');
        if (this.pending > 0) throw new Error(`${this.pending} ADDs without an answer`);
      },
      { timeout: timeoutMs, interval: 10 },
    );
    return this.ops;
  }

  private line(line: string): void {
    const marker = /\(uid=(settle-[0-9a-f-]+)\)/.exec(line);
    if (marker) {
      this.markers.add(marker[1]!);
      return;
    }
    const add = ADD.exec(line);
    if (add) {
      const dn = add[3]!;
      if (!this.match(dn)) return;
      const op = { dn, err: undefined as number | undefined, closed: false, conn: add[1]! };
      this.ops.push(op);
      this.byOp.set(`${add[1]}/${add[2]}`, op);
      return;
    }
    const result = RESULT.exec(line);
    if (result) {
      const op = this.byOp.get(`${result[1]}/${result[2]}`);
      if (op) op.err = Number(result[3]);
      return;
    }
    const closed = CLOSED.exec(line);
    if (closed) for (const op of this.ops) if (op.conn === closed[1]) op.closed = true;
  }
}

/**
 * Which ADDs applied, per DN, and the ADDs sent after one had applied (a write attempted twice).
 * An ADD without a result (its connection closed first) applied iff its entry exists and no later
 * ADD of the DN succeeded (a later one would then have met entryAlreadyExists).
 */
export function appliedAdds(
  ops: readonly AddOp[],
  present: (dn: string) => boolean,
): { applied: Set<AddOp>; duplicates: number; failedAdds: AddOp[]; unanswered: number } {
  const applied = new Set<AddOp>();
  const done = new Set<string>();
  let duplicates = 0;
  let unanswered = 0;
  const failedAdds: AddOp[] = [];
  ops.forEach((op, i) => {
    const dn = op.dn.toLowerCase();
    if (done.has(dn)) duplicates += 1;
    if (op.err === undefined) {
      unanswered += 1;
      const laterSuccess = ops.slice(i + 1).some((o) => o.dn.toLowerCase() === dn && o.err === 0);
      if (!done.has(dn) && present(op.dn) && !laterSuccess) {
        applied.add(op);
        done.add(dn);
      }
    } else if (op.err === 0) {
      if (!done.has(dn)) applied.add(op);
      done.add(dn);
    } else failedAdds.push(op);
  });
  return { applied, duplicates, failedAdds, unanswered };
}
