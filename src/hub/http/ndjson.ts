/**
 * NDJSON in and out. `NdjsonReader` turns a request body into records, one JSON value per
 * line, reading the body only as records are pulled (so an export body of any size streams
 * through under the agent's credit, never held in memory). It stops at the first line it
 * cannot use and remembers why; the export then reports that line after the results of every
 * record before it. `NdjsonWriter` writes lines to a response and says when the client has
 * read enough for more to be asked of the agent. A search chunk that came as bytes is written
 * as its items' NDJSON Buffer (`writeBytes`): no per-item string on that path.
 *
 * Every NDJSON answer says `X-Accel-Buffering: no` and `Cache-Control: no-cache, no-transform`
 * (`NDJSON_RESPONSE_HEADERS`): a reverse proxy must pass the lines on as they come (nginx would
 * otherwise read the whole stream ahead of a slow client, and the agent's backpressure would
 * stop at the proxy) and must not compress or transform them.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ProtocolError } from '../../protocol/index.js';
import { ApiError } from './errors.js';

export interface NdjsonLimits {
  /** Longest line in bytes. */
  readonly maxLineBytes: number;
  /** Most bytes in the whole body. */
  readonly maxTotalBytes: number;
}

const NEWLINE = 0x0a;

/** The headers of every NDJSON answer besides its type and request id (the route schemas declare them). */
export const NDJSON_RESPONSE_HEADERS = {
  'x-accel-buffering': 'no',
  'cache-control': 'no-cache, no-transform',
} as const;

export class NdjsonReader implements AsyncIterable<unknown> {
  /** Why reading stopped early (a bad line, a body over the limit), if it did. */
  problem: ApiError | ProtocolError | undefined;
  /** Lines holding a record handed out so far. */
  records = 0;
  private line = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly body: Readable,
    private readonly limits: NdjsonLimits,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let total = 0;
    for await (const data of this.body) {
      const chunk = data as Buffer;
      total += chunk.length;
      if (total > this.limits.maxTotalBytes) {
        this.problem = new ApiError('PAYLOAD_TOO_LARGE', `the export body is over api.maxExportBytes (${this.limits.maxTotalBytes} bytes); records from line ${this.line + 1} on were not read`);
        return;
      }
      let start = 0;
      for (let nl = chunk.indexOf(NEWLINE, start); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        const bytes = pendingBytes + piece.length;
        const record = this.parse(pendingBytes === 0 ? piece : Buffer.concat([...pending, piece], bytes), bytes);
        pending = [];
        pendingBytes = 0;
        if (record === STOP) return;
        if (record !== BLANK) yield record;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > this.limits.maxLineBytes) {
          this.tooLong();
          return;
        }
      }
    }
    if (pendingBytes > 0) {
      const record = this.parse(Buffer.concat(pending, pendingBytes), pendingBytes);
      if (record !== STOP && record !== BLANK) yield record;
    }
  }

  private parse(bytes: Buffer, length: number): unknown {
    this.line += 1;
    if (length > this.limits.maxLineBytes) {
      this.tooLong();
      return STOP;
    }
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      return this.bad('is not valid UTF-8');
    }
    if (text.trim() === '') return BLANK;
    try {
      const value: unknown = JSON.parse(text);
      this.records += 1;
      return value;
    } catch (err) {
      return this.bad(`is not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  private bad(why: string): typeof STOP {
    this.problem = new ProtocolError('BAD_REQUEST', `export body line ${this.line} ${why}; records from this line on were not read`);
    return STOP;
  }

  private tooLong(): void {
    this.problem = new ApiError('PAYLOAD_TOO_LARGE', `export body line ${this.line + (this.line === 0 ? 1 : 0)} is over api.maxLineBytes (${this.limits.maxLineBytes} bytes); records from this line on were not read`);
  }
}

const STOP = Symbol('stop');
const BLANK = Symbol('blank');

/** Lines out to an HTTP response, with a byte high-water mark for credit decisions. */
export class NdjsonWriter {
  private readonly highWaterBytes: number;

  constructor(
    private readonly res: ServerResponse,
    highWaterBytes: number,
  ) {
    // Never below the response's own mark: past that, write() returns false and 'drain' follows.
    this.highWaterBytes = Math.max(highWaterBytes, res.writableHighWaterMark);
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  start(requestId: string): void {
    this.res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      ...NDJSON_RESPONSE_HEADERS,
      'x-request-id': requestId,
      'x-content-type-options': 'nosniff',
    });
  }

  /**
   * The lines of `values`. Throws BAD_FRAME when one cannot be serialised: an agent's item may
   * be nested deeper than JSON.stringify can go (it parses far deeper than it serialises).
   */
  static lines(values: readonly unknown[]): string {
    let text = '';
    try {
      for (const v of values) text += `${JSON.stringify(v)}\n`;
    } catch (err) {
      throw new ProtocolError('BAD_FRAME', `an item from the agent cannot be written as JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    return text;
  }

  /** Writes lines made by `lines`. */
  write(lines: string): void {
    if (this.closed || lines === '') return;
    this.res.write(lines);
  }

  /** Writes lines that are already bytes (each a JSON value on one line, ending with `\n`). */
  writeBytes(lines: Buffer): void {
    if (this.closed || lines.length === 0) return;
    this.res.write(lines);
  }

  /** True while the client keeps up: buffered output below the high-water mark. */
  get keepingUp(): boolean {
    return this.res.writableLength < this.highWaterBytes;
  }

  /** Calls `fn` once the client has read the buffered output down (at once if it already has). */
  whenKeepingUp(fn: () => void): void {
    if (this.keepingUp) return fn();
    const again = (): void => {
      this.res.off('drain', again);
      this.res.off('close', gone);
      this.whenKeepingUp(fn);
    };
    const gone = (): void => {
      this.res.off('drain', again);
      this.res.off('close', gone);
    };
    this.res.on('drain', again);
    this.res.on('close', gone);
  }

  end(last: unknown): void {
    if (this.closed) return;
    this.res.end(`${JSON.stringify(last)}\n`);
  }
}
