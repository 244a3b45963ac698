/**
 * A faster decoder of SearchResultEntry messages (RFC 4511 §4.5.2) for stream clients.
 *
 * Decoding entries is most of what a search costs the agent, and ldapts 8 spends it on
 * generality: a BerReader call per byte, an `Attribute` object and a Buffer view per value, and
 * `TextDecoder` on every value. This decoder walks the well-formed shape directly —
 *
 *   SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName OCTET STRING,
 *       attributes SEQUENCE OF SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING } }
 *
 * — and produces exactly the `Entry` ldapts' own `toObject` would (same strings, same Buffers,
 * same keys in the same order, same handling of `;binary`, `explicitBufferAttributes`, text
 * that is not UTF-8 and requested attributes that are missing). Anything else in the message
 * (a tag or length form it does not expect, nesting that does not add up) is handed to ldapts'
 * own parser unchanged, so malformed messages fail exactly as they did.
 *
 * It is installed per client (`useFastEntryDecoder`) through ldapts 8.2.0's (pinned) message
 * parser hook `_getMessageFromProtocolOperation`, behind a runtime shape check: if the hook is
 * not there, the client keeps ldapts' decoder. Tests compare both decoders on generated and on
 * malformed messages.
 */
import { SearchEntry, type BerReader, type Client, type Control, type Entry } from 'ldapts';

const SEARCH_RESULT_ENTRY = 0x64; // [APPLICATION 4], constructed
const OCTET_STRING = 0x04;
const SEQUENCE = 0x30;
const SET = 0x31;

const BINARY_OPTION = /;binary$/i;
const fatalUtf8 = new TextDecoder('utf8', { fatal: true });

/** One attribute: its type and the [start, end) offsets of its values in the message buffer. */
interface RawAttribute {
  readonly type: string;
  readonly bounds: number[];
}

interface RawEntry {
  readonly buffer: Buffer;
  readonly dn: string;
  readonly attributes: RawAttribute[];
}

/** Read position of `decodeEntry` (synchronous, so one module-level cursor is enough). */
let pos = 0;

/**
 * The definite length at `pos` (short form, or long form of 1–4 bytes), `pos` moved past it;
 * -1 for what ldapts would refuse (indefinite, or more than 4 length bytes) or a truncated one.
 */
function length(buf: Buffer, end: number): number {
  if (pos >= end) return -1;
  const first = buf[pos++] ?? 0;
  if (first < 0x80) return first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || pos + n > end) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (buf[pos++] ?? 0);
  return len;
}

/** The header of an element with `tag` at `pos`; returns its end, or -1 if it is not exactly that within `end`. */
function element(buf: Buffer, tag: number, end: number): number {
  if (pos >= end || buf[pos] !== tag) return -1;
  pos++;
  const len = length(buf, end);
  if (len < 0 || pos + len > end) return -1;
  return pos + len;
}

/** The entry in `buf[start, end)`, or undefined when its shape is not the plain one. */
function decodeEntry(buf: Buffer, start: number, end: number): RawEntry | undefined {
  pos = start;
  const dnEnd = element(buf, OCTET_STRING, end);
  if (dnEnd < 0) return undefined;
  const dn = buf.toString('utf8', pos, dnEnd);
  pos = dnEnd;
  if (element(buf, SEQUENCE, end) !== end) return undefined;
  const attributes: RawAttribute[] = [];
  while (pos < end) {
    const attributeEnd = element(buf, SEQUENCE, end);
    if (attributeEnd < 0) return undefined;
    const typeEnd = element(buf, OCTET_STRING, attributeEnd);
    if (typeEnd < 0) return undefined;
    const type = buf.toString('utf8', pos, typeEnd);
    pos = typeEnd;
    if (element(buf, SET, attributeEnd) !== attributeEnd) return undefined;
    const bounds: number[] = [];
    while (pos < attributeEnd) {
      const valueEnd = element(buf, OCTET_STRING, attributeEnd);
      if (valueEnd < 0) return undefined;
      bounds.push(pos, valueEnd);
      pos = valueEnd;
    }
    attributes.push({ type, bounds });
  }
  return { buffer: buf, dn, attributes };
}

/**
 * A value as ldapts decodes it: text if it is UTF-8 (a leading BOM dropped, as `TextDecoder`
 * does), else undefined (the attribute then comes back as Buffers). `toString` is the fast
 * path; anything it may have changed (U+FFFD, a BOM) is decided by the strict decoder.
 */
