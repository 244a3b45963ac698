/**
 * A TypeScript client for the hub's HTTP API (docs/http-api.md, /v1/openapi.json), on undici.
 * `search` and `export` are async iterables that read the NDJSON response as it comes, so the
 * API's backpressure reaches the agent: iterate slowly and the agent stops pulling pages.
 * Failures are `HubApiError`s with the API's code, status and request id — also for a stream
 * that ends with an error line instead of its summary.
 *
 *   const hub = new HubClient({ url: 'https://hub.example:8443', token, ca: readFileSync('ca.pem') });
 *   const search = hub.search('corp-ldap', { filter: '(objectClass=person)' });
 *   for await (const entry of search) handle(entry);   // read slowly: the agent slows down
 *   const { count, truncated } = search.summary!;      // set once the stream ended
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';

export interface HubClientOptions {
  /** Base URL of the hub, e.g. `https://hub.example:8443`. */
  readonly url: string;
  /** A tenant API token. */
  readonly token: string;
  /** PEM CA certificate(s) to trust besides the system roots. */
  readonly ca?: string | Buffer;
  /** Deadline for the response headers of one call, ms (default 60 s; streams then run as long as the hub allows). */
  readonly headersTimeoutMs?: number;
  /** Use your own undici dispatcher (proxy, pooling); `ca` is then ignored. */
  readonly dispatcher?: Dispatcher;
}

export interface CallOptions {
  /** Sent as X-Request-Id; generated when absent. */
  readonly requestId?: string;
  /** Shortens the hub's configured timeout for this operation. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface ExportCallOptions extends CallOptions {
  /**
   * Sent as `Idempotency-Key`: the agent journals the export under it, so sending the same
   * records again with the same key after a failure writes none of them twice (docs/exports.md).
   */
  readonly idempotencyKey?: string;
}

export interface SearchSummary {
  readonly end: true;
  readonly count: number;
  readonly truncated: boolean;
  readonly total?: number;
}

export interface ExportSummary {
  readonly end: true;
  readonly count: number;
  readonly ok: number;
  readonly failed: number;
}

export type ExportResultLine =
  | { readonly index: number; readonly ok: true; readonly data?: unknown }
  | { readonly index: number; readonly ok: false; readonly code: string; readonly message: string; readonly retryable: boolean };

export class HubApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly retryable: boolean,
    readonly requestId: string,
    /**
     * Lines received before a stream failed. For an export: the results received, which are
     * one per record the agent wrote — a failed export still reports every record it wrote
     * (as result lines before its error line), so records from `count` on were not written.
     */
    readonly count?: number,
  ) {
    super(message);
    this.name = 'HubApiError';
  }
}

/** An NDJSON stream: iterate for the items, then read `summary`. Iterate once. */
export interface NdjsonStream<T, S> extends AsyncIterable<T> {
  /** Set once the stream ended with its summary line. */
  readonly summary: S | undefined;
  readonly requestId: string;
}

export class HubClient {
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly ownDispatcher: boolean;

