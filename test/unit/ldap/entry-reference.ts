/**
 * For the entry tests: SearchResultEntry messages from bytes, and the entry JSON the contract
 * (docs/protocol.md, "Entries") says they give — written here from the contract's words, not
 * from the adapter's code, so the two can be compared.
 */
import { isUtf8 } from 'node:buffer';
import { BerWriter } from 'ldapts';

/** One run of an attribute as the server sends it. */
export type Run = readonly [description: Buffer, values: readonly Buffer[]];

export interface Message {
  readonly id: number;
  readonly dn: Buffer;
  readonly attributes: readonly Run[];
}

/** An LDAPMessage holding a SearchResultEntry (RFC 4511 §4.5.2). */
export function encode(m: Message): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeInt(m.id);
  w.startSequence(0x64);
  w.writeBuffer(m.dn, 0x04);
  w.startSequence();
  for (const [type, values] of m.attributes) {
    w.startSequence();
    w.writeBuffer(type, 0x04);
    w.startSequence(0x31);
    for (const v of values) w.writeBuffer(v, 0x04);
    w.endSequence();
    w.endSequence();
  }
  w.endSequence();
  w.endSequence();
  w.endSequence();
  return Buffer.from(w.buffer);
}

/** The binary types the tests use (a subset of the list in docs/ldap.md). */
export const BINARY_TYPES = ['jpegPhoto', 'photo', 'userCertificate', 'cACertificate', 'objectGUID', 'objectSid', 'userPKCS12'];
const binaryType = (type: string): boolean => BINARY_TYPES.some((b) => b.toLowerCase() === type.toLowerCase());

interface Description {
  readonly type: string;
  readonly options: readonly string[];
}

function parse(description: string): Description {
  const [type = '', ...options] = description.split(';');
  return { type, options };
}

const hasBinary = (d: Description): boolean => d.options.some((o) => o.toLowerCase() === 'binary');

/** "Descriptions that differ only in the case of the type or of the options, or in the order of the options, are one attribute" (binary aside: it is the transfer form). */
function sameAttribute(a: Description, b: Description): boolean {
  if (a.type.toLowerCase() !== b.type.toLowerCase()) return false;
  const set = (d: Description): Set<string> => new Set(d.options.map((o) => o.toLowerCase()).filter((o) => o !== 'binary'));
  const x = set(a);
  const y = set(b);
  return x.size === y.size && [...x].every((o) => y.has(o));
}

/** Each byte of every sequence that is not UTF-8 as `\XX`: the shortest valid prefix at each position is one character. */
export function referenceEscape(bytes: Buffer): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    let len = 0;
    for (let n = 1; n <= 4 && i + n <= bytes.length; n++) {
      if (isUtf8(bytes.subarray(i, i + n))) {
        len = n;
        break;
      }
    }
    if (len === 0) {
      out += hexAfter(out, bytes[i] ?? 0);
      i++;
    } else {
      out += bytes.toString('utf8', i, i + len);
      i += len;
    }
  }
  return out;
}

interface Group {
  readonly first: Description;
  readonly firstSpelling: string;
  readonly text: string[];
  readonly binary: string[];
}

/** The entry the contract describes, as a plain object (JSON.stringify gives the expected text). */
export function referenceEntry(dn: Buffer, runs: readonly Run[]): { dn: string; 'dn;binary'?: string; attributes: Record<string, string[]> } {
  const groups: Group[] = [];
  for (const [descBytes, values] of runs) {
    // "Attributes without values are left out": a run without values counts for nothing.
    if (values.length === 0) continue;
    const spelling = descBytes.toString('utf8');
    const d = parse(spelling);
    let g = groups.find((x) => sameAttribute(x.first, d));
    if (g === undefined) {
      g = { first: d, firstSpelling: spelling, text: [], binary: [] };
      groups.push(g);
    }
    const allBinary = binaryType(d.type) || hasBinary(d);
    for (const v of values) {
      if (!allBinary && isUtf8(v)) g.text.push(v.toString('utf8'));
      else g.binary.push(v.toString('base64'));
    }
  }
  const attributes: Array<[string, string[]]> = [];
  for (const g of groups) {
    const plain = [g.first.type, ...g.first.options.filter((o) => o.toLowerCase() !== 'binary')].join(';');
    if (g.text.length > 0) attributes.push([plain, g.text]);
    if (g.binary.length > 0) attributes.push([hasBinary(g.first) ? g.firstSpelling : `${g.firstSpelling};binary`, g.binary]);
  }
  const head = isUtf8(dn) ? { dn: dn.toString('utf8') } : { dn: referenceEscape(dn), 'dn;binary': dn.toString('base64') };
  // An object orders array-index keys first, as JSON.parse of the relay's text would.
  return { ...head, attributes: Object.fromEntries(attributes) };
}

/** RFC 4514: after an unpaired backslash the hex pair alone completes the escape. */
function hexAfter(out: string, byte: number): string {
  const hex = byte.toString(16).toUpperCase().padStart(2, '0');
  const trailing = /\\*$/.exec(out)?.[0].length ?? 0;
  return trailing % 2 === 1 ? hex : `\\${hex}`;
}
