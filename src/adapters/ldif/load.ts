/**
 * Builds the directory from the configured LDIF files. Records may come in any order and from
 * any of the files: they are added parents first (by DN depth, file order otherwise). Every
 * problem is an `LdifError` naming `file:line`: an entry outside `baseDN`, a duplicate DN, a
 * missing parent, a value twice in one attribute, an entry without objectClass.
 * Loading gives the event loop a turn every few milliseconds: a large file must not stall the
 * agent's connections (keep-alive pongs) while it is read.
 * File-system errors (missing file, permission) are thrown as they are (see errors.ts).
 */
import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ResultCodeError, TypeOrValueExistsError } from 'ldapts';
import { isBinaryAttribute } from '../ldap/entry.js';
import { Directory, dnId, mergeAttributes, type AttributeInput } from './directory.js';
import { isWithin, parseDn, type Rdn } from '../ldap/dn.js';
import { nameOf } from './names.js';
import { LdifError, ldifRecords, type LdifRecord, type LdifValue } from './parse-ldif.js';
import { attributeKey, storedValue, valueIdentity, type Value } from './values.js';

interface Pending {
  readonly file: string;
  readonly record: LdifRecord;
  readonly rdns: Rdn[];
  readonly attributes: AttributeInput[];
}

/** RFC 2849 `attr:< file:///…`: the file's bytes are the value (text if UTF-8 and not a binary type). */
async function resolveValue(name: string, value: LdifValue, file: string, line: number): Promise<Value> {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  let bytes: Buffer;
  try {
    bytes = await readFile(fileURLToPath(value.url));
  } catch (err) {
    throw new LdifError(file, line, `${name}: cannot read ${value.url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // Buffer#toString, not TextDecoder: a U+FEFF at the start of the file's bytes is data.
  return isBinaryAttribute(name) || !isUtf8(bytes) ? bytes : bytes.toString('utf8');
}

/**
 * The record's attributes, one per attribute (`cn`, `CN` and `cn;binary` lines are one), where
 * the first line of each stands, values in file order.
 */
async function attributesOf(record: LdifRecord, file: string): Promise<AttributeInput[]> {
  const lines: AttributeInput[] = [];
  for (const a of record.attributes) lines.push({ name: a.name, values: [await resolveValue(a.name, a.value, file, a.line)] });
  return mergeAttributes(lines);
}

/** The line of a value repeated in a record (for the error of an add that found one). */
function repeatedValueLine(record: LdifRecord): number {
  const seen = new Set<string>();
  for (const a of record.attributes) {
    if (typeof a.value !== 'string' && !Buffer.isBuffer(a.value)) continue;
    const id = `${attributeKey(a.name)} ${valueIdentity(a.name, storedValue(a.name, a.value))}`;
    if (seen.has(id)) return a.line;
    seen.add(id);
  }
  return record.line;
}

/** Gives the event loop a turn after every ~10 ms of work. */
function pacer(): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < 10) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}

/** Reads and parses every file, then builds the directory. */
export async function loadDirectory(files: readonly string[], baseDN: string): Promise<Directory> {
  const baseRdns = parseDn(nameOf(baseDN).dn);
  const pending: Pending[] = [];
  const seen = new Map<string, string>();
  const pace = pacer();
  for (const file of files) {
    const content = await readFile(file);
    for (const record of ldifRecords(content, file)) {
      const { rdns } = record;
      if (!isWithin(rdns, baseRdns)) {
        throw new LdifError(file, record.line, `entry ${JSON.stringify(record.dn)} is outside the data source's baseDN ${JSON.stringify(baseDN)}`);
      }
      const id = dnId(rdns);
      const first = seen.get(id);
      if (first !== undefined) throw new LdifError(file, record.line, `duplicate entry ${JSON.stringify(record.dn)} (first at ${first})`);
      seen.set(id, `${file}:${record.line}`);
      pending.push({ file, record, rdns, attributes: await attributesOf(record, file) });
      await pace();
    }
  }
  // Stable: parents (shorter DNs) first, file order among equals.
  pending.sort((a, b) => a.rdns.length - b.rdns.length);
  const directory = new Directory(baseDN);
  for (const p of pending) {
    try {
      directory.add(p.record.dnBytes ?? p.record.dn, p.rdns, p.attributes);
    } catch (err) {
      if (!(err instanceof ResultCodeError)) throw err;
      const line = err instanceof TypeOrValueExistsError ? repeatedValueLine(p.record) : p.record.line;
      throw new LdifError(p.file, line, err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, ''), { cause: err });
    }
    await pace();
  }
  return directory;
}
