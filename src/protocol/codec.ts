/**
 * Frame encode/decode at the socket edge: text in, typed frame out, or a coded
 * failure that the caller turns into an `error` frame. Nothing here throws on bad input.
 */
import { isUtf8 } from 'node:buffer';
import { isLeft } from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { reportErrors } from '../support/io-ts-report.js';
import { DEFAULT_MAX_FRAME_BYTES } from './version.js';
import { FRAME_CODECS, type Frame, type FrameType } from './frames.js';

export type DecodeResult =
  | { readonly ok: true; readonly frame: Frame }
  | {
      readonly ok: false;
      readonly code: 'BAD_FRAME';
      readonly message: string;
      /** The frame's `id`, when it is recognisable: the request the bad frame is about. */
      readonly id?: string;
      /** The frame's `type`, when it is one of the protocol's. */
      readonly frameType?: FrameType;
    };

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
  const type = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['type'] : undefined;
  return {
    ok: false,
    code: 'BAD_FRAME',
    message,
    ...(id === undefined ? {} : { id }),
    ...(isFrameType(type) ? { frameType: type } : {}),
  };
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
 * for chunking and to send them (see `encodeChunk`). A frame built from bytes (`chunkFromBytes`)
 * carries them in `parts` and is sent as those bytes, one text message in several fragments;
 * its `encoded` text is made only when someone asks for it (tests, logs).
 */
export interface EncodedFrame {
  readonly type: Frame['type'];
  readonly encoded: string;
  /** The frame's UTF-8 bytes in order, when it was built from bytes: sent without a copy. */
  readonly parts?: readonly Buffer[];
}

export type OutgoingFrame = Frame | EncodedFrame;

export const isEncoded = (f: OutgoingFrame): f is EncodedFrame => 'encoded' in f;

/** `{"type":"chunk","id":…,"seq":N,"items":[` — what precedes a chunk's items. */
const chunkHead = (id: string, seq: number): string => `{"type":"chunk","id":${JSON.stringify(id)},"seq":${seq},"items":[`;
const CHUNK_TAIL = Buffer.from(']}');

/**
 * The text of `{type:'chunk', id, seq, items}` from items serialised with `JSON.stringify`
 * beforehand — byte for byte what `encodeFrame` would produce for the same chunk.
 */
export function encodeChunk(id: string, seq: number, itemTexts: readonly string[]): EncodedFrame {
  return { type: 'chunk', encoded: `${chunkHead(id, seq)}${itemTexts.join(',')}]}` };
}

/** A chunk frame whose text is its parts' bytes (decoded on demand). */
class BytesFrame implements EncodedFrame {
  readonly type = 'chunk';
  constructor(readonly parts: readonly Buffer[]) {}
  get encoded(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }
}

/**
 * The chunk frame of items whose JSON texts are already bytes, comma-separated (the inside of
 * a JSON array, e.g. `JsonBatch.slice`): the same bytes `encodeChunk` gives for the same items,
 * as three parts — the head, `items` itself (not copied), the tail.
 */
export function chunkFromBytes(id: string, seq: number, items: Buffer): EncodedFrame {
  return new BytesFrame([Buffer.from(chunkHead(id, seq)), items, CHUNK_TAIL]);
}

function checkSize(bytes: number, maxFrameBytes: number, type: string): void {
  if (bytes > maxFrameBytes) throw new FrameTooLargeError(bytes, maxFrameBytes, type);
}

/** Serialises a frame; refuses (throws `FrameTooLargeError`) rather than sending an oversize frame. */
export function encodeFrame(frame: OutgoingFrame, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): string {
  const text = isEncoded(frame) ? frame.encoded : JSON.stringify(frame);
  checkSize(Buffer.byteLength(text), maxFrameBytes, frame.type);
  return text;
}

/**
 * What goes to the socket for a frame: its text, or — for a frame built from bytes — its parts
 * as they are. Refuses (throws `FrameTooLargeError`) an oversize frame, as `encodeFrame` does.
 */
export function frameData(frame: OutgoingFrame, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): string | readonly Buffer[] {
  if (isEncoded(frame) && frame.parts !== undefined) {
    let bytes = 0;
    for (const part of frame.parts) bytes += part.length;
    checkSize(bytes, maxFrameBytes, frame.type);
    return frame.parts;
  }
  return encodeFrame(frame, maxFrameBytes);
}
