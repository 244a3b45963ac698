/**
 * The agent's durable per-key export journal (docs/exports.md, "The journal"). An export that
 * carries an idempotency key writes, for each record, an *intent* line before the upstream write
 * and an *outcome* line after it, so a resend of the same export (after a hub restart, an agent
 * restart or a network cut) knows which records were written, which were not, and which were in
 * flight when the agent died. One journal file (format, reading, appending) is
 * `export-journal-file.ts`; this module names, opens, lists and prunes them.
 *
 * Lines are written with a synchronous `write(2)` on a file opened for appending: once
 * `intent()` returns, the line is in the OS page cache and survives a kill of the process. Only
 * with `fsync` does it also survive an OS crash or power loss (one `fdatasync` per record).
 */
import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, futimesSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import type { ExportResult } from '../adapter-kit/adapter.js';
import { ProtocolError, exportKeyDigest } from '../protocol/index.js';
import {
  FileKeyJournal,
  appendLine,
  digestOfFileName,
  headerLine,
  journalFileName,
  readJournal,
  type JournalState,
  type JournaledResult,
  type KeyJournal,
} from './export-journal-file.js';

export { shouldReplay, type JournaledResult, type JournalState, type KeyJournal } from './export-journal-file.js';

export interface ExportJournalOptions {
  /** `<stateDir>/exports` (see `exportJournalDir`), created with mode 0700 if missing. */
  readonly dir: string;
  /** Journals untouched (not opened, not written) longer than this are deleted. */
  readonly maxAgeMs: number;
  /** Bound of the journals' total size; the oldest are deleted first when over it. */
  readonly maxBytes: number;
  /** `fdatasync` after every intent line (and at close), so an OS crash cannot lose one. */
  readonly fsync: boolean;
}

export const EXPORT_JOURNAL_DEFAULTS = {
  maxAgeMs: 7 * 24 * 60 * 60 * 1000,
  maxBytes: 256 * 1024 * 1024,
  fsync: false,
} as const;

export function exportJournalDir(stateDir: string): string {
  return join(stateDir, 'exports');
}

/**
 * The name the hub and the file system know a key by (`exportKeyDigest`: 128 bits of SHA-256
 * of the data source and the key). The raw key is caller-chosen text and is never stored.
 */
export const keyDigest: (dataSource: string, key: string) => string = exportKeyDigest;

/**
 * Hex SHA-256 of a record as received, over canonical JSON (object keys sorted recursively), so
 * a resend whose JSON only orders keys differently has the same hash and any changed value not.
 */
export function recordHash(record: unknown): string {
  const canonical = JSON.stringify(record, (_key, value: unknown) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? // fromEntries defines own properties, so a `__proto__` key stays a key.
        Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((k) => [k, (value as Record<string, unknown>)[k]]),
        )
      : value,
  ) as string | undefined;
  return createHash('sha256').update(canonical ?? 'null', 'utf8').digest('hex');
}

/** The part of an adapter's result the journal keeps (without the index, nothing else). */
export function toJournaledResult(result: ExportResult): JournaledResult {
  if (result.ok) return result.data === undefined ? { ok: true } : { ok: true, data: result.data };
  return { ok: false, code: result.code, message: result.message, retryable: result.retryable };
}

function errnoOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

export class ExportJournals {
  private readonly log: Logger;
  /** Digests of the journals open in this process (an export with that key is running). */
  private readonly busy = new Set<string>();
  private dirReady: Promise<void> | undefined;
  private pruneRunning: Promise<void> = Promise.resolve();
  private pruneQueued: Promise<void> | undefined;

  constructor(
    private readonly options: ExportJournalOptions,
    log: Logger,
  ) {
    this.log = log.child({ component: 'export-journal' });
    void this.prune();
  }

  static digest(dataSource: string, key: string): string {
    return keyDigest(dataSource, key);
  }

  async open(dataSource: string, key: string): Promise<KeyJournal> {
    const digest = keyDigest(dataSource, key);
    // Claimed before the first await, so two concurrent opens of one key cannot both succeed.
    if (this.busy.has(digest)) {
      throw new ProtocolError('BUSY', `an export with this idempotency key is already running on data source ${dataSource}`, { dataSource }, { retryable: true });
    }
    this.busy.add(digest);
    try {
      return await this.openFile(dataSource, digest);
    } catch (err) {
      this.busy.delete(digest);
      throw err;
    }
  }

  recent(limit: number): string[] {
    if (limit <= 0) return [];
    let names: string[];
    try {
      names = readdirSync(this.options.dir);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') this.log.warn({ err, dir: this.options.dir }, 'export journal directory unreadable');
      return [];
    }
    const found: Array<{ digest: string; mtimeMs: number }> = [];
    for (const name of names) {
      const digest = digestOfFileName(name);
      const st = digest === undefined ? undefined : statSync(join(this.options.dir, name), { throwIfNoEntry: false });
      if (digest !== undefined && st?.isFile()) found.push({ digest, mtimeMs: st.mtimeMs });
    }
    return found
      .sort((a, b) => b.mtimeMs - a.mtimeMs)
      .slice(0, limit)
      .map((f) => f.digest);
  }

