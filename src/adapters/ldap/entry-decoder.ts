/**
 * Our own decoder of SearchResultEntry messages (RFC 4511 §4.5.2), installed on every client of
 * the LDAP adapter, so that entries keep the exact bytes the server sent.
 *
 * ldapts 8 loses data on the way to its `Entry`: it decodes values with a `TextDecoder` that
 * strips a leading U+FEFF, decodes the DN with U+FFFD in place of bytes that are not UTF-8, and
 * when a server sends one attribute description in several runs (OpenLDAP does after
 * `slapadd -q`) `toObject` keeps only the last run. It is also slow (a BerReader call per byte,
 * an object per attribute, a Buffer view and a decoder call per value). This decoder walks the
 * plain shape of the message directly —
 *
 *   SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName OCTET STRING,
 *       attributes SEQUENCE OF SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING } }
 *
 * — and keeps a `RawEntry`: the message buffer and the offsets of the DN and of every value,
 * every run in server order. `entry.ts` turns it into entry JSON in one pass. A message of any
 * other shape (a tag or length form it does not expect, nesting that does not add up) is parsed
 * by ldapts' own code, so malformed messages fail exactly as before; when ldapts accepts it, the
 * raw entry is made from the value Buffers ldapts keeps and the DN bytes read again here.
 *
 * A search whose `explicitBufferAttributes` carry an `EntrySink` (`sinkAttributes`: the
 * adapter's `search` and `get`) has each entry written to the sink as JSON while it is parsed —
 * by the streaming transcoder (`entry-transcoder.ts`) when the message has the plain shape,
 * else from the raw entry — and ldapts keeps only a placeholder.
 *
 * Otherwise `toObject` gives two shapes. A search that passes `LOSSLESS_ENTRIES` as its
 * `explicitBufferAttributes` gets `{dn}` plus the raw entry
 * under `RAW_ENTRY` and nothing else — the bytes are decoded once, into JSON. Any other search
 * (root DSE, subschema) gets an ldapts-shaped entry built from the raw one: the runs of one
 * attribute merged under its first spelling, text exact (a BOM kept), Buffers for `;binary`
 * names, `explicitBufferAttributes` and values that are not UTF-8, `[]` for requested
 * attributes the entry lacks.
 *
 * The hook is ldapts 8.2.0's (pinned) per-client message parser method
 * `_getMessageFromProtocolOperation`; `useEntryDecoder` reports whether it was found. Whether
 * it is used at all is decided once per thread by a self-test of its behaviour
 * (`ldapts-internals.ts`): when that fails, clients are made without it and searches take
 * ldapts' own entries (`EntryBatchWriter.takePage`).
 */
import { isUtf8 } from 'node:buffer';
import { SearchEntry, type Attribute, type BerReader, type Client, type Control, type Entry } from 'ldapts';
import { attributeIdentity, hasBinaryOption } from '../directory/description.js';
import { escapeDnBytes } from '../directory/dn.js';

const SEARCH_RESULT_ENTRY = 0x64; // [APPLICATION 4], constructed
const OCTET_STRING = 0x04;
const SEQUENCE = 0x30;
const SET = 0x31;

/** One run of an attribute: its description as sent and the [start, end) offsets of its values. */
export interface RawAttribute {
  readonly type: string;
  readonly bounds: readonly number[];
}

/** A SearchResultEntry as bytes: everything is an offset into `buffer`. */
export interface RawEntry {
  readonly buffer: Buffer;
  /** The DN as sent when it is valid UTF-8, else with hex escapes for the bytes that are not (`escapeDnBytes`). */
  readonly dn: string;
  /** The DN's bytes are `buffer[dnStart, dnEnd)`. */
  readonly dnStart: number;
  readonly dnEnd: number;
  /** The DN is not valid UTF-8 (entry JSON then carries its bytes as `dn;binary`). */
  readonly dnBinary: boolean;
  /** Every run, in server order (a description may come more than once). */
  readonly attributes: readonly RawAttribute[];
}

/** Where a decoded entry keeps its `RawEntry`. */
export const RAW_ENTRY: unique symbol = Symbol('ldap raw entry');

/**
 * Pass as `explicitBufferAttributes` to get entries that carry only `dn` and their `RawEntry`
 * (see the module comment). Compared by identity; frozen.
 */
export const LOSSLESS_ENTRIES: string[] = Object.freeze([]) as unknown as string[];

/**
 * Where a search that wants its page as one `JsonBatch` has its entries written, as they are
 * parsed (`entry-batch.ts`): by the transcoder when it takes the message, else from the
 * `RawEntry` this decoder makes. Such entries give ldapts only a placeholder.
 */