  constructor(private readonly options: HubClientOptions) {
    this.base = new URL(options.url);
    this.ownDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ headersTimeout: options.headersTimeoutMs ?? 60_000, bodyTimeout: 0, ...(options.ca ? { connect: { ca: options.ca } } : {}) });
  }

  async agents(options: CallOptions = {}): Promise<unknown[]> {
    return ((await this.json('GET', '/v1/agents', undefined, options)) as { agents: unknown[] }).agents;
  }

  async dataSources(options: CallOptions = {}): Promise<Array<{ name: string; type: string; operations: string[]; agents: string[] }>> {
    return ((await this.json('GET', '/v1/data-sources', undefined, options)) as { dataSources: Array<{ name: string; type: string; operations: string[]; agents: string[] }> }).dataSources;
  }

  test(dataSource: string, options?: CallOptions): Promise<unknown> {
    return this.result('POST', dataSource, 'test', undefined, options);
  }

  schema(dataSource: string, options?: CallOptions): Promise<unknown> {
    return this.result('GET', dataSource, 'schema', undefined, options);
  }

  attributes(dataSource: string, options?: CallOptions): Promise<unknown> {
    return this.result('GET', dataSource, 'attributes', undefined, options);
  }

  resourceTypes(dataSource: string, options?: CallOptions): Promise<unknown> {
    return this.result('GET', dataSource, 'resource-types', undefined, options);
  }

  get(dataSource: string, params: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    return this.result('POST', dataSource, 'get', params, options);
  }

  /** Entries as they arrive; `summary` once the stream ended. */
  search<T = unknown>(dataSource: string, params: Record<string, unknown> = {}, options: CallOptions = {}): NdjsonStream<T, SearchSummary> {
    return this.stream<T, SearchSummary>(dataSource, 'search', JSON.stringify(params), 'application/json', options);
  }

  /**
   * Records are sent as they are pulled (under the agent's credit); one result per record comes
   * back. When the export fails (deadline, shutdown, …) the results of every record written
   * are still yielded, then the iteration throws `HubApiError` with `count` = results yielded:
   * resend from record `count` on.
   */
  export(
    dataSource: string,
    records: AsyncIterable<unknown> | Iterable<unknown>,
    options: ExportCallOptions = {},
  ): NdjsonStream<ExportResultLine, ExportSummary> {
    const body = (async function* () {
      for await (const r of records) yield `${JSON.stringify(r)}\n`;
    })();
    return this.stream<ExportResultLine, ExportSummary>(dataSource, 'export', body, 'application/x-ndjson', options);
  }

  /** Closes the client's connections (only those of its own dispatcher); streams still open are aborted. */
  async close(): Promise<void> {
    if (this.ownDispatcher) await this.dispatcher.destroy();
  }

  private async result(method: 'GET' | 'POST', dataSource: string, op: string, params: unknown, options?: CallOptions): Promise<unknown> {
    const answer = (await this.json(method, this.path(dataSource, op, options), params, options ?? {})) as { data: unknown };
    return answer.data;
  }

  private path(dataSource: string, op: string, options: CallOptions = {}): string {
    const query = options.timeoutMs === undefined ? '' : `?timeoutMs=${options.timeoutMs}`;
    return `/v1/data-sources/${encodeURIComponent(dataSource)}/${op}${query}`;
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: string | AsyncIterable<string> | undefined,
    contentType: string | undefined,
    options: CallOptions,
  ): Promise<{ response: Dispatcher.ResponseData; requestId: string }> {
    const requestId = options.requestId ?? randomUUID();
    const response = await request(new URL(path, this.base), {
      method,
      dispatcher: this.dispatcher,
      headers: {
        authorization: `Bearer ${this.options.token}`,
        'x-request-id': requestId,
        accept: 'application/json, application/x-ndjson',
        ...(contentType !== undefined && body !== undefined ? { 'content-type': contentType } : {}),
        ...('idempotencyKey' in options && typeof options.idempotencyKey === 'string' ? { 'idempotency-key': options.idempotencyKey } : {}),
      } as Record<string, string>,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : Readable.from(body) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (response.statusCode >= 400) throw await failure(response, requestId);
    return { response, requestId };
  }

  private async json(method: 'GET' | 'POST', path: string, params: unknown, options: CallOptions): Promise<unknown> {
    const body = method === 'POST' && params !== undefined ? JSON.stringify(params) : undefined;
    const { response } = await this.send(method, path, body, 'application/json', options);
    return response.body.json();
  }

  private stream<T, S>(dataSource: string, op: string, body: string | AsyncIterable<string>, contentType: string, options: CallOptions): NdjsonStream<T, S> {
    const requestId = options.requestId ?? randomUUID();
    const open = (): Promise<{ response: Dispatcher.ResponseData }> =>
      this.send('POST', this.path(dataSource, op, options), body, contentType, { ...options, requestId });
    const result = {
      summary: undefined as S | undefined,
      requestId,
      async *[Symbol.asyncIterator](): AsyncGenerator<T> {
        const { response } = await open();
        let count = 0;
        try {
          for await (const line of ndjsonLines(response.body)) {
            const value = JSON.parse(line) as Record<string, unknown>;
            if (value['end'] === true) {
              result.summary = value as S;
              return;
            }
            if (isErrorLine(value)) {
              const e = value.error;
              throw new HubApiError(e.code, e.message, response.statusCode, e.retryable, requestId, value.count);
            }
            count += 1;
            yield value as T;
          }
          throw new HubApiError('INCOMPLETE_STREAM', `the ${op} stream ended after ${count} lines without a summary line`, response.statusCode, true, requestId, count);
        } finally {
          // An early `break` or a failure: stop reading, which cancels the request on the agent.
          if (result.summary === undefined) response.body.destroy();
        }
      },
    };
    return result;
  }
}

function isErrorLine(v: Record<string, unknown>): v is { error: { code: string; message: string; retryable: boolean }; count: number } {
  return typeof v['error'] === 'object' && v['error'] !== null;
}

async function failure(response: Dispatcher.ResponseData, requestId: string): Promise<HubApiError> {
  const text = await response.body.text().catch(() => '');
  try {
    const b = JSON.parse(text) as { code?: unknown; message?: unknown; retryable?: unknown; requestId?: unknown };
    if (typeof b.code === 'string' && typeof b.message === 'string') {
      return new HubApiError(b.code, b.message, response.statusCode, b.retryable === true, typeof b.requestId === 'string' ? b.requestId : requestId);
    }
  } catch {
    // not JSON: described below
  }
  return new HubApiError(`HTTP_${response.statusCode}`, text.slice(0, 200) || `HTTP ${response.statusCode}`, response.statusCode, response.statusCode >= 500, requestId);
}

/** Lines of an NDJSON body, as they arrive. */
async function* ndjsonLines(body: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of body) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl = rest.indexOf('\n');
    while (nl !== -1) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line.trim() !== '') yield line;
      nl = rest.indexOf('\n');
    }
  }
  rest += decoder.decode();
  if (rest.trim() !== '') yield rest;
}
