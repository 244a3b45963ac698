/**
 * The data-source adapter interface. A data source implements `DataSourceAdapter` and is
 * defined with `defineDataSource` (define.ts) — built-in or plugin alike; the pipeline does the
 * rest (allow-lists, deadlines, cancel, credit, frames, isolation).
 *
 * Rules every adapter follows:
 * - Every operation returns a cold Observable: nothing happens until it is subscribed, and
 *   unsubscribing releases what the operation holds (sockets, cursors, clients).
 * - Failures are `ProtocolError`s with a stable code (map the upstream's errors in one table).
 * - `search` returns a `PageSource`: the pipeline pulls the next page only when it holds credit
 *   to send it, so memory per stream is one page plus one chunk, whatever the total size.
 * - `export` returns exactly one `ExportResult` per record, in order, and goes on after a
 *   failed record. It writes one record at a time (`concatMap`): a record's write starts after
 *   the previous record's result was emitted, so a shutdown can stop between two records.
 */
import type { Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Operation } from '../protocol/index.js';
import type { JsonBatch } from './json-batch.js';

/** Context handed to every operation: who asked, for logs and error context. */
export interface OperationContext {
  readonly requestId: string;
  readonly dataSource: string;
  readonly log: Logger;
  /**
   * Export only, when the caller gave an idempotency key and the agent keeps journals: the
   * durable journal of this key. The shared export loop uses it (export-journaling.ts); an
   * adapter never needs to look at it.
   */
  readonly exportJournal?: RecordJournal;
}

/** What a journaled upstream write answered (an `ExportResult` without its index). */
export type JournaledResult =
  | { readonly ok: true; readonly data?: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly retryable: boolean };

/**
 * The durable per-key export journal as the export loop sees it (the agent's implementation is
 * `src/pipeline/export-journal.ts`; docs/exports.md). Records are known by their position in
 * the export and the hash of their content.
 */
export interface RecordJournal {
  /** Hash of a record as received (canonical JSON). */
  hash(record: unknown): string;
  lookup(
    index: number,
  ): { readonly state: 'none' } | { readonly state: 'intent'; readonly hash: string } | { readonly state: 'outcome'; readonly hash: string; readonly result: JournaledResult };
  /** Written (durably) before the upstream write; throws when it cannot be, and then nothing is written. */
  intent(index: number, hash: string): void;
  outcome(index: number, hash: string, result: JournaledResult): void;
}

/** One page pulled from an upstream: `last` says no more pages follow. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly last: boolean;
  /** The upstream stopped early (e.g. LDAP sizeLimit): the stream ends with `truncated: true`. */
  readonly truncated?: boolean;
  /** The upstream's count of all matching items, where it tells (SCIM `totalResults`); reported in `end`. */
  readonly total?: number;
}

/**
 * A stream that is pulled page by page. `pull()` is subscribed at most once at a time and only
 * after the previous page was delivered; `close()` abandons the upstream operation (idempotent,
 * also called after the last page).
 */
export interface PageSource<T> {
  pull(): Observable<Page<T>>;
  close(): void;
  /**
   * What the items are: `'value'` (default) — values the pipeline serialises; `'json'` — each
   * item is already a string holding one value's JSON text (e.g. serialised in a worker thread),
   * measured and sent as it is.
   */
  readonly itemFormat?: 'value' | 'json';
}

/** Result of one export record, in the order the records came. */
export type ExportResult =
  | { readonly index: number; readonly ok: true; readonly data?: unknown; readonly replayed?: true; readonly verified?: true }
  | {
      readonly index: number;
      readonly ok: false;
      /** The journal answered for this record (an earlier attempt's outcome): it was not written again. */
      readonly replayed?: true;
      readonly code: string;
      readonly message: string;
      readonly retryable: boolean;
    };

/**
 * The fast form of a page source: each page's items already serialised into one `JsonBatch`
 * (json-batch.ts), sliced into chunk frames and sent without being looked at again. Same pull
 * and close contract as `PageSource`.
 */
export interface BatchPageSource {
  pull(): Observable<Omit<Page<never>, 'items'> & { readonly items: JsonBatch }>;
  close(): void;
  readonly itemFormat: 'json-batch';
}

/** What `search` returns: pages of values or JSON texts, or batches. */
export type SearchSource = PageSource<unknown> | BatchPageSource;

export const isBatchSource = (source: SearchSource): source is BatchPageSource => source.itemFormat === 'json-batch';

export interface DataSourceAdapter {
  /** Config `type` this adapter serves, e.g. `ldap`. */
  readonly type: string;
  /** Operations the adapter implements (the config's allow-list further restricts them). */
  readonly supports: readonly Operation[];

  test(ctx: OperationContext): Observable<unknown>;
  schema?(ctx: OperationContext): Observable<unknown>;
  attributes?(ctx: OperationContext): Observable<unknown>;
  resourceTypes?(ctx: OperationContext): Observable<unknown>;
  get?(params: Record<string, unknown>, ctx: OperationContext): Observable<unknown>;
  search?(params: Record<string, unknown>, ctx: OperationContext): SearchSource;
  /** `records` are decoded by the adapter itself; a record it cannot decode gets a BAD_REQUEST result. */
  export?(records: Observable<unknown>, ctx: OperationContext): Observable<ExportResult>;

  /** Releases every upstream resource (connection pools). */
  close(): Promise<void>;
}

