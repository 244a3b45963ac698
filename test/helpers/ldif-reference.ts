/**
 * The fidelity oracle: what `ldapsearch -LLL -o ldif-wrap=no` says a directory holds, as raw
 * bytes, and what the entry contract (docs/protocol.md, "Entries (directory data, byte for
 * byte)") makes of it — written from the contract, not from the relay's code, so the relay's
 * output can be compared with it byte for byte.
 *
 * ldapsearch prints a SearchResultEntry as it arrived: the DN and every attribute description
 * as the server sent them, each value on a line of its own in server order (one line per value,
 * so an attribute sent in several runs appears several times), base64 (`::`, RFC 2849) whenever a
 * value is not a SAFE-STRING.
 */
import { isUtf8 } from 'node:buffer';

export interface RawValue {
  readonly description: string;
  readonly value: Buffer;
}

export interface RawEntry {
  readonly dn: Buffer;
  /** Every value with its attribute description, in the order received. */
  readonly values: readonly RawValue[];
}

/** Parses `ldapsearch -LLL -o ldif-wrap=no` output (no comments, no line folding). */
export function parseLdapsearch(out: Buffer): RawEntry[] {
  const entries: RawEntry[] = [];
  let dn: Buffer | undefined;
  let values: RawValue[] = [];
  const flush = () => {
    if (dn !== undefined) entries.push({ dn, values });
    dn = undefined;
    values = [];
  };
  let start = 0;
  while (start <= out.length) {
    let end = out.indexOf(0x0a, start);
    if (end === -1) end = out.length;
    const line = out.subarray(start, end);
    start = end + 1;
    if (line.length === 0) {
      flush();
      continue;
    }
    const colon = line.indexOf(0x3a);
    if (colon <= 0) throw new Error(`ldapsearch output: no attribute description in line ${JSON.stringify(line.toString('latin1'))}`);
    const description = line.subarray(0, colon).toString('latin1');
    let rest = line.subarray(colon + 1);
    const base64 = rest[0] === 0x3a;
    if (base64) rest = rest.subarray(1);
    if (rest[0] === 0x3c) throw new Error(`ldapsearch output: URL values (:<) are not expected (${description})`);
    let k = 0;
    // A SAFE-STRING never starts with a space (RFC 2849), so every leading space is FILL.
    while (rest[k] === 0x20) k++;
    const value = base64 ? Buffer.from(rest.subarray(k).toString('latin1'), 'base64') : Buffer.from(rest.subarray(k));
    if (description.toLowerCase() === 'dn') {
      flush();
      dn = value;
    } else {
      if (dn === undefined) throw new Error(`ldapsearch output: ${description} before any dn`);
      values.push({ description, value });
    }
  }
  flush();
  return entries;
}

/** The contract's binary attribute types (docs/ldap.md; lower case). */
export const BINARY_TYPES: ReadonlySet<string> = new Set(
  [
    'jpegPhoto', 'photo', 'audio', 'thumbnailPhoto', 'thumbnailLogo', 'userCertificate', 'cACertificate', 'authorityRevocationList',
    'certificateRevocationList', 'deltaRevocationList', 'crossCertificatePair', 'userSMIMECertificate', 'userPKCS12', 'supportedAlgorithms',
    'objectGUID', 'objectSid', 'sIDHistory', 'tokenGroups', 'msExchMailboxGuid', 'mS-DS-ConsistencyGuid', 'msDS-GenerationId', 'javaSerializedData',
  ].map((a) => a.toLowerCase()),
);

/** Length of the UTF-8 character starting at `i` (RFC 3629 §4, checked by Node's strict `isUtf8`), 0 if none starts there. */
export function utf8CharLength(bytes: Uint8Array, i: number): number {
  const c = bytes[i]!;
  const len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  return len > 0 && i + len <= bytes.length && isUtf8(bytes.subarray(i, i + len)) ? len : 0;
}

