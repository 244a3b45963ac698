/**
 * The results of one export on their way back to the hub, and the accounting for them when the
 * export fails.
 *
 * Results are cut into chunks (at most `maxChunkItems`, within the frame size, and a partial
 * chunk at most `flushAfterMs` old) and sent only under the hub's credit. Every result stays
 * "unsent" here until its chunk went out, so when the export fails, what is left — the
 * partial chunk and the chunks waiting for credit — goes into the final `error` frame
 * (`details.results`) instead of being dropped: a record written upstream always has its
 * result reported.
 *
 * Two bounds keep that error frame within `maxFrameBytes`: each result is at most
 * `maxResultBytes` (a longer one is shortened, see `shortenResult`), and the channel hands the
 * adapter a record only while `roomForOneMore()` — the results not yet sent plus one more
 * result still fit an error frame.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { ExportResult } from '../adapter-kit/adapter.js';
import { ProtocolError } from '../protocol/index.js';
import { CHUNK_ENVELOPE_BYTES, type PipelineLimits } from './limits.js';

/**
 * Bytes an export's `error` frame needs besides its `details.results`:
 * `{"type":"error","code":…,"message":…,"retryable":…,"id":"<≤128, escaped ≤256>","details":{"count":N,"results":[…]}}`
 * with the message cut to fit (see `withResults`): generous.
 */
export const ERROR_RESERVE_BYTES = 2048;
/** A result longer than this (as JSON) is shortened; results are normally well under 200 bytes. */
const RESULT_CAP_BYTES = 4096;
/** Results shorter than this are never shortened, whatever the frame size. */
const RESULT_FLOOR_BYTES = 256;
/** The longest error code kept in a result (the protocol's codes are under 30 characters). */
const MAX_CODE_CHARS = 64;

const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? 'null');

/** The most bytes one result may take, for the negotiated frame size. */
export function maxResultBytes(limits: Pick<PipelineLimits, 'maxFrameBytes'>): number {
  const room = Math.min(limits.maxFrameBytes - CHUNK_ENVELOPE_BYTES - 2, Math.floor((limits.maxFrameBytes - ERROR_RESERVE_BYTES) / 2));
  return Math.max(RESULT_FLOOR_BYTES, Math.min(RESULT_CAP_BYTES, room));
}