  /** Never rejects (problems are logged); runs one at a time, and calls while one waits share it. */
  prune(): Promise<void> {
    if (this.pruneQueued !== undefined) return this.pruneQueued;
    const next = this.pruneRunning.then(() => {
      this.pruneQueued = undefined;
      return this.pruneNow();
    });
    this.pruneQueued = next;
    this.pruneRunning = next;
    return next;
  }

  private async pruneNow(): Promise<void> {
    const { dir, maxAgeMs, maxBytes } = this.options;
    let files: Array<{ name: string; digest: string; mtimeMs: number; size: number }>;
    try {
      const names = await readdir(dir);
      const stats = await Promise.all(
        names.map(async (name) => {
          const digest = digestOfFileName(name);
          const st = digest === undefined ? undefined : await stat(join(dir, name)).catch(() => undefined);
          return digest !== undefined && st?.isFile() ? { name, digest, mtimeMs: st.mtimeMs, size: st.size } : undefined;
        }),
      );
      files = stats.filter((f) => f !== undefined).sort((a, b) => a.mtimeMs - b.mtimeMs);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') this.log.warn({ err, dir }, 'export journal pruning: directory unreadable');
      return;
    }
    let total = files.reduce((sum, f) => sum + f.size, 0);
    for (const f of files) {
      const path = join(dir, f.name);
      // Decided and done in one synchronous step: an open() or a write in between would
      // otherwise lose its journal. The file is stat'ed again for the same reason.
      if (this.busy.has(f.digest)) continue;
      const st = statSync(path, { throwIfNoEntry: false });
      if (st === undefined) {
        total -= f.size;
        continue;
      }
      total += st.size - f.size;
      const age = Date.now() - st.mtimeMs;
      if (age <= maxAgeMs && total <= maxBytes) continue;
      try {
        unlinkSync(path);
        total -= st.size;
        this.log.info({ file: path, bytes: st.size, ageMs: Math.round(age), reason: age > maxAgeMs ? 'maxAge' : 'maxBytes' }, 'export journal deleted');
      } catch (err) {
        this.log.warn({ err, file: path }, 'export journal pruning: cannot delete');
      }
    }
    if (total > maxBytes) this.log.warn({ dir, bytes: total, maxBytes }, 'export journals over maxBytes: the rest are open');
  }

  private ensureDir(dataSource: string): Promise<void> {
    this.dirReady ??= mkdir(this.options.dir, { recursive: true, mode: 0o700 }).then(
      () => undefined,
      (err: unknown) => {
        this.dirReady = undefined;
        throw this.ioError(`create the directory ${this.options.dir}`, dataSource, err);
      },
    );
    return this.dirReady;
  }

  private async openFile(dataSource: string, digest: string): Promise<KeyJournal> {
    await this.ensureDir(dataSource);
    const path = join(this.options.dir, journalFileName(digest));
    const contents = await readJournal(path, dataSource, digest).catch((err: unknown) => {
      if (err instanceof ProtocolError) {
        this.log.error({ file: path, dataSource, reason: err.message }, 'export journal refused');
        throw err;
      }
      throw this.ioError(`read ${path}`, dataSource, err);
    });
    if (contents !== undefined && contents.tornBytes > 0) {
      // Never acknowledged: the line's write(2) did not complete (see export-journal-file.ts).
      this.log.warn({ file: path, bytes: contents.tornBytes }, 'export journal: cutting off a torn last line (a crash during a write)');
      await truncate(path, contents.goodLength).catch((err: unknown) => {
        throw this.ioError(`repair ${path}`, dataSource, err);
      });
    }
    let fd: number | undefined;
    try {
      fd = openSync(path, 'a', 0o600);
      let size = contents?.goodLength ?? 0;
      if (contents?.hasHeader === true) {
        // Opening is using: the age bound counts from the last resend, not the first export.
        const now = new Date();
        futimesSync(fd, now, now);
      } else {
        // No header means no entry either (absent, empty or torn header): a new journal.
        ftruncateSync(fd, 0);
        size = appendLine(fd, headerLine(dataSource, digest, new Date()));
        if (this.options.fsync) {
          fdatasyncSync(fd);
          syncDirectory(this.options.dir);
        }
      }
      const entries = contents?.entries ?? new Map<number, JournalState>();
      this.log.debug({ file: path, dataSource, entries: entries.size }, 'export journal opened');
      return new FileKeyJournal(fd, size, entries, {
        path,
        dataSource,
        fsync: this.options.fsync,
        log: this.log,
        ioError: (action, err) => this.ioError(action, dataSource, err),
        release: () => {
          this.busy.delete(digest);
          return this.prune();
        },
      });
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      throw this.ioError(`open ${path}`, dataSource, err);
    }
  }

  /** A disk problem: coded, retryable (it may clear), and naming the file and errno. */
  private ioError(action: string, dataSource: string, err: unknown): ProtocolError {
    const errno = errnoOf(err);
    this.log.error({ err, dataSource }, `export journal: cannot ${action}`);
    return new ProtocolError('INTERNAL', `export journal: cannot ${action} (${errno})`, { dataSource, details: { dir: this.options.dir, errno } }, { retryable: true, cause: err });
  }
}

/** A new file's directory entry is only durable once the directory itself is synced. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
