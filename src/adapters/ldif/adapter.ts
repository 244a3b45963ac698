/**
 * The `ldif` data-source adapter: an in-memory directory loaded from LDIF files — the smallest
 * complete data source (see docs/adapters.md), and the `npm start` demo's directory.
 *
 * The files are read on the first operation, not at start-up, and a failed load is tried again
 * by the next operation (a file that is missing now may be mounted later). Once loaded, the
 * directory lives in memory: writes change it there and are lost at restart.
 *
 * The load streams and yields to the event loop (load.ts): while it runs, the agent serves
 * everything else. Operations on this data source that arrive meanwhile wait for it (one load,
 * shared); one whose deadline passes first ends with TIMEOUT and the load goes on for the others.
 */
import { defer, from, map, switchMap, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { BatchPageSource, DataSourceAdapter, OperationContext } from '../../adapter-kit/adapter.js';
import { ProtocolError, type Operation, type ProtocolErrorContext } from '../../protocol/index.js';
import type { LdapEntry } from '../directory/entry.js';
import { decodeOrThrow, GetParams, requireWithin } from '../directory/params.js';
import type { LdifDataSourceConfig } from './config.js';
import type { Directory } from './directory.js';
import { selection, toEntry } from './entry.js';
import { toProtocolError } from './errors.js';
import { exportRecords } from './export.js';
import { loadDirectory } from './load.js';
import { attributesOf, schemaOf, type DerivedAttribute, type DerivedSchema } from './schema.js';
import { searchSource } from './search.js';

export interface LdifTestResult {
  readonly ok: true;
  readonly baseDN: string;
  readonly files: readonly string[];
  /** Entries in the directory now (after any writes). */
  readonly entries: number;
  /** When the files were read (ISO 8601). */
  readonly loadedAt: string;
  /** Time to answer, including reading the files if this call loaded them. */
  readonly latencyMs: number;
}

const SUPPORTS: readonly Operation[] = ['test', 'attributes', 'schema', 'get', 'search', 'export'];

export function createLdifAdapter(name: string, config: LdifDataSourceConfig, log: Logger): DataSourceAdapter {
  let loading: Promise<{ dir: Directory; loadedAt: string }> | undefined;

  const load = (): Promise<{ dir: Directory; loadedAt: string }> => {
    loading ??= (async () => {
      const started = performance.now();
      const dir = await loadDirectory(config.files, config.baseDN, {
        onProgress: (p) => log.trace({ file: p.file, entries: p.entries, bytes: p.bytes }, 'LDIF directory loading'),
      });
      log.info({ files: config.files, entries: dir.size, ms: Math.round(performance.now() - started) }, 'LDIF directory loaded');
      return { dir, loadedAt: new Date().toISOString() };
    })().catch((err: unknown) => {
      // Not cached: the next operation reads the files again.
      loading = undefined;
      const e = toProtocolError(err, { dataSource: name }, { operation: 'load LDIF' });
      log.warn({ code: e.code, reason: e.message }, 'LDIF directory not loaded');
      throw e;
    });
    return loading;
  };
  const directory = (): Promise<Directory> => load().then((l) => l.dir);
  const deps = { directory, config };
  const contextOf = (ctx: OperationContext): ProtocolErrorContext => ({ requestId: ctx.requestId, dataSource: ctx.dataSource });

  return {
    type: 'ldif',
    supports: SUPPORTS,

    test: (): Observable<LdifTestResult> =>
      defer(() => {
        const started = performance.now();
        return from(load()).pipe(
          map(({ dir, loadedAt }) => ({
            ok: true as const,
            baseDN: config.baseDN,
            files: config.files,
            entries: dir.size,
            loadedAt,
            latencyMs: Math.round(performance.now() - started),
          })),
        );
      }),

    schema: (): Observable<DerivedSchema> => defer(() => from(directory())).pipe(switchMap(schemaOf)),

    attributes: (): Observable<{ derived: true; attributes: DerivedAttribute[] }> => defer(() => from(directory())).pipe(switchMap(attributesOf)),

    get: (params: Record<string, unknown>, ctx: OperationContext): Observable<LdapEntry> =>
      defer(() => {
        const context = contextOf(ctx);
        // `dn;binary` (the name's bytes, base64) arrives as its escaped string form.
        const p = decodeOrThrow(GetParams, params, 'get parameters', context);
        requireWithin(p.dn, config.baseDN, 'dn', context);
        return from(directory()).pipe(
          map((dir) => {
            const node = dir.entry(p.dn);
            if (node === undefined) throw new ProtocolError('NOT_FOUND', `no entry ${JSON.stringify(p.dn)}`, context);
            return toEntry(node, selection(p.attributes));
          }),
        );
      }),

    search: (params: Record<string, unknown>, ctx: OperationContext): BatchPageSource => searchSource(deps, params, ctx),

    export: (records, ctx) => exportRecords(deps, records, ctx),

    close: () => {
      loading = undefined;
      return Promise.resolve();
    },
  };
}