function text(buf: Buffer, start: number, end: number): string | undefined {
  const s = buf.toString('utf8', start, end);
  if (!s.includes('\ufffd') && s.charCodeAt(0) !== 0xfeff) return s;
  try {
    return fatalUtf8.decode(buf.subarray(start, end));
  } catch {
    return undefined;
  }
}

/** A SearchResultEntry decoded by `decodeEntry` (or by ldapts when its shape is not the plain one). */
class FastSearchEntry extends SearchEntry {
  private raw: RawEntry | undefined;

  override parseMessage(reader: BerReader): void {
    const start = reader.offset;
    // `reader.length` is the protocolOp's length here (Message.parse calls us right after it was read).
    const end = start + reader.length;
    const raw = reader.length <= reader.remain ? decodeEntry(reader.buffer, start, end) : undefined;
    if (raw === undefined) {
      super.parseMessage(reader);
      return;
    }
    this.raw = raw;
    this.name = raw.dn;
    reader.offset = end;
  }

  override toObject(requestAttributes: string[], explicitBufferAttributes: string[]): Entry {
    const raw = this.raw;
    if (raw === undefined) return super.toObject(requestAttributes, explicitBufferAttributes);
    const { buffer } = raw;
    const result: Entry = { dn: raw.dn };
    for (const { type, bounds } of raw.attributes) {
      const n = bounds.length / 2;
      let binary = BINARY_OPTION.test(type) || explicitBufferAttributes.includes(type);
      let values: Array<string | Buffer> = [];
      if (!binary) {
        const texts: string[] = [];
        for (let i = 0; i < bounds.length; i += 2) {
          const t = text(buffer, bounds[i] ?? 0, bounds[i + 1] ?? 0);
          if (t === undefined) {
            binary = true;
            break;
          }
          texts.push(t);
        }
        values = texts;
      }
      if (binary) {
        const buffers: Buffer[] = [];
        for (let i = 0; i < bounds.length; i += 2) buffers.push(buffer.subarray(bounds[i], bounds[i + 1]));
        values = buffers;
      }
      // As ldapts: one value as a scalar, several as an array, none as [] (same assignment, so
      // a `__proto__` type behaves the same too).
      result[type] = n === 0 ? [] : n === 1 ? (values[0] as string | Buffer) : (values as string[] | Buffer[]);
    }
    if (requestAttributes.length > 0) {
      const present = new Set(raw.attributes.map((a) => a.type.toLocaleLowerCase()));
      for (const name of requestAttributes) {
        if (typeof result[name] === 'undefined' && !present.has(name.toLocaleLowerCase())) result[name] = [];
      }
    }
    return result;
  }
}

/** Does the fast path decode this SearchResultEntry content (else ldapts does)? For tests. */
export function decodesFast(content: Buffer): boolean {
  return decodeEntry(content, 0, content.length) !== undefined;
}

type ParserHook = (this: unknown, messageId: number, protocolOperation: number, reader: BerReader, request?: { controls?: Control[] }) => unknown;

const hooked = new WeakSet<object>();

/**
 * Makes an ldapts `MessageParser` decode search result entries with the fast decoder. Returns
 * false (and changes nothing) when this ldapts build does not have the hook.
 */
export function hookMessageParser(parser: unknown): boolean {
  if (typeof parser !== 'object' || parser === null) return false;
  if (hooked.has(parser)) return true;
  const original: unknown = Reflect.get(parser, '_getMessageFromProtocolOperation');
  if (typeof original !== 'function') return false;
  const hook: ParserHook = function (messageId, protocolOperation, reader, request) {
    if (protocolOperation !== SEARCH_RESULT_ENTRY) return Reflect.apply(original, this, [messageId, protocolOperation, reader, request]);
    // As ldapts does for every message: the request's controls help parse the response's.
    const message = new FastSearchEntry({ messageId });
    message.parse(reader, request?.controls ?? []);
    return message;
  };
  Reflect.set(parser, '_getMessageFromProtocolOperation', hook);
  hooked.add(parser);
  return true;
}

/** `hookMessageParser` for a client's parser (ldapts 8.2.0 keeps it in `messageParser`). */
export function useFastEntryDecoder(client: Client): boolean {
  return hookMessageParser(Reflect.get(client, 'messageParser'));
}