export interface EntrySink {
  /** Writes the entry JSON of the SearchResultEntry content `buf[start, end)`; false (nothing written) when the transcoder does not take it. */
  transcode(buf: Buffer, start: number, end: number): boolean;
  /** Writes the entry JSON of an entry decoded the other way. */
  raw(entry: RawEntry): void;
}

const ENTRY_SINK: unique symbol = Symbol('ldap entry sink');

/**
 * The `explicitBufferAttributes` that sends a search's entries to `sink` (one per search: the
 * hook finds the sink on the search request). Empty, frozen.
 */
export function sinkAttributes(sink: EntrySink): string[] {
  return Object.freeze(Object.assign([] as string[], { [ENTRY_SINK]: sink }));
}

function sinkOf(explicitBufferAttributes: unknown): EntrySink | undefined {
  return typeof explicitBufferAttributes === 'object' && explicitBufferAttributes !== null ? (explicitBufferAttributes as { [ENTRY_SINK]?: EntrySink })[ENTRY_SINK] : undefined;
}

/** What ldapts gets for an entry written to a sink (nobody reads it). */
const SUNK: Entry = Object.freeze({ dn: '' });

/** Is this what ldapts kept of an entry written to a sink? */
export function isSunk(entry: Entry): boolean {
  return entry === SUNK;
}

