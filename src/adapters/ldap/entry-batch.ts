/**
 * A page of a search's entries as one `JsonBatch`, written while the entries are parsed: the
 * `EntrySink` a search hands its client (`sinkAttributes`, entry-decoder.ts). Each entry's
 * JSON goes into one growing buffer — by the streaming transcoder when it takes the message,
 * else as `rawJson` of the entry the decoder made (the same bytes) — and `take()` hands the
 * page over as a batch whose memory is its own (transferable to another thread).
 *
 * When the decoder is off (its self-test failed: `ldapts-internals.ts`) nothing is written while
 * parsing: `takePage` writes the entries ldapts returned instead (`entryJson`, the slow path).
 */
import type { Entry } from 'ldapts';
import { JSON_BATCH_SEPARATOR, JsonBatch } from '../../adapter-kit/json-batch.js';
import { ProtocolError } from '../../protocol/errors.js';
import { isSunk, sinkAttributes, type EntrySink, type RawEntry } from './entry-decoder.js';
import { entryJson, rawJson } from './entry.js';
import { transcodeEntry } from './entry-transcoder.js';
import { JsonWriter } from './json-writer.js';

export class EntryBatchWriter implements EntrySink {
  private readonly out: JsonWriter;
  private ends: number[] = [];
  /** Pass as the search's `explicitBufferAttributes`. */
  readonly attributes: string[] = sinkAttributes(this);

  /** `capacity`: the first page buffer's size (later ones start at the previous page's size). */
  constructor(capacity?: number) {
    this.out = new JsonWriter(capacity);
  }

  /** Entries written since the last `take()`. */
  get count(): number {
    return this.ends.length;
  }

  transcode(buf: Buffer, start: number, end: number): boolean {
    const mark = this.out.at;
    if (this.ends.length > 0) this.out.byte(JSON_BATCH_SEPARATOR);
    if (!transcodeEntry(buf, start, end, this.out)) {
      this.out.at = mark;
      return false;
    }
    this.ends.push(this.out.at);
    return true;
  }

  raw(entry: RawEntry): void {
    if (this.ends.length > 0) this.out.byte(JSON_BATCH_SEPARATOR);
    this.out.text(rawJson(entry));
    this.ends.push(this.out.at);
  }

  /**
   * The page of a search that passed `attributes` and got `entries` from ldapts: with the
   * decoder on (`fastPath`), the entries written while they were parsed — one per entry ldapts
   * returned, else INTERNAL (never a silently short page); with it off, `entries` written now.
   */
  takePage(entries: readonly Entry[], fastPath: boolean): JsonBatch {
    if (!fastPath) {
      for (const entry of entries) {
        if (isSunk(entry)) continue; // cannot happen without the decoder; counted below
        if (this.ends.length > 0) this.out.byte(JSON_BATCH_SEPARATOR);
        this.out.text(entryJson(entry));
        this.ends.push(this.out.at);
      }
    }
    const batch = this.take();
    if (batch.count !== entries.length) {
      throw new ProtocolError('INTERNAL', `LDAP search returned ${entries.length} entries, ${batch.count} were decoded (entry decoder ${fastPath ? 'on' : 'off'})`);
    }
    return batch;
  }

  /** The entries written so far, as a batch; the writer starts a new one. */
  take(): JsonBatch {
    const ends = Uint32Array.from(this.ends);
    this.ends = [];
    return new JsonBatch(this.out.take(), ends);
  }
}
