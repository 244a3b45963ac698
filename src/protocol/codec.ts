/**
 * Frame encode/decode at the socket edge: text in, typed frame out, or a coded
 * failure that the caller turns into an `error` frame. Nothing here throws on bad input.
 */
import { isUtf8 } from 'node:buffer';
import { isLeft } from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { reportErrors } from '../config/report.js';
import { DEFAULT_MAX_FRAME_BYTES } from './version.js';
import { FRAME_CODECS, type Frame, type FrameType } from './frames.js';

export type DecodeResult =
  | { readonly ok: true; readonly frame: Frame }
  | { readonly ok: false; readonly code: 'BAD_FRAME'; readonly message: string; readonly id?: string };

export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
  readonly code = 'BAD_FRAME';
  constructor(
    readonly bytes: number,
    readonly maxFrameBytes: number,
    readonly frameType: string,
  ) {
    super(`${frameType} frame of ${bytes} bytes exceeds maxFrameBytes ${maxFrameBytes}`);
  }
}

const isFrameType = (s: unknown): s is FrameType => typeof s === 'string' && Object.hasOwn(FRAME_CODECS, s);

/** `id` of a frame that failed to decode, when it is recognisable, so the error can be correlated. */
function salvageId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as Record<string, unknown>)['id'];
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

/** Short, single-line description of io-ts errors: `path: expected X, got Y` (the config reporter's wording). */
export function describeErrors(errors: t.Errors, max = 3): string {
  const problems = reportErrors(errors);
  const lines = problems.slice(0, max).map((p) => `${p.path.length === 0 ? '(frame)' : p.path.join('.')}: ${p.message}`);
  const more = problems.length > max ? ` (+${problems.length - max} more)` : '';
  return lines.join('; ') + more;
}

function fail(message: string, raw?: unknown): DecodeResult {
  const id = salvageId(raw);
  return id === undefined ? { ok: false, code: 'BAD_FRAME', message } : { ok: false, code: 'BAD_FRAME', message, id };
}

/**
 * Decodes one text frame. `data` may be a string or a Buffer (ws hands Buffers to listeners);
 * binary frames are refused by the caller before this point.
 */
export function decodeFrame(data: string | Buffer, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): DecodeResult {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (bytes > maxFrameBytes) return fail(`frame of ${bytes} bytes exceeds maxFrameBytes ${maxFrameBytes}`);
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    // isUtf8 is native and avoids a second copy; toString alone would replace bad bytes silently.
    if (!isUtf8(data)) return fail('frame is not valid UTF-8');
    text = data.toString('utf8');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return fail(`frame is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('frame is not a JSON object');
  const type = (raw as Record<string, unknown>)['type'];
  if (!isFrameType(type)) return fail(`unknown frame type ${JSON.stringify(type) ?? 'undefined'}`, raw);
  const decoded = FRAME_CODECS[type].decode(raw);
  if (isLeft(decoded)) return fail(`invalid ${type} frame: ${describeErrors(decoded.left)}`, raw);
  return { ok: true, frame: decoded.right };
}

/**
 * A frame already serialised, so a stream's items are turned into JSON once: to measure them
 * for chunking and to send them (see `encodeChunk`).
 */
export interface EncodedFrame {
  readonly type: Frame['type'];
  readonly encoded: string;
}

export type OutgoingFrame = Frame | EncodedFrame;

export const isEncoded = (f: OutgoingFrame): f is EncodedFrame => 'encoded' in f;

/**
 * The text of `{type:'chunk', id, seq, items}` from items serialised with `JSON.stringify`
 * beforehand — byte for byte what `encodeFrame` would produce for the same chunk.
 */
export function encodeChunk(id: string, seq: number, itemTexts: readonly string[]): EncodedFrame {
  return { type: 'chunk', encoded: `{"type":"chunk","id":${JSON.stringify(id)},"seq":${seq},"items":[${itemTexts.join(',')}]}` };
}

/** Serialises a frame; refuses (throws `FrameTooLargeError`) rather than sending an oversize frame. */
export function encodeFrame(frame: OutgoingFrame, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): string {
  const text = isEncoded(frame) ? frame.encoded : JSON.stringify(frame);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxFrameBytes) throw new FrameTooLargeError(bytes, maxFrameBytes, frame.type);
  return text;
}
