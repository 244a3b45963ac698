/**
 * The streaming transcoder: a SearchResultEntry's BER content → its entry JSON bytes, written
 * straight into a `JsonWriter` (a page's buffer), under the lossless rules of docs/protocol.md
 * ("Entries") — the same bytes `entryJson` (entry.ts) makes for the same message, without the
 * `RawEntry`, strings, Buffer views or decoder calls per value that path needs:
 *
 * - the message is walked once to note where each run's description and values are (reused
 *   typed arrays); descriptions are recognised by their bytes in a bounded table, so a name seen
 *   before costs no string either;
 * - runs of one attribute (the same `describe` id) are linked into groups in order of first
 *   appearance; each group writes its text values under its first spelling, copied byte for
 *   byte and escaped only where JSON must (`JsonWriter.string`), then its `;binary` values as
 *   base64 written into the buffer.
 *
 * It takes exactly the shapes `entry-decoder.ts`' fast path takes (definite lengths, plain
 * tags, nesting that adds up). For anything else — and for a description past `describe`'s
 * bounded memo, which only a hostile server sends — `transcodeEntry` writes nothing and returns false,
 * and the caller takes the `RawEntry` path, which ends in the same bytes.
 */
import { escapeDnBytes } from '../directory/dn.js';
import { describe, objectOrder, type Described } from './entry.js';
import { isUtf8Range, type JsonWriter } from './json-writer.js';

const OCTET_STRING = 0x04;
const SEQUENCE = 0x30;
const SET = 0x31;
const COMMA = 0x2c;
const CLOSE_ARRAY = 0x5d;

const ascii = (s: string): Buffer => Buffer.from(s, 'utf8');
const DN_OPEN = ascii('{"dn":');
const DN_BINARY_OPEN = ascii(',"dn;binary":');
const ATTRIBUTES_OPEN = ascii(',"attributes":{');
const ENTRY_CLOSE = ascii('}}');

/** A description as the writer uses it: what `describe` says, and its keys as bytes. */
interface Name {
  readonly d: Described;
  /** `"key":[` of text values. */
  readonly textHead: Buffer;
  /** `"key;binary":[` of base64 values. */
  readonly binaryHead: Buffer;
}

/**
 * Descriptions by their bytes (open addressing, FNV-1a), bounded: past `MAX_NAMES` spellings a
 * new one costs a string and a `describe` lookup each time it comes.
 */
const SLOTS = 1 << 13;
const MAX_NAMES = SLOTS >> 1;
const slotHash = new Int32Array(SLOTS);
const slotKey: Array<Buffer | undefined> = new Array<Buffer | undefined>(SLOTS).fill(undefined);
const slotName: Array<Name | undefined> = new Array<Name | undefined>(SLOTS).fill(undefined);
let names = 0;

function nameOf(buf: Uint8Array, start: number, end: number): Name | undefined {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] ?? 0), 0x01000193);
  h |= 0; // as Int32Array keeps it
  const len = end - start;
  for (let s = h & (SLOTS - 1); ; s = (s + 1) & (SLOTS - 1)) {
    const key = slotKey[s];
    if (key === undefined) break;
    if (slotHash[s] !== h || key.length !== len) continue;
    let same = true;
    for (let i = 0; i < len; i++) {
      if (key[i] !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return slotName[s];
  }
  const type = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8', start, end);
  const d = describe(type);
  if (d.id < 0) return undefined;
  const name: Name = { d, textHead: ascii(`${d.textKey}:[`), binaryHead: ascii(`${d.binaryKey}:[`) };
  // Past the bound (a server with thousands of spellings) names are made afresh each time.
  if (names >= MAX_NAMES) return name;
  let s = h & (SLOTS - 1);
  while (slotKey[s] !== undefined) s = (s + 1) & (SLOTS - 1);
  slotHash[s] = h;
  slotKey[s] = Buffer.from(buf.subarray(start, end));
  slotName[s] = name;
  names++;
  return name;
}

/** Read position while walking one message (synchronous: one module-level cursor is enough). */
let pos = 0;

/** As in entry-decoder.ts: a definite length of at most 4 bytes at `pos`, or -1. */
function length(buf: Uint8Array, end: number): number {
  if (pos >= end) return -1;
  const first = buf[pos++] ?? 0;
  if (first < 0x80) return first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || pos + n > end) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (buf[pos++] ?? 0);
  return len;
}

/** As in entry-decoder.ts: the end of the element with `tag` at `pos`, or -1. */
function element(buf: Uint8Array, tag: number, end: number): number {
  if (pos >= end || buf[pos] !== tag) return -1;
  pos++;
  const len = length(buf, end);
  if (len < 0 || pos + len > end) return -1;
  return pos + len;
}

// Scratch space reused from entry to entry (grown when an entry needs more).
/** Value bounds of every run: [start, end) pairs. */
let bounds = new Int32Array(1024);
/** Run `r`: its name, its values `bounds[runFrom[r], runTo[r])`, the next run of its group. */
const runName: Name[] = [];
let runFrom = new Int32Array(64);
let runTo = new Int32Array(64);
let nextRun = new Int32Array(64);
/** Group `g` (an attribute): its first and last run. */
let groupHead = new Int32Array(64);
let groupTail = new Int32Array(64);
/** Attribute id (`Described.id`) met in this entry when `seen[id] === stamp`; then it is group `slot[id]`. */
const seen = new Int32Array(1 << 16);
const slot = new Int32Array(1 << 16);
let stamp = 0;

