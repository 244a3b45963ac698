/**
 * An LDAP search worker thread (see `search-threads.ts` for the main thread's side). It runs the
 * same paged search as the in-thread path (`pagedSearch`: connect and bind with failover, RFC
 * 2696 pages, size limits, binary values) and hands the main thread each page as one `JsonBatch`
 * (its memory transferred, not copied), so transcoding BER into entry JSON — most of a search's
 * CPU — happens off the thread that frames and sends.
 *
 * The worker never reads ahead: it asks the server for a page only when the main thread sends
 * `pull` (which it does only with credit to send the page), and `close` abandons the
 * search by closing its connection. A message it does not understand is a bug: it throws, the
 * thread dies, and the main thread fails the streams it served with a coded error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino, type Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { ProtocolError } from '../../protocol/errors.js';
import { LdapClientPool } from './client-pool.js';
import { errorData, toWorker, type FromWorker, type SearchWorkerData } from './search-messages.js';
import { pagedSearch, type PagedSearch, type SearchDeps } from './search.js';

if (parentPort === null) throw new Error('search-worker.js must run as a worker thread');
const port = parentPort;
const data = workerData as SearchWorkerData;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

// Records go to the main thread's logger, which owns the destination and the redaction paths.
const log: Logger = pino(
  { level: data.logLevel, base: null, timestamp: false, serializers: { err: pino.stdSerializers.err } },
  { write: (line: string) => post({ type: 'log', line }) },
);

const pool = new LdapClientPool(data.config, log, data.pool);
const deps: SearchDeps = {
  pool,
  config: data.config,
  secrets: data.config.bindPassword === undefined || data.config.bindPassword === '' ? [] : [data.config.bindPassword],
};

interface Stream {
  readonly search: PagedSearch;
  pulling?: Subscription;
}
const streams = new Map<number, Stream>();

let reported = 0;
const reportConnections = (): void => {
  const open = pool.stats.openConnections;
  if (open === reported) return;
  reported = open;
  post({ type: 'connections', open });
};

/** The stream is over (last page, failure or close): report once its connection is closed. */
const forget = (id: number, s: Stream): void => {
  streams.delete(id);
  void s.search.released().then(reportConnections);
};

const fail = (id: number, err: unknown): void => {
  const e = err instanceof ProtocolError ? err : new ProtocolError('INTERNAL', 'LDAP search worker failed unexpectedly', {}, { cause: err });
  if (e.code === 'INTERNAL') log.error({ err, stream: id }, 'LDAP search worker failed unexpectedly');
  post({ type: 'error', stream: id, error: errorData(e) });
};

function pull(id: number): void {
  const s = streams.get(id);
  if (s === undefined) {
    fail(id, new ProtocolError('CANCELLED', 'search was closed'));
    return;
  }
  s.pulling = s.search.pull().subscribe({
    next: (page) => {
      // The page's buffer is this page's alone (entry-batch.ts): handed over, not copied.
      reportConnections(); // before the page, so the main thread's stats are current when it arrives
      const { bytes, ends } = page.items;
      post({ type: 'page', stream: id, bytes, ends, last: page.last, truncated: page.truncated === true }, transferable(bytes, ends));
      if (page.last) forget(id, s);
    },
    error: (err: unknown) => {
      fail(id, err);
      forget(id, s);
    },
  });
}

/** The memory of a page to transfer (empty pages share constants: those are copied). */
function transferable(bytes: Uint8Array, ends: Uint32Array): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  if (bytes.byteLength > 0 && bytes.buffer instanceof ArrayBuffer) list.push(bytes.buffer);
  if (ends.byteLength > 0 && ends.buffer instanceof ArrayBuffer) list.push(ends.buffer);
  return list;
}

async function shutdown(): Promise<void> {
  for (const [id, s] of streams) {
    s.pulling?.unsubscribe();
    s.search.close();
    streams.delete(id);
  }
  await pool.close();
  port.close(); // nothing else keeps the thread alive: it exits
}

port.on('message', (raw: unknown) => {
  const m = toWorker(raw);
  if (m === undefined) throw new TypeError(`LDAP search worker: unexpected message ${JSON.stringify(raw) ?? String(raw)}`);
  switch (m.type) {
    case 'open':
      streams.set(m.stream, {
        search: pagedSearch(deps, m.plan, { requestId: m.requestId, dataSource: data.dataSource, log: log.child({ stream: m.stream }) }),
      });
      return;
    case 'pull':
      pull(m.stream);
      return;
    case 'close': {
      const s = streams.get(m.stream);
      if (s === undefined) return;
      s.pulling?.unsubscribe();
      s.search.close();
      forget(m.stream, s);
      return;
    }
    case 'shutdown':
      void shutdown();
      return;
  }
});

post({ type: 'ready' });