/** `text` cut to at most `chars` UTF-16 units, never between the two halves of a surrogate pair. */
function cut(text: string, chars: number): string {
  if (text.length <= chars) return text;
  const head = text.slice(0, Math.max(0, chars));
  const last = head.charCodeAt(head.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? head.slice(0, -1) : head;
}

/** The longest prefix of `text` (plus `…`) for which `size(candidate)` is at most `max`; '' if none. */
function longestFitting(text: string, max: number, size: (candidate: string) => number): string {
  if (size(text) <= max) return text;
  let lo = 0;
  let hi = text.length - 1;
  let best = '';
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const candidate = `${cut(text, mid)}…`;
    if (size(candidate) <= max) {
      best = candidate;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

/**
 * A result of at most `maxBytes` bytes of JSON. A longer one — an upstream's diagnostic of many
 * kilobytes, a huge `data` — is shortened rather than failing the export (which would leave the
 * records after it unwritten, or a written record unreported): a success keeps `index` and
 * `ok` and loses its `data`, a failure keeps its code and retryability and its message is cut
 * (ending in `…`). The record's outcome is never changed.
 */
export function shortenResult(result: ExportResult, maxBytes: number): { result: ExportResult; bytes: number; shortened: boolean } {
  const bytes = jsonBytes(result);
  if (bytes <= maxBytes) return { result, bytes, shortened: false };
  if (result.ok) {
    const short: ExportResult = { index: result.index, ok: true };
    return { result: short, bytes: jsonBytes(short), shortened: true };
  }
  const base = { index: result.index, ok: false as const, code: cut(String(result.code), MAX_CODE_CHARS), retryable: result.retryable === true };
  const message = longestFitting(String(result.message), maxBytes, (m) => jsonBytes({ ...base, message: m }));
  const short: ExportResult = { index: base.index, ok: false, code: base.code, message, retryable: base.retryable };
  return { result: short, bytes: jsonBytes(short), shortened: true };
}

/**
 * `err` with the export's accounting in its details: `count` (results of the whole export:
 * those sent in chunks plus these) and `results` (in order). Fitted to `maxFrameBytes` as the
 * `error` frame for request `id`: should it not fit, the error's own details are left out
 * first, then its message is cut — the results never are.
 */
export function withResults(err: ProtocolError, id: string, results: readonly ExportResult[], count: number, maxFrameBytes: number): ProtocolError {
  let details: Record<string, unknown> = { ...err.context.details, count, results };
  let message = err.message;
  const size = (m: string): number => jsonBytes({ type: 'error', code: err.code, message: m, retryable: err.retryable, id, details });
  if (size(message) > maxFrameBytes) details = { count, results };
  message = longestFitting(message, maxFrameBytes, size);
  return new ProtocolError(err.code, message, { ...err.context, requestId: id, details }, { cause: err.cause ?? err, retryable: err.retryable });
}

export interface ResultLedgerOptions {
  readonly limits: PipelineLimits;
  /** Chunks of results the hub granted with its request. */
  readonly initialCredit: number;
  readonly flushAfterMs: number;
  readonly scheduler: SchedulerLike;
  /** Sends one chunk of results (credit for it was taken); `bytes` is its JSON array's size. */
  readonly send: (items: ExportResult[], bytes: number) => void;
  /** A chunk was ready and no credit was there (once per stall). */
  readonly onStall: () => void;
  /** A result was shortened to fit (for the log). */
  readonly onShortened: (index: number, bytes: number) => void;
}

interface Cut {
  readonly items: ExportResult[];
  readonly bytes: number;
}

/** The results not yet sent, as chunks waiting for credit and the chunk being filled. */
export class ResultLedger {
  /** Results sent in chunks so far. */
  sent = 0;
  private readonly ready: Cut[] = [];
  private partial: ExportResult[] = [];
  private partialBytes = 2;
  private unsentCount = 0;
  private unsentBytes = 0;
  private credit: number;
  private stalled = false;
  private draining = false;
  private timer: Subscription | undefined;
  private readonly maxItems: number;
  private readonly maxChunkBytes: number;
  private readonly maxResult: number;

  constructor(private readonly options: ResultLedgerOptions) {
    this.credit = options.initialCredit;
    this.maxItems = options.limits.maxChunkItems;
    this.maxChunkBytes = options.limits.maxFrameBytes - CHUNK_ENVELOPE_BYTES;
    this.maxResult = maxResultBytes(options.limits);
  }

  /** Results waiting: in the chunk being filled or for credit. */
  get unsent(): number {
    return this.unsentCount;
  }

  /**
   * Would the results not yet sent, plus the result of one more record, still fit an error
   * frame? The channel writes the next record only then (see the file comment).
   */
  roomForOneMore(): boolean {
    if (this.unsentCount === 0) return true;
    const asArray = 2 + this.unsentBytes + this.unsentCount + this.maxResult;
    return asArray <= this.options.limits.maxFrameBytes - ERROR_RESERVE_BYTES;
  }

  add(result: ExportResult): void {
    const { result: r, bytes, shortened } = shortenResult(result, this.maxResult);
    if (shortened) this.options.onShortened(r.index, jsonBytes(result));
    this.unsentCount += 1;
    this.unsentBytes += bytes;
    if (this.partial.length > 0 && this.partialBytes + 1 + bytes > this.maxChunkBytes) this.cutPartial();
    this.partialBytes += (this.partial.length > 0 ? 1 : 0) + bytes;
    this.partial.push(r);
    if (this.partial.length >= this.maxItems || this.partialBytes + 1 > this.maxChunkBytes) this.cutPartial();
    if (this.partial.length > 0 && this.timer === undefined) {
      // A slow record must not hold finished results back for long.
      this.timer = this.options.scheduler.schedule(() => {
        this.timer = undefined;
        this.cutPartial();
        this.drain();
      }, this.options.flushAfterMs);
    }
    this.drain();
  }

  grant(n: number): void {
    this.credit += n;
    this.drain();
  }

  /** Sends the chunk being filled as it is, as soon as there is credit for it. */
  flush(): void {
    this.cutPartial();
    this.drain();
  }

  /** Stops the flush timer and returns every result not sent, in order (they leave the ledger). */
  takeUnsent(): ExportResult[] {
    this.stop();
    const all = [...this.ready.flatMap((c) => c.items), ...this.partial];
    this.ready.length = 0;
    this.partial = [];
    this.partialBytes = 2;
    this.unsentCount = 0;
    this.unsentBytes = 0;
    return all;
  }

  stop(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
  }

  private cutPartial(): void {
    if (this.partial.length === 0) return;
    this.ready.push({ items: this.partial, bytes: this.partialBytes });
    this.partial = [];
    this.partialBytes = 2;
    if (this.timer !== undefined) this.stop();
  }

  private drain(): void {
    // Re-entrant calls (a grant from inside `send`) return: the running loop re-reads the state.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.credit > 0 && this.ready.length > 0) {
        const c = this.ready.shift() as Cut;
        this.credit -= 1;
        this.stalled = false;
        this.unsentCount -= c.items.length;
        this.unsentBytes -= c.bytes - 2 - (c.items.length - 1);
        this.sent += c.items.length;
        this.options.send(c.items, c.bytes);
      }
      if (this.ready.length > 0 && this.credit === 0 && !this.stalled) {
        this.stalled = true;
        this.options.onStall();
      }
    } finally {
      this.draining = false;
    }
  }
}
