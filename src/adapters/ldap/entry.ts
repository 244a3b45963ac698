/**
 * The protocol entries of what an LDAP server sends (the rules: `../directory/entry.ts` and
 * docs/protocol.md, "Entries").
 *
 * Entries a search on an adapter client returns carry their bytes (`entry-decoder.ts`):
 * `entryJson` writes their JSON straight from the bytes (a search serialises every entry it
 * streams), and `normaliseEntry` is that JSON parsed, so `get` and both search paths give the
 * same thing. Entries without their bytes go through `buildEntry`, the same rules on values
 * given as strings (text) and Buffers.
 */
import { isUtf8 } from 'node:buffer';
import type { Entry } from 'ldapts';
import { ProtocolError } from '../../protocol/errors.js';
import { attributeIdentity, binaryKey, isBinaryAttribute, textKey } from '../directory/description.js';
import { buildEntry, type LdapEntry } from '../directory/entry.js';
import { rawEntryOf, type RawEntry } from './entry-decoder.js';

/** Strings JSON.stringify leaves as they are: no `"`, `\`, control character or surrogate. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const PLAIN_JSON_STRING = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

function jsonString(s: string): string {
  return PLAIN_JSON_STRING.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** Names an object orders before the others (array indices): such an entry's JSON is re-ordered. */
const INDEX_LIKE = /^(?:0|[1-9]\d*)$/;

/** What the JSON writers (here and `entry-transcoder.ts`) need of a description, computed once per spelling (bounded memo). */
export interface Described {
  /** Small number naming the attribute (same for `cn`, `CN`, `cn;binary`), or -1 past the memo's bound. */
  readonly id: number;
  readonly binary: boolean;
  /** JSON-quoted keys of text and base64 values. */
  readonly textKey: string;
  readonly binaryKey: string;
  /** The text key is an array index, which objects order first. */
  readonly indexLike: boolean;
}

const MAX_NAMES = 1 << 16;
const describedByName = new Map<string, Described>();
const idByIdentity = new Map<string, number>();

export function describe(type: string): Described {
  let d = describedByName.get(type);
  if (d !== undefined) return d;
  const identity = attributeIdentity(type);
  let id = idByIdentity.get(identity) ?? -1;
  if (id < 0 && idByIdentity.size < MAX_NAMES) {
    id = idByIdentity.size;
    idByIdentity.set(identity, id);
  }
  const text = textKey(type);
  d = { id, binary: isBinaryAttribute(type), textKey: jsonString(text), binaryKey: jsonString(binaryKey(type)), indexLike: INDEX_LIKE.test(text) };
  if (describedByName.size < MAX_NAMES) describedByName.set(type, d);
  return d;
}

/**
 * Per entry being written (`rawJson` is synchronous, so module-level state is safe): attribute
 * `id` was met when `seen[id] === stamp`, and is then group `slot[id]`. Groups hold the JSON of
 * their text and base64 values so far; the arrays are reused from entry to entry.
 */
const seen = new Int32Array(MAX_NAMES);
const slot = new Int32Array(MAX_NAMES);
let stamp = 0;
const groupOf: Described[] = [];
const textOf: string[] = [];
const binaryOf: string[] = [];

function nextStamp(): number {
  if (stamp === 0x7fffffff) {
    seen.fill(0);
    stamp = 0;
  }
  return ++stamp;
}

/** Adds a run's values to group `g`: text as JSON strings, the rest (or all, if `allBinary`) base64. */
function addValues(g: number, buffer: Buffer, bounds: readonly number[], allBinary: boolean): void {
  let text = textOf[g] ?? '';
  let binary = binaryOf[g] ?? '';
  for (let i = 0; i < bounds.length; i += 2) {
    const start = bounds[i] ?? 0;
    const end = bounds[i + 1] ?? 0;
    if (!allBinary) {
      const value = buffer.toString('utf8', start, end);
      // toString puts U+FFFD where bytes are not UTF-8; only then is a strict look needed.
      if (value.indexOf('\ufffd') === -1 || isUtf8(buffer.subarray(start, end))) {
        text += (text === '' ? '' : ',') + jsonString(value);
        continue;
      }
    }
    // base64 needs no escaping.
    binary += `${binary === '' ? '"' : ',"'}${buffer.toString('base64', start, end)}"`;
  }
  textOf[g] = text;
  binaryOf[g] = binary;
}

function attributeJson(d: Described, values: string, base64: string): string {
  const text = values === '' ? '' : `${d.textKey}:[${values}]`;
  const binary = base64 === '' ? '' : `${d.binaryKey}:[${base64}]`;
  return text === '' ? binary : binary === '' ? text : `${text},${binary}`;
}