/** The contract's `dn` for DN bytes: the text, each byte outside a valid UTF-8 character as `\XX`. */
export function dnText(dn: Buffer): string {
  if (isUtf8(dn)) return dn.toString('utf8');
  let out = '';
  for (let i = 0; i < dn.length; ) {
    const len = utf8CharLength(dn, i);
    if (len === 0) out += hexAfter(out, dn[i]!);
    else out += dn.subarray(i, i + len).toString('utf8');
    i += len || 1;
  }
  return out;
}

/** `cn;Lang-DE;x-a` → `cn;lang-de;x-a`: one attribute whatever the case and option order. */
export function attributeIdentity(description: string): string {
  const [type = '', ...options] = description.toLowerCase().split(';');
  return [type, ...options.sort()].join(';');
}

const hasBinaryOption = (description: string) => description.toLowerCase().split(';').slice(1).includes('binary');

export interface ExpectedKey {
  readonly key: string;
  /** Values as base64 (`;binary`) or as JSON strings. */
  readonly binary: boolean;
  readonly values: Buffer[];
  /** Index of its attribute in the order the server first sent the attributes. */
  readonly attribute: number;
}

export interface ExpectedEntry {
  readonly dn: string;
  readonly dnBinary: Buffer | undefined;
  /** Keys in the order their first value arrived. */
  readonly keys: readonly ExpectedKey[];
}

/** What the contract says the relay sends for `entry`. */
export function expectedEntry(entry: RawEntry): ExpectedEntry {
  const keys = new Map<string, ExpectedKey>();
  const attributes = new Map<string, { index: number; first: string }>();
  for (const { description, value } of entry.values) {
    const identity = attributeIdentity(description);
    let attr = attributes.get(identity);
    if (!attr) attributes.set(identity, (attr = { index: attributes.size, first: description }));
    const binaryType = BINARY_TYPES.has(identity.split(';')[0]!) || hasBinaryOption(description);
    const binary = binaryType || !isUtf8(value);
    const key = binary && !hasBinaryOption(attr.first) ? `${attr.first};binary` : attr.first;
    let k = keys.get(key);
    if (!k) keys.set(key, (k = { key, binary, values: [], attribute: attr.index }));
    k.values.push(value);
  }
  return { dn: dnText(entry.dn), dnBinary: isUtf8(entry.dn) ? undefined : entry.dn, keys: [...keys.values()] };
}

/** The expected entry as the JSON object the relay should send. */
export function expectedJson(entry: RawEntry): Record<string, unknown> {
  const e = expectedEntry(entry);
  const attributes = Object.fromEntries(e.keys.map((k) => [k.key, k.values.map((v) => (k.binary ? v.toString('base64') : v.toString('utf8')))]));
  return { dn: e.dn, ...(e.dnBinary ? { 'dn;binary': e.dnBinary.toString('base64') } : {}), attributes };
}

/** A printable label for an entry in reports. */
export const dnLabel = (dn: Buffer): string => JSON.stringify(dnText(dn));

/** Where two byte strings differ, with hex around the first difference. */
export function byteDiff(expected: Buffer, actual: Buffer): string {
  let d = 0;
  while (d < expected.length && d < actual.length && expected[d] === actual[d]) d++;
  const from = Math.max(0, d - 8);
  const hex = (x: Buffer) => `${from > 0 ? '…' : ''}${x.subarray(from, d + 24).toString('hex')}${x.length > d + 24 ? '…' : ''}`;
  return `first difference at byte ${d}: expected (${expected.length} bytes) ${hex(expected)}, got (${actual.length} bytes) ${hex(actual)}`;
}

