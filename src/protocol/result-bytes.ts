/**
 * A `result` frame read without parsing its `data`: the hub needs a result's `id` to find its
 * request, and an HTTP answer only writes the data back out as JSON, so the frame is checked by
 * the validating scanner (json-scan.ts) and `data` stays the bytes it arrived in. The HTTP API
 * writes those bytes into its `{"dataSource":…,"requestId":…,"data":…}` envelope
 * (`ResultData.json`); the in-process API parses them only when asked (`ResultData.value`).
 *
 * `readResultFrame` accepts a frame only when `decodeFrame` would accept it as the same result —
 * valid UTF-8, valid JSON, a top-level object whose last `type` is "result", whose last `id` is
 * a request id and which has a `data` key (duplicate keys: the last wins, as in `JSON.parse`;
 * other keys are ignored, as by the io-ts codec). Anything else — a refusal, another frame type,
 * a result without `data`, data nested past the scanner's depth — is `undefined`, and the
 * caller decodes the frame the ordinary way (`decodeFrame`), which refuses or accepts it with
 * today's messages. The value equals what `JSON.parse` gives for the same frame's `data`.
 */
import { isUtf8 } from 'node:buffer';
import { RequestId, type Result } from './frames.js';
import { compactJson, JsonScanner } from './json-scan.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * The `data` of a result: the agent's bytes (scanned) or a value (decoded by `decodeFrame`),
 * readable both ways.
 */
export class ResultData {
  private parsed: { readonly value: unknown } | undefined;
  private text: Buffer | string | undefined;

  private constructor(bytes: Buffer | undefined, value?: { readonly value: unknown }) {
    this.text = bytes;
    this.parsed = value;
  }

  /** Data as the scanner left it: one compact JSON value. */
  static ofBytes(bytes: Buffer): ResultData {
    return new ResultData(bytes);
  }

  /** Data already parsed (the frame went through `decodeFrame`). */
  static ofValue(value: unknown): ResultData {
    return new ResultData(undefined, { value });
  }

  /** The data as a value (`JSON.parse` of the bytes, once). */
  value(): unknown {
    this.parsed ??= { value: JSON.parse((this.text as Buffer).toString('utf8')) as unknown };
    return this.parsed.value;
  }

  /**
   * The data as one line of compact JSON: the agent's own bytes when it was scanned (what
   * `JSON.stringify` of the value gives, for data an agent serialised with it), else
   * `JSON.stringify` of the value — which throws for data nested deeper than it can go, and is
   * `undefined` for a result whose data is `undefined`.
   */
  json(): Buffer | string | undefined {
    this.text ??= JSON.stringify(this.parsed?.value);
    return this.text;
  }
}

/** A `result` frame whose data is still bytes. */
export interface ScannedResult {
  readonly type: 'result';
  readonly id: RequestId;
  readonly data: ResultData;
}

/** The result as `decodeFrame` would have given it (data parsed). */
export function parsedResult(result: ScannedResult): Result {
  return { type: 'result', id: result.id, data: result.data.value() };
}

const KEY_OTHER = 0;
const KEY_TYPE = 1;
const KEY_ID = 2;
const KEY_DATA = 3;

/** Which field the key `b[s, e)` (quotes included) names. */
function keyOf(b: Buffer, s: number, e: number): number {
  let escaped = false;
  for (let k = s + 1; k < e - 1 && !escaped; k++) escaped = b[k] === BACKSLASH;
  if (!escaped && e - s > 6) return KEY_OTHER;
  const name = escaped ? (JSON.parse(b.toString('utf8', s, e)) as string) : b.toString('latin1', s + 1, e - 1);
  return name === 'type' ? KEY_TYPE : name === 'id' ? KEY_ID : name === 'data' ? KEY_DATA : KEY_OTHER;
}

/** The bytes every agent's result begins with (`JSON.stringify` puts `type` first). */
const RESULT_HEAD = Buffer.from('{"type":"result",');
const RESULT_TYPE = Buffer.from('"result"');

/** Is `frame` worth the scan: does it start the way a result an agent serialised does? */
export function looksLikeResult(frame: Buffer): boolean {
  return frame.length > RESULT_HEAD.length && frame.compare(RESULT_HEAD, 0, RESULT_HEAD.length, 0, RESULT_HEAD.length) === 0;
}

const scanner = new JsonScanner();

/**
 * Reads `frame` as a result frame, or returns `undefined` when it is anything else (see the
 * module comment: the caller then decodes it with `decodeFrame`).
 */
export function readResultFrame(frame: Buffer): ScannedResult | undefined {
  if (!isUtf8(frame)) return undefined;
  const scan = scanner;
  const b = frame;
  let i = scan.skipSpace(b, 0);
  if (b[i] !== OPEN_OBJECT) return undefined;
  i = scan.skipSpace(b, i + 1);
  if (b[i] === CLOSE_OBJECT) return undefined;
  let typeStart = -1;
  let typeEnd = -1;
  let idStart = -1;
  let idEnd = -1;
  let dataStart = -1;
  let dataEnd = -1;
  let dataSpaced = false;
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const ks = i;
    i = scan.string(b, i);
    if (i < 0) return undefined;
    const key = keyOf(b, ks, i);
    i = scan.skipSpace(b, i);
    if (b[i] !== COLON) return undefined;
    i = scan.skipSpace(b, i + 1);
    const vs = i;
    scan.spaced = false;
    i = scan.value(b, i, 1);
    if (i < 0) return undefined;
    if (key === KEY_TYPE) [typeStart, typeEnd] = [vs, i];
    else if (key === KEY_ID) [idStart, idEnd] = [vs, i];
    else if (key === KEY_DATA) [dataStart, dataEnd, dataSpaced] = [vs, i, scan.spaced];
    i = scan.skipSpace(b, i);
    if (b[i] === COMMA) {
      i = scan.skipSpace(b, i + 1);
      continue;
    }
    if (b[i] !== CLOSE_OBJECT) return undefined;
    i = scan.skipSpace(b, i + 1);
    break;
  }
  if (i !== b.length || typeStart < 0 || idStart < 0 || dataStart < 0) return undefined;
  const plainType = typeEnd - typeStart === RESULT_TYPE.length && b.compare(RESULT_TYPE, 0, RESULT_TYPE.length, typeStart, typeEnd) === 0;
  if (!plainType && JSON.parse(b.toString('utf8', typeStart, typeEnd)) !== 'result') return undefined;
  const id: unknown = JSON.parse(b.toString('utf8', idStart, idEnd));
  if (!RequestId.is(id)) return undefined;
  let data = b.subarray(dataStart, dataEnd);
  if (dataSpaced) {
    const out = Buffer.allocUnsafe(dataEnd - dataStart);
    data = out.subarray(0, compactJson(b, dataStart, dataEnd, out, 0));
  }
  return { type: 'result', id, data: ResultData.ofBytes(data) };
}