const grown = (a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> => {
  if (need <= a.length) return a;
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
};

/**
 * Writes the entry JSON of the SearchResultEntry content `buf[start, end)` at the writer's
 * position. Returns false, with nothing written, when the message is not of the plain shape or
 * names an attribute past the memos' bounds (the caller then takes the `RawEntry` path).
 */
export function transcodeEntry(buf: Buffer, start: number, end: number, w: JsonWriter): boolean {
  pos = start;
  const dnEnd = element(buf, OCTET_STRING, end);
  if (dnEnd < 0) return false;
  const dnStart = pos;
  pos = dnEnd;
  if (element(buf, SEQUENCE, end) !== end) return false;
  let runs = 0;
  let nb = 0;
  while (pos < end) {
    const attributeEnd = element(buf, SEQUENCE, end);
    if (attributeEnd < 0) return false;
    const typeEnd = element(buf, OCTET_STRING, attributeEnd);
    if (typeEnd < 0) return false;
    const name = nameOf(buf, pos, typeEnd);
    if (name === undefined) return false;
    pos = typeEnd;
    if (element(buf, SET, attributeEnd) !== attributeEnd) return false;
    const from = nb;
    while (pos < attributeEnd) {
      const valueEnd = element(buf, OCTET_STRING, attributeEnd);
      if (valueEnd < 0) return false;
      if (nb + 2 > bounds.length) bounds = grown(bounds, nb + 2);
      bounds[nb++] = pos;
      bounds[nb++] = valueEnd;
      pos = valueEnd;
    }
    // A run without values counts for nothing (not even for where its attribute comes).
    if (nb === from) continue;
    if (runs === runFrom.length) {
      runFrom = grown(runFrom, runs + 1);
      runTo = grown(runTo, runs + 1);
      nextRun = grown(nextRun, runs + 1);
    }
    runName[runs] = name;
    runFrom[runs] = from;
    runTo[runs] = nb;
    runs++;
  }

  if (stamp === 0x7fffffff) {
    seen.fill(0);
    stamp = 0;
  }
  const entryStamp = ++stamp;
  let groups = 0;
  let indexLike = false;
  for (let r = 0; r < runs; r++) {
    const { d } = runName[r] as Name;
    nextRun[r] = -1;
    if (seen[d.id] === entryStamp) {
      const g = slot[d.id] ?? 0;
      nextRun[groupTail[g] ?? 0] = r;
      groupTail[g] = r;
      continue;
    }
    if (groups === groupHead.length) {
      groupHead = grown(groupHead, groups + 1);
      groupTail = grown(groupTail, groups + 1);
    }
    seen[d.id] = entryStamp;
    slot[d.id] = groups;
    groupHead[groups] = r;
    groupTail[groups] = r;
    groups++;
    indexLike ||= d.indexLike;
  }

  const entryStart = w.at;
  w.bytes(DN_OPEN);
  if (!w.string(buf, dnStart, dnEnd)) {
    // Not UTF-8: hex escapes in `dn`, the bytes in `dn;binary`.
    w.text(JSON.stringify(escapeDnBytes(buf.subarray(dnStart, dnEnd))));
    w.bytes(DN_BINARY_OPEN);
    w.base64(buf, dnStart, dnEnd);
  }
  w.bytes(ATTRIBUTES_OPEN);
  for (let g = 0; g < groups; g++) {
    if (g > 0) w.byte(COMMA);
    writeGroup(buf, groupHead[g] ?? 0, w);
  }
  w.bytes(ENTRY_CLOSE);
  if (indexLike) {
    // Keys that are array indices: an object orders them first, and get's entry is an object.
    const json = objectOrder(w.textFrom(entryStart));
    w.at = entryStart;
    w.text(json);
  }
  return true;
}

/** One attribute: its text values under its first spelling, then the others base64 under its `;binary` key. */
function writeGroup(buf: Buffer, head: number, w: JsonWriter): void {
  const first = runName[head] as Name;
  let wroteText = false;
  let binary = false;
  for (let r = head; r >= 0; r = nextRun[r] ?? -1) {
    // Whether all values are binary is the run's own description (`cn` vs `cn;binary`).
    if ((runName[r] as Name).d.binary) {
      binary = true;
      continue;
    }
    const to = runTo[r] ?? 0;
    for (let v = runFrom[r] ?? 0; v < to; v += 2) {
      const mark = w.at;
      if (wroteText) w.byte(COMMA);
      else w.bytes(first.textHead);
      if (w.string(buf, bounds[v] ?? 0, bounds[v + 1] ?? 0)) {
        wroteText = true;
      } else {
        w.at = mark;
        binary = true;
      }
    }
  }
  if (wroteText) w.byte(CLOSE_ARRAY);
  if (!binary) return;
  if (wroteText) w.byte(COMMA);
  let wroteBinary = false;
  for (let r = head; r >= 0; r = nextRun[r] ?? -1) {
    const allBinary = (runName[r] as Name).d.binary;
    const to = runTo[r] ?? 0;
    for (let v = runFrom[r] ?? 0; v < to; v += 2) {
      const s = bounds[v] ?? 0;
      const e = bounds[v + 1] ?? 0;
      if (!allBinary && isUtf8Range(buf, s, e)) continue; // written as text above
      if (wroteBinary) w.byte(COMMA);
      else w.bytes(first.binaryHead);
      wroteBinary = true;
      w.base64(buf, s, e);
    }
  }
  w.byte(CLOSE_ARRAY);
}