function decodeBase64(s: unknown): Buffer | undefined {
  if (typeof s !== 'string') return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

/** Statistics of what a comparison looked at. */
export interface Compared {
  entries: number;
  values: number;
  bytes: number;
}

/** Differences between one entry the relay sent and what the contract says for `entry`. */
export function compareEntry(actual: unknown, entry: RawEntry, stats?: Compared): string[] {
  const label = dnLabel(entry.dn);
  const diffs: string[] = [];
  const e = expectedEntry(entry);
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return [`${label}: not an object: ${JSON.stringify(actual)}`];
  const a = actual as Record<string, unknown>;
  const extraTop = Object.keys(a).filter((k) => !['dn', 'dn;binary', 'attributes'].includes(k));
  if (extraTop.length > 0) diffs.push(`${label}: unexpected keys ${JSON.stringify(extraTop)}`);
  if (typeof a['dn'] !== 'string') diffs.push(`${label}: dn is ${JSON.stringify(a['dn'])}`);
  else if (a['dn'] !== e.dn) diffs.push(`${label}: dn ${byteDiff(Buffer.from(e.dn, 'utf8'), Buffer.from(a['dn'], 'utf8'))}`);
  if (e.dnBinary === undefined) {
    if ('dn;binary' in a) diffs.push(`${label}: dn;binary present for a UTF-8 DN`);
  } else {
    const got = decodeBase64(a['dn;binary']);
    if (!got) diffs.push(`${label}: dn;binary missing or not canonical base64: ${JSON.stringify(a['dn;binary'])}`);
    else if (!got.equals(e.dnBinary)) diffs.push(`${label}: dn;binary ${byteDiff(e.dnBinary, got)}`);
  }
  const attrs = a['attributes'];
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) return [...diffs, `${label}: attributes is ${JSON.stringify(attrs)}`];
  const got = attrs as Record<string, unknown>;
  for (const k of e.keys) {
    const values = got[k.key];
    if (!Object.hasOwn(got, k.key) || !Array.isArray(values)) {
      diffs.push(`${label}: ${JSON.stringify(k.key)} missing (expected ${k.values.length} values, got keys ${JSON.stringify(Object.keys(got))})`);
      continue;
    }
    if (values.length !== k.values.length) diffs.push(`${label}: ${JSON.stringify(k.key)} has ${values.length} values, expected ${k.values.length}`);
    k.values.forEach((want, i) => {
      if (i >= values.length) return;
      const v: unknown = values[i];
      const have = k.binary ? decodeBase64(v) : typeof v === 'string' ? Buffer.from(v, 'utf8') : undefined;
      if (!have) diffs.push(`${label}: ${JSON.stringify(k.key)}[${i}] is ${k.binary ? 'not canonical base64' : 'not a string'}: ${JSON.stringify(v).slice(0, 80)}`);
      else if (!have.equals(want)) diffs.push(`${label}: ${JSON.stringify(k.key)}[${i}] ${byteDiff(want, have)}`);
      if (stats) {
        stats.values += 1;
        stats.bytes += want.length;
      }
    });
  }
  const known = new Map(e.keys.map((k) => [k.key, k.attribute]));
  const extra = Object.keys(got).filter((k) => !known.has(k));
  for (const k of extra) diffs.push(`${label}: unexpected key ${JSON.stringify(k)} with ${JSON.stringify(got[k]).slice(0, 120)}`);
  // Keys come in the order the server first sent each attribute.
  const order = [...new Set(Object.keys(got).flatMap((k) => (known.has(k) ? [known.get(k)!] : [])))];
  const sorted = [...order].sort((x, y) => x - y);
  if (order.join() !== sorted.join()) diffs.push(`${label}: attributes out of server order: ${JSON.stringify(Object.keys(got))}`);
  if (stats) {
    stats.entries += 1;
    stats.bytes += entry.dn.length;
  }
  return diffs;
}

/** The DN bytes an entry of the relay names (`dn;binary` wins, as for requests). */
export function relayDnBytes(entry: unknown): Buffer | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  const binary = decodeBase64(e['dn;binary']);
  return binary ?? (typeof e['dn'] === 'string' ? Buffer.from(e['dn'], 'utf8') : undefined);
}

