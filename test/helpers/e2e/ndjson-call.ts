/**
 * The hub's NDJSON endpoints read as raw lines over undici, the way a cloud app without our
 * client would: each line is parsed and classified, the reader decides when to pull the next
 * one (a reader that stops pulling leaves the bytes in the socket, which is the backpressure
 * under test), and `finish()` tells how the stream ended — a summary line, an error line, or
 * nothing (a silently short stream, which the API must never produce).
 */
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { withContract } from './openapi-contract.js';
import { API_TOKEN } from './stack.js';

export type Line = Record<string, unknown>;

/** How a response ended. */
export type Ending =
  | { readonly kind: 'summary'; readonly line: Line }
  | { readonly kind: 'error-line'; readonly line: { error: { code: string; message: string; retryable: boolean }; requestId: string; count: number } }
  /** A JSON error before the stream began (status >= 400). */
  | { readonly kind: 'failure'; readonly body: { code: string; message: string; retryable: boolean; requestId: string } }
  /** The body ended (or broke) without a final line. */
  | { readonly kind: 'cut'; readonly reason: string };

export interface NdjsonCall {
  readonly status: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  readonly requestId: string;
  /** Items (lines that are neither the summary nor an error line) read so far. */
  readonly items: number;
  /** Reads up to `n` more items (fewer if the stream ends); resolves with the items read. */
  read(n: number): Promise<Line[]>;
  /** Reads to the end; `onItem` sees every item. */
  finish(onItem?: (item: Line) => void): Promise<Ending>;
  /** Stops reading and closes the connection (the client goes away). */
  abort(): void;
}

/**
 * A dispatcher trusting the test CA, without a body timeout (readers pause on purpose), that
 * checks every answer against the hub's OpenAPI document (openapi-contract.ts).
 */
export function apiDispatcher(caPem: string): Agent {
  return withContract(new Agent({ connect: { ca: caPem }, bodyTimeout: 0, headersTimeout: 60_000 }));
}

export interface CallOptions {
  readonly dispatcher: Dispatcher;
  readonly requestId: string;
  /** JSON params (search) or NDJSON lines (export). */
  readonly body: string | AsyncIterable<string>;
  readonly contentType?: string;
  /** Extra request headers (e.g. `Idempotency-Key`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** POSTs to an NDJSON endpoint (`…/search`, `…/export`) and returns a line reader. */
export async function ndjsonCall(url: string, opts: CallOptions): Promise<NdjsonCall> {
  const res = await request(url, {
    method: 'POST',
    dispatcher: opts.dispatcher,
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      'x-request-id': opts.requestId,
      'content-type': opts.contentType ?? 'application/json',
      accept: 'application/x-ndjson, application/json',
      ...opts.headers,
    },
    body: typeof opts.body === 'string' ? opts.body : Readable.from(opts.body),
  });
  const lines = linesOf(res.body);
  let items = 0;
  let ending: Ending | undefined;
  if (res.statusCode >= 400) {
    ending = { kind: 'failure', body: (await res.body.json()) as Extract<Ending, { kind: 'failure' }>['body'] };
  }

  /** The next item, or undefined once the stream has ended (`ending` set). */
  const nextItem = async (): Promise<Line | undefined> => {
    if (ending) return undefined;
    let r: IteratorResult<string>;
    try {
      r = await lines.next();
    } catch (err) {
      ending = { kind: 'cut', reason: `body failed after ${items} items: ${err instanceof Error ? err.message : String(err)}` };
      return undefined;
    }
    if (r.done) {
      ending = { kind: 'cut', reason: `body ended after ${items} items without a summary or error line` };
      return undefined;
    }
    const line = JSON.parse(r.value) as Line;
    if (line['end'] === true) ending = { kind: 'summary', line };
    else if (typeof line['error'] === 'object' && line['error'] !== null) ending = { kind: 'error-line', line: line as Extract<Ending, { kind: 'error-line' }>['line'] };
    else {
      items += 1;
      return line;
    }
    // Nothing may follow the final line.
    const after = await lines.next().catch(() => ({ done: true, value: undefined }));
    if (!after.done) ending = { kind: 'cut', reason: `a line followed the final line: ${String(after.value)}` };
    return undefined;
  };

  return {
    status: res.statusCode,
    headers: res.headers,
    requestId: opts.requestId,
    get items() {
      return items;
    },
    async read(n) {
      const got: Line[] = [];
      while (got.length < n) {
        const item = await nextItem();
        if (!item) break;
        got.push(item);
      }
      return got;
    },
    async finish(onItem) {
      for (let item = await nextItem(); item; item = await nextItem()) onItem?.(item);
      return ending!;
    },
    abort() {
      res.body.destroy();
    },
  };
}

async function* linesOf(body: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let rest = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    rest += decoder.decode(chunk, { stream: true });
    for (let nl = rest.indexOf('\n'); nl !== -1; nl = rest.indexOf('\n')) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line.trim() !== '') yield line;
    }
  }
  rest += decoder.decode();
  if (rest.trim() !== '') yield rest;
}