/** The raw entry of an entry this decoder made, if it did. */
export function rawEntryOf(entry: Entry): RawEntry | undefined {
  return (entry as { [RAW_ENTRY]?: RawEntry })[RAW_ENTRY];
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

/** Is `buf[start, end)` valid UTF-8? `toString` is the fast path: only U+FFFD needs a strict look. */
function utf8(buf: Buffer, start: number, end: number, text: string): boolean {
  return text.indexOf('\ufffd') === -1 || isUtf8(buf.subarray(start, end));
}

function rawEntry(buffer: Buffer, dnStart: number, dnEnd: number, attributes: RawAttribute[]): RawEntry {
  const text = buffer.toString('utf8', dnStart, dnEnd);
  const valid = utf8(buffer, dnStart, dnEnd, text);
  return { buffer, dn: valid ? text : escapeDnBytes(buffer.subarray(dnStart, dnEnd)), dnStart, dnEnd, dnBinary: !valid, attributes };
}

/** The entry in `buf[start, end)`, or undefined when its shape is not the plain one. */
function decodeEntry(buf: Buffer, start: number, end: number): RawEntry | undefined {
  pos = start;
  const dnEnd = element(buf, OCTET_STRING, end);
  if (dnEnd < 0) return undefined;
  const dnStart = pos;
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
  return rawEntry(buf, dnStart, dnEnd, attributes);
}

/**
 * The raw entry of a message ldapts parsed (`attributes` with their value Buffers): the DN's
 * bytes are read again at `start` (ldapts keeps only its lossy string), the values copied into
 * one buffer. Only for shapes the fast path does not take.
 */
function fromParsed(reader: BerReader, start: number, end: number, name: string, parsed: readonly Attribute[]): RawEntry {
  pos = start;
  const dnEnd = element(reader.buffer, OCTET_STRING, end);
  const dn = dnEnd < 0 ? Buffer.from(name, 'utf8') : reader.buffer.subarray(pos, dnEnd);
  const parts: Buffer[] = [dn];
  let at = dn.length;
  const attributes: RawAttribute[] = parsed.map((a) => {
    const bounds: number[] = [];
    for (const value of a.parsedBuffers) {
      parts.push(value);
      bounds.push(at, at + value.length);
      at += value.length;
    }
    return { type: a.type, bounds };
  });
  return rawEntry(Buffer.concat(parts), 0, dn.length, attributes);
}

/** The ldapts-shaped entry of a raw entry (for searches that did not ask for `LOSSLESS_ENTRIES`). */
function ldaptsEntry(raw: RawEntry, requestAttributes: readonly string[], explicitBufferAttributes: readonly string[]): Entry {
  const { buffer } = raw;
  const groups = new Map<string, { key: string; runs: RawAttribute[] }>();
  for (const a of raw.attributes) {
    const id = attributeIdentity(a.type);
    const group = groups.get(id);
    if (group === undefined) groups.set(id, { key: a.type, runs: [a] });
    else group.runs.push(a);
  }
  const result: Entry = { dn: raw.dn };
  for (const { key, runs } of groups.values()) {
    let binary = runs.some((a) => hasBinaryOption(a.type) || explicitBufferAttributes.includes(a.type));
    const texts: string[] = [];
    const buffers: Buffer[] = [];
    for (const { bounds } of runs) {
      for (let i = 0; i < bounds.length; i += 2) {
        const start = bounds[i] ?? 0;
        const end = bounds[i + 1] ?? 0;
        buffers.push(buffer.subarray(start, end));
        if (binary) continue;
        const text = buffer.toString('utf8', start, end);
        if (utf8(buffer, start, end, text)) texts.push(text);
        else binary = true;
      }
    }
    const values = binary ? buffers : texts;
    // As ldapts: one value as a scalar, several as an array, none as [].
    result[key] = values.length === 1 ? (values[0] as string | Buffer) : values;
  }
  if (requestAttributes.length > 0) {
    const present = new Set(raw.attributes.map((a) => a.type.toLocaleLowerCase()));
    for (const name of requestAttributes) {
      if (typeof result[name] === 'undefined' && !present.has(name.toLocaleLowerCase())) result[name] = [];
    }
  }
  return Object.assign(result, { [RAW_ENTRY]: raw });
}

/** A SearchResultEntry decoded to a `RawEntry` (by `decodeEntry`, or by ldapts when its shape is not the plain one). */
class RawSearchEntry extends SearchEntry {
  private raw: RawEntry | undefined;

  constructor(
    options: { messageId: number },
    private readonly fast: boolean,
    private readonly sink: EntrySink | undefined,
  ) {
    super(options);
  }

  override parseMessage(reader: BerReader): void {
    const start = reader.offset;
    // `reader.length` is the protocolOp's length here (Message.parse calls us right after it was read).
    const end = start + reader.length;
    const inBounds = reader.length <= reader.remain;
    const sink = this.sink;
    if (sink !== undefined && this.fast && inBounds && sink.transcode(reader.buffer, start, end)) {
      reader.offset = end;
      return;
    }
    const raw = this.fast && inBounds ? decodeEntry(reader.buffer, start, end) : undefined;
    if (raw === undefined) {
      super.parseMessage(reader);
      this.raw = fromParsed(reader, start, inBounds ? end : reader.buffer.length, this.name, this.attributes);
    } else {
      this.raw = raw;
      this.name = raw.dn;
      reader.offset = end;
    }
    if (sink !== undefined) {
      sink.raw(this.raw);
      this.raw = undefined;
      this.attributes = [];
    }
  }

  override toObject(requestAttributes: string[], explicitBufferAttributes: string[]): Entry {
    if (this.sink !== undefined) return SUNK;
    const raw = this.raw;
    if (raw === undefined) return super.toObject(requestAttributes, explicitBufferAttributes);
    if (explicitBufferAttributes === LOSSLESS_ENTRIES) return { dn: raw.dn, [RAW_ENTRY]: raw };
    return ldaptsEntry(raw, requestAttributes, explicitBufferAttributes);
  }
}

/** Does the fast path decode this SearchResultEntry content (else ldapts does)? For tests. */
export function decodesFast(content: Buffer): boolean {
  return decodeEntry(content, 0, content.length) !== undefined;
}

type ParserHook = (
  this: unknown,
  messageId: number,
  protocolOperation: number,
  reader: BerReader,
  request?: { controls?: Control[]; explicitBufferAttributes?: unknown },
) => unknown;

const hooked = new WeakSet<object>();

export interface HookOptions {
  /** Take the fast path when the message has the plain shape (default true; false tests the other path). */
  readonly fast?: boolean;
}

/**
 * Makes an ldapts `MessageParser` decode search result entries with this decoder. Returns false
 * (and changes nothing) when this ldapts build does not have the hook.
 */
export function hookMessageParser(parser: unknown, options: HookOptions = {}): boolean {
  if (typeof parser !== 'object' || parser === null) return false;
  if (hooked.has(parser)) return true;
  const original: unknown = Reflect.get(parser, '_getMessageFromProtocolOperation');
  if (typeof original !== 'function') return false;
  const fast = options.fast ?? true;
  const hook: ParserHook = function (messageId, protocolOperation, reader, request) {
    if (protocolOperation !== SEARCH_RESULT_ENTRY) return Reflect.apply(original, this, [messageId, protocolOperation, reader, request]);
    // As ldapts does for every message: the request's controls help parse the response's.
    const message = new RawSearchEntry({ messageId }, fast, sinkOf(request?.explicitBufferAttributes));
    message.parse(reader, request?.controls ?? []);
    return message;
  };
  Reflect.set(parser, '_getMessageFromProtocolOperation', hook);
  hooked.add(parser);
  return true;
}

/** `hookMessageParser` for a client's parser (ldapts 8.2.0 keeps it in `messageParser`). */
export function useEntryDecoder(client: Client): boolean {
  return hookMessageParser(Reflect.get(client, 'messageParser'));
}