/** Compares a whole result (any order of entries) with the reference: missing, extra, duplicate and differing entries. */
export function compareResults(actual: readonly unknown[], reference: readonly RawEntry[]): { differences: string[]; compared: Compared } {
  const compared: Compared = { entries: 0, values: 0, bytes: 0 };
  const differences: string[] = [];
  const byDn = new Map<string, unknown>();
  for (const a of actual) {
    const dn = relayDnBytes(a);
    if (!dn) differences.push(`an entry without a DN: ${JSON.stringify(a).slice(0, 200)}`);
    else if (byDn.has(dn.toString('hex'))) differences.push(`${dnLabel(dn)}: sent twice`);
    else byDn.set(dn.toString('hex'), a);
  }
  for (const r of reference) {
    const key = r.dn.toString('hex');
    if (!byDn.has(key)) differences.push(`${dnLabel(r.dn)}: missing from the relay's output`);
    else differences.push(...compareEntry(byDn.get(key), r, compared));
    byDn.delete(key);
  }
  for (const [hex, a] of byDn) differences.push(`${dnLabel(Buffer.from(hex, 'hex'))}: not in the reference (${JSON.stringify(a).slice(0, 200)})`);
  return { differences, compared };
}

/** RDNs in a DN (unescaped commas + 1; RFC 4514 §3): parents sort before children. */
export function dnDepth(dn: Buffer): number {
  let depth = 1;
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === 0x5c) i++;
    else if (dn[i] === 0x2c) depth++;
  }
  return depth;
}

/**
 * Two directories (ldapsearch of both) compared the way a re-add can preserve them: the same
 * entries, each attribute (runs merged) with the same values byte for byte. `reordered` lists
 * attributes whose values are equal as multisets but not in the same order.
 */
export function compareDirectories(source: readonly RawEntry[], target: readonly RawEntry[]): { differences: string[]; reordered: string[]; compared: Compared } {
  const compared: Compared = { entries: 0, values: 0, bytes: 0 };
  const differences: string[] = [];
  const reordered: string[] = [];
  const grouped = (e: RawEntry) => {
    const m = new Map<string, Buffer[]>();
    for (const v of e.values) {
      const id = attributeIdentity(v.description);
      const list = m.get(id);
      if (list) list.push(v.value);
      else m.set(id, [v.value]);
    }
    return m;
  };
  const targets = new Map(target.map((e) => [e.dn.toString('hex'), e]));
  for (const s of source) {
    const label = dnLabel(s.dn);
    const t = targets.get(s.dn.toString('hex'));
    targets.delete(s.dn.toString('hex'));
    if (!t) {
      differences.push(`${label}: missing from the target`);
      continue;
    }
    compared.entries += 1;
    compared.bytes += s.dn.length;
    const [sa, ta] = [grouped(s), grouped(t)];
    for (const [id, values] of sa) {
      const other = ta.get(id) ?? [];
      ta.delete(id);
      compared.values += values.length;
      compared.bytes += values.reduce((n, v) => n + v.length, 0);
      const hex = (vs: Buffer[]) => vs.map((v) => v.toString('hex'));
      if (hex(values).join() === hex(other).join()) continue;
      const [x, y] = [hex(values).sort(), hex(other).sort()];
      if (x.join() === y.join()) reordered.push(`${label}: ${id}`);
      else {
        const missing = x.filter((v) => !y.includes(v)).length;
        const added = y.filter((v) => !x.includes(v)).length;
        differences.push(`${label}: ${id} has ${other.length} values in the target, ${values.length} in the source (${missing} missing, ${added} not in the source; first missing ${x.find((v) => !y.includes(v))?.slice(0, 64) ?? '-'})`);
      }
    }
    for (const [id, values] of ta) differences.push(`${label}: ${id} only in the target (${values.length} values)`);
  }
  for (const t of targets.values()) differences.push(`${dnLabel(t.dn)}: only in the target`);
  return { differences, reordered, compared };
}

/** RFC 4514: after an unpaired backslash the hex pair alone completes the escape. */
function hexAfter(out: string, byte: number): string {
  const hex = byte.toString(16).toUpperCase().padStart(2, '0');
  const trailing = /\\*$/.exec(out)?.[0].length ?? 0;
  return trailing % 2 === 1 ? hex : `\\${hex}`;
}