/** `JSON.parse` then `stringify`: what an object makes of keys that are array indices. */
export function objectOrder(json: string): string {
  return JSON.stringify(JSON.parse(json));
}

/**
 * The entry JSON of a raw entry, in one pass over its bytes: each run's values join their
 * attribute's group (found by id), groups are written in order of first appearance.
 */
export function rawJson(raw: RawEntry): string {
  const { buffer, attributes } = raw;
  const entryStamp = nextStamp();
  /** Groups of attributes whose names are past the memo's bound (hostile servers only). */
  let unnamed: Map<string, number> | undefined;
  let groups = 0;
  let indexLike = false;
  for (let k = 0; k < attributes.length; k++) {
    const { type, bounds } = attributes[k] as (typeof attributes)[number];
    if (bounds.length === 0) continue;
    const d = describe(type);
    let g: number;
    if (d.id >= 0 && seen[d.id] === entryStamp) {
      g = slot[d.id] ?? 0;
    } else {
      const identity = d.id >= 0 ? undefined : attributeIdentity(type);
      const known = identity === undefined ? undefined : unnamed?.get(identity);
      if (known !== undefined) {
        g = known;
      } else {
        g = groups++;
        if (identity === undefined) {
          seen[d.id] = entryStamp;
          slot[d.id] = g;
        } else {
          (unnamed ??= new Map()).set(identity, g);
        }
        groupOf[g] = d;
        textOf[g] = '';
        binaryOf[g] = '';
        indexLike ||= d.indexLike;
      }
    }
    // Whether all values are binary is the run's own description (`cn` vs `cn;binary`).
    addValues(g, buffer, bounds, d.binary);
  }
  const dnBinary = raw.dnBinary ? `,"dn;binary":"${buffer.toString('base64', raw.dnStart, raw.dnEnd)}"` : '';
  let out = `{"dn":${jsonString(raw.dn)}${dnBinary},"attributes":{`;
  for (let g = 0; g < groups; g++) {
    out += (g === 0 ? '' : ',') + attributeJson(groupOf[g] as Described, textOf[g] ?? '', binaryOf[g] ?? '');
  }
  out += '}}';
  // Let the values go (the arrays stay for the next entry).
  textOf.length = 0;
  binaryOf.length = 0;
  groupOf.length = 0;
  return indexLike ? objectOrder(out) : out;
}

/** A value list of an ldapts-shaped entry. */
function asList(value: Entry[string] | undefined): Array<string | Buffer> {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The protocol entry of an ldapts entry: from its bytes when it has them (`entry-decoder.ts`). */
export function normaliseEntry(entry: Entry): LdapEntry {
  const raw = rawEntryOf(entry);
  if (raw !== undefined) return JSON.parse(rawJson(raw)) as LdapEntry;
  return buildEntry(
    entry.dn,
    Object.keys(entry)
      .filter((name) => name !== 'dn')
      .map((name) => [name, asList(entry[name])] as const),
  );
}

/** `JSON.stringify(normaliseEntry(entry))`, written straight from the entry's bytes when it has them. */
export function entryJson(entry: Entry): string {
  const raw = rawEntryOf(entry);
  return raw === undefined ? JSON.stringify(normaliseEntry(entry)) : rawJson(raw);
}

/**
 * The entry of a search that asked for `LOSSLESS_ENTRIES`, checked to carry its bytes: an entry
 * without them was decoded by ldapts (the decoder is not installed) and may have lost data, so
 * it is an error rather than a silent change.
 */
export function losslessEntry(entry: Entry): Entry {
  if (rawEntryOf(entry) === undefined) throw new ProtocolError('INTERNAL', 'LDAP entry was not decoded from its bytes (the entry decoder is not installed on this client)');
  return entry;
}

/**
 * The values of one attribute as text, the name matched case-insensitively (root DSE and
 * subschema attribute names come back as the server spells them).
 */
export function valuesOf(entry: Entry | undefined, name: string): string[] {
  if (entry === undefined) return [];
  const raw = rawEntryOf(entry);
  const wanted = name.toLowerCase();
  if (raw !== undefined) {
    const out: string[] = [];
    for (const { type, bounds } of raw.attributes) {
      if (type.toLowerCase() !== wanted) continue;
      for (let i = 0; i < bounds.length; i += 2) out.push(raw.buffer.toString('utf8', bounds[i], bounds[i + 1]));
    }
    return out;
  }
  const key = Object.keys(entry).find((k) => k.toLowerCase() === wanted);
  return key === undefined || key === 'dn' ? [] : asList(entry[key]).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
}
