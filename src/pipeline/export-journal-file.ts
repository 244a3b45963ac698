/**
 * One export journal file (docs/exports.md, "The journal"): its format, reading it back, and the
 * open journal that appends to it. An append-only file of JSON lines, one file per (data source,
 * idempotency key), named by the key's digest.
 *
 *   {"v":1,"dataSource":"hr","keyDigest":"<32 hex>","created":"2025-01-01T00:00:00.000Z"}
 *   {"t":"i","n":0,"h":"<64 hex>"}                        intent: record 0 is about to be written
 *   {"t":"o","n":0,"h":"<64 hex>","r":{"ok":true}}        outcome: what the upstream answered
 *
 * Every line ends with `\n` and is written by one `write(2)` of the whole line, so a line
 * without its `\n` was never completely written: reading back ignores (and cuts off) such a torn
 * last line. Anything else that does not parse is corruption, which is refused rather than
 * skipped — a journal read back as emptier than it is would let a resend write records again.
 */
import { open as openFile } from 'node:fs/promises';
import { closeSync, fdatasyncSync, ftruncateSync, writeSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import type { JournaledResult } from '../adapter-kit/adapter.js';
import { ProtocolError } from '../protocol/index.js';

export const JOURNAL_VERSION = 1;

export type { JournaledResult };

/** What the journal knows of one record. */
export type JournalState =
  | { readonly state: 'none' }
  | { readonly state: 'intent'; readonly hash: string }
  | { readonly state: 'outcome'; readonly hash: string; readonly result: JournaledResult };

export type JournalLine =
  | { readonly t: 'i'; readonly n: number; readonly h: string }
  | { readonly t: 'o'; readonly n: number; readonly h: string; readonly r: JournaledResult };

/**
 * A result is replayed on a resend unless it is a retryable failure: a retryable code
 * (UPSTREAM_UNAVAILABLE, TIMEOUT, BUSY, …) says the upstream did not apply the record, so it is
 * written again; a success or a final refusal (ALREADY_EXISTS, CONSTRAINT_VIOLATION, …) comes back
 * as it was journaled.
 */
export function shouldReplay(result: JournaledResult): boolean {
  return result.ok || !result.retryable;
}

const HASH = /^[0-9a-f]{64}$/;
const FILE_NAME = /^([0-9a-f]{32})\.jsonl$/;

export function journalFileName(digest: string): string {
  return `${digest}.jsonl`;
}

/** The digest a journal file is named by, or undefined for any other file. */
export function digestOfFileName(name: string): string | undefined {
  return FILE_NAME.exec(name)?.[1];
}

export function isRecordIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function isRecordHash(h: unknown): h is string {
  return typeof h === 'string' && HASH.test(h);
}

export function headerLine(dataSource: string, keyDigest: string, created: Date): string {
  return `${JSON.stringify({ v: JOURNAL_VERSION, dataSource, keyDigest, created: created.toISOString() })}\n`;
}

export function entryLine(line: JournalLine): string {
  return `${JSON.stringify(line)}\n`;
}

/**
 * The state after `line`, or why `line` cannot follow `current`. Shared by the writer (which
 * refuses the call) and the reader (which refuses the file), so both enforce the same rules:
 * an outcome follows the intent of the same content; a record is never re-attempted after a
 * replayable outcome; the content of a record index never changes.
 */
export function transition(current: JournalState, line: JournalLine): JournalState | string {
  if (current.state !== 'none' && current.hash !== line.h) {
    return `record ${line.n} was journaled with another content hash`;
  }
  if (line.t === 'i') {
    if (current.state === 'outcome' && shouldReplay(current.result)) {
      return `record ${line.n} already has a final outcome`;
    }
    return { state: 'intent', hash: line.h };
  }
  if (current.state !== 'intent') return `outcome of record ${line.n} without its intent`;
  return { state: 'outcome', hash: line.h, result: line.r };
}

// ---------------------------------------------------------------------------------------------
// Reading back

export interface JournalContents {
  /** The file holds a complete header line (else it is absent, empty or a torn header). */
  readonly hasHeader: boolean;
  readonly entries: Map<number, JournalState>;
  /** Bytes up to the end of the last complete line. */
  readonly goodLength: number;
  /** Bytes after it: a torn last line to cut off (0 when the file ends with `\n`). */
  readonly tornBytes: number;
}

function corrupt(file: string, dataSource: string, why: string): ProtocolError {
  return new ProtocolError(
    'INTERNAL',
    `export journal ${file} is unreadable: ${why}; the key cannot be resumed until the file is inspected or removed`,
    { dataSource, details: { file } },
    { retryable: false },
  );
}

function parseHeader(text: string, dataSource: string, keyDigest: string): string | undefined {
  let h: unknown;
  try {
    h = JSON.parse(text);
  } catch {
    return 'the first line is not JSON';
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return 'the first line is not a journal header';
  const header = h as Record<string, unknown>;
  if (header['v'] !== JOURNAL_VERSION) return `unsupported journal version ${JSON.stringify(header['v'])}`;
  if (header['keyDigest'] !== keyDigest) return 'the header names another key digest';
  if (header['dataSource'] !== dataSource) return 'the header names another data source';
  return undefined;
}

function parseResult(r: unknown): JournaledResult | undefined {
  if (typeof r !== 'object' || r === null) return undefined;
  const o = r as Record<string, unknown>;
  if (o['ok'] === true) return 'data' in o ? { ok: true, data: o['data'] } : { ok: true };
  if (o['ok'] === false && typeof o['code'] === 'string' && typeof o['message'] === 'string' && typeof o['retryable'] === 'boolean') {
    return { ok: false, code: o['code'], message: o['message'], retryable: o['retryable'] };
  }
  return undefined;
}

function parseEntry(text: string): JournalLine | undefined {
  let u: unknown;
  try {
    u = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof u !== 'object' || u === null) return undefined;
  const o = u as Record<string, unknown>;
  const { n, h } = o;
  if (!isRecordIndex(n) || !isRecordHash(h)) return undefined;
  if (o['t'] === 'i') return { t: 'i', n, h };
  const r = o['t'] === 'o' ? parseResult(o['r']) : undefined;
  return r === undefined ? undefined : { t: 'o', n, h, r };
}

/**
 * Reads a journal file line by line (memory: the entries plus one line), or `undefined` when
 * there is no file. Rejects with a coded INTERNAL error for a wrong header or a corrupt line.
 */
export async function readJournal(path: string, dataSource: string, keyDigest: string): Promise<JournalContents | undefined> {
  let handle;
  try {
    handle = await openFile(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const entries = new Map<number, JournalState>();
    const buf = Buffer.alloc(64 * 1024);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let goodLength = 0;
    let lineNo = 0;
    let hasHeader = false;
    const onLine = (bytes: Buffer): void => {
      lineNo += 1;
      const text = bytes.toString('utf8');
      if (lineNo === 1) {
        const why = parseHeader(text, dataSource, keyDigest);
        if (why !== undefined) throw corrupt(path, dataSource, why);
        hasHeader = true;
        return;
      }
      const line = parseEntry(text);
      if (line === undefined) throw corrupt(path, dataSource, `line ${lineNo} is not a journal entry`);
      const next = transition(entries.get(line.n) ?? { state: 'none' }, line);
      if (typeof next === 'string') throw corrupt(path, dataSource, `line ${lineNo}: ${next}`);
      entries.set(line.n, next);
    };
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        onLine(pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
        goodLength += pendingBytes + piece.length + 1;
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
      }
      if (start < bytesRead) {
        pending.push(Buffer.from(chunk.subarray(start)));
        pendingBytes += bytesRead - start;
      }
    }
    return { hasHeader, entries, goodLength, tornBytes: pendingBytes };
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Writes the whole line at the end of the file (`fd` opened with 'a'); throws the errno error. */
export function appendLine(fd: number, text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  // A regular file takes the whole buffer in one write(2) unless the disk fills up or a signal
  // kills the process; the loop only finishes a short write, a failing write throws.
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  return bytes.length;
}

// ---------------------------------------------------------------------------------------------
// One open journal

export interface KeyJournal {
  /** What the journal knows of record `index`. */
  lookup(index: number): JournalState;
  /**
   * Appends an intent line; returns once it is written to the OS (and fsynced with `fsync`).
   * Call it BEFORE the upstream write, and do not write when it throws (INTERNAL, retryable:
   * the disk is full or unwritable). Also throws (INTERNAL, not retryable) when the line cannot
   * follow what the journal holds: another hash for `index`, or a replayable outcome.
   */
  intent(index: number, hash: string): void;
  /**
   * Appends the outcome line once the upstream answered (success or coded failure). Throws when
   * the record has no intent of the same hash, or when the line cannot be written: the upstream
   * write happened all the same, and a resend finds the intent only (OUTCOME_UNKNOWN).
   */
  outcome(index: number, hash: string, result: JournaledResult): void;
  /** Closes the file (idempotent) and lets the key be opened again. */
  close(): Promise<void>;
}

const NONE: JournalState = { state: 'none' };

export interface JournalContext {
  readonly path: string;
  readonly dataSource: string;
  readonly fsync: boolean;
  readonly log: Logger;
  readonly ioError: (action: string, err: unknown) => ProtocolError;
  readonly release: () => Promise<void>;
}

/**
 * One open journal. Memory: one small entry (state, hash, result) per record index while open —
 * O(N) for an export of N records.
 */
export class FileKeyJournal implements KeyJournal {
  private closed = false;
  /** Set when the file may hold a partial line that could not be cut off: no more appends. */
  private broken: ProtocolError | undefined;

  constructor(
    private readonly fd: number,
    private size: number,
    private readonly entries: Map<number, JournalState>,
    private readonly ctx: JournalContext,
  ) {}

  lookup(index: number): JournalState {
    return this.entries.get(index) ?? NONE;
  }

  intent(index: number, hash: string): void {
    this.append({ t: 'i', n: index, h: hash }, this.ctx.fsync);
  }

  outcome(index: number, hash: string, result: JournaledResult): void {
    // Not synced on its own: the next intent's fdatasync (or close) flushes it with the file.
    this.append({ t: 'o', n: index, h: hash, r: result }, false);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.ctx.fsync && this.broken === undefined) fdatasyncSync(this.fd);
    } catch (err) {
      this.ctx.log.warn({ err, file: this.ctx.path }, 'export journal: fdatasync at close failed');
    }
    try {
      closeSync(this.fd);
    } catch (err) {
      this.ctx.log.warn({ err, file: this.ctx.path }, 'export journal: close failed');
    }
    await this.ctx.release();
  }

  private misuse(why: string): ProtocolError {
    return new ProtocolError('INTERNAL', `export journal ${this.ctx.path}: ${why}`, { dataSource: this.ctx.dataSource }, { retryable: false });
  }

  private append(line: JournalLine, sync: boolean): void {
    if (this.closed) throw this.misuse('the journal is closed');
    if (this.broken !== undefined) throw this.broken;
    if (!isRecordIndex(line.n)) throw this.misuse(`bad record index ${String(line.n)}`);
    if (!isRecordHash(line.h)) throw this.misuse(`bad record hash for record ${line.n}`);
    const next = transition(this.lookup(line.n), line);
    if (typeof next === 'string') throw this.misuse(next);
    let text: string;
    try {
      text = entryLine(line);
    } catch (err) {
      throw this.misuse(`the result of record ${line.n} is not JSON (${String(err)})`);
    }
    const what = `${line.t === 'i' ? 'intent' : 'outcome'} of record ${line.n}`;
    let written = 0;
    try {
      written = appendLine(this.fd, text);
      if (sync) fdatasyncSync(this.fd);
    } catch (err) {
      const error = this.ctx.ioError(`write the ${what} to ${this.ctx.path}`, err);
      // Cut off whatever part of the line got in, so the next append starts a clean line; after
      // a failed fdatasync the page cache may already have dropped data, so stop appending.
      try {
        ftruncateSync(this.fd, this.size);
        if (written > 0) this.broken = error;
      } catch {
        this.broken = error;
      }
      throw error;
    }
    this.size += written;
    this.entries.set(line.n, next);
  }
}
