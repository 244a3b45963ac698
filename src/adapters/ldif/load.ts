/**
 * Builds the directory from the configured LDIF files, streaming: each file is read in chunks
 * and parsed as it comes (parse-ldif.ts `LdifParser`), each record is added to the directory as
 * soon as its parent is there, and the work runs in slices of a few milliseconds that give the
 * event loop a turn in between — the agent's connections, keep-alive pongs and other data
 * sources' requests go on while a large file loads, and memory holds the directory plus one
 * chunk, not the file and its parse.
 *
 * Records may come in any order and from any of the files: one whose parent has not been read
 * yet waits for it (usually none do: LDIF tools write parents first). Siblings keep their file
 * order. Every problem is an `LdifError` naming `file:line`, the first found in file order: an
 * entry outside `baseDN`, a duplicate DN (with where the first one is), a value twice in one
 * attribute, an entry without objectClass; a missing parent once every file is read.
 * File-system errors (missing file, permission) are thrown as they are (see errors.ts).
 */
import { isUtf8 } from 'node:buffer';
import { open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AlreadyExistsError, ResultCodeError, TypeOrValueExistsError } from 'ldapts';
import { isBinaryAttribute } from '../directory/entry.js';
import { Directory, dnId, mergeAttributes, type AttributeInput, type DirNode } from './directory.js';
import { isWithin, parseDn, type Rdn } from '../directory/dn.js';
import { nameOf } from './names.js';
import { LdifError, LdifParser, type LdifRecord, type LdifValue } from './parse-ldif.js';
import { attributeKey, storedValue, valueIdentity, type Value } from './values.js';

/** Bytes read from a file at a time. */
const CHUNK_BYTES = 256 * 1024;
/** Work between two turns of the event loop. */
const SLICE_MS = 5;

/** How far a load has come (reported after every slice). */
export interface LoadProgress {
  readonly file: string;
  /** Entries in the directory so far. */
  readonly entries: number;
  /** Bytes of `file` read so far. */
  readonly bytes: number;
}

export interface LoadOptions {
  readonly onProgress?: (progress: LoadProgress) => void;
}

/** A record read before its parent. */
interface Waiting {
  readonly file: string;
  readonly record: LdifRecord;
  readonly attributes: AttributeInput[];
  /** Position in the files (for the error about the first one left waiting). */
  readonly order: number;
}

/** RFC 2849 `attr:< file:///…`: the file's bytes are the value (text if UTF-8 and not a binary type). */
async function readUrlValue(name: string, url: string, file: string, line: number): Promise<Value> {
  let bytes: Buffer;
  try {
    bytes = await readFile(fileURLToPath(url));
  } catch (err) {
    throw new LdifError(file, line, `${name}: cannot read ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // Buffer#toString, not TextDecoder: a U+FEFF at the start of the file's bytes is data.
  return isBinaryAttribute(name) || !isUtf8(bytes) ? bytes : bytes.toString('utf8');
}

const isInline = (v: LdifValue): v is Value => typeof v === 'string' || Buffer.isBuffer(v);

/**
 * The record's attributes, one per attribute (`cn`, `CN` and `cn;binary` lines are one), where
 * the first line of each stands, values in file order. Synchronous unless a value is a URL.
 */
function attributesOf(record: LdifRecord, file: string): AttributeInput[] | Promise<AttributeInput[]> {
  if (record.attributes.every((a) => isInline(a.value))) return mergeAttributes(record.attributes.map((a) => ({ name: a.name, values: [a.value as Value] })));
  return (async () => {
    const lines: AttributeInput[] = [];
    for (const a of record.attributes) lines.push({ name: a.name, values: [isInline(a.value) ? a.value : await readUrlValue(a.name, a.value.url, file, a.line)] });
    return mergeAttributes(lines);
  })();
}

/** The line of a value repeated in a record (for the error of an add that found one). */
function repeatedValueLine(record: LdifRecord): number {
  const seen = new Set<string>();
  for (const a of record.attributes) {
    if (!isInline(a.value)) continue;
    const id = `${attributeKey(a.name)} ${valueIdentity(a.name, storedValue(a.name, a.value))}`;
    if (seen.has(id)) return a.line;
    seen.add(id);
  }
  return record.line;
}

const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Adds records to a directory in file order, holding those whose parent is not there yet. */
class Builder {
  readonly directory: Directory;
  private readonly baseRdns: Rdn[];
  /** Where each entry came from (`file index * 2^32 + line`), for the duplicate error; dropped after the load. */
  private readonly origin = new Map<DirNode, number>();
  private readonly files: string[] = [];
  /** Records waiting for their parent, by the parent's identity. */
  private readonly waiting = new Map<string, Waiting[]>();
  private order = 0;

  constructor(readonly baseDN: string) {
    this.directory = new Directory(baseDN);
    this.baseRdns = parseDn(nameOf(baseDN).dn);
  }

  async record(file: string, record: LdifRecord): Promise<void> {
    const { rdns } = record;
    if (!isWithin(rdns, this.baseRdns)) {
      throw new LdifError(file, record.line, `entry ${JSON.stringify(record.dn)} is outside the data source's baseDN ${JSON.stringify(this.baseDN)}`);
    }
    const found = attributesOf(record, file);
    const attributes = Array.isArray(found) ? found : await found;
    const order = this.order++;
    const isBase = rdns.length === this.baseRdns.length;
    if (!isBase && this.directory.lookup(rdns.slice(1)) === undefined) {
      const parent = dnId(rdns.slice(1));
      const list = this.waiting.get(parent) ?? [];
      list.push({ file, record, attributes, order });
      this.waiting.set(parent, list);
      return;
    }
    this.add({ file, record, attributes, order });
  }

  private add(first: Waiting): void {
    const queue = [first];
    for (let w = queue.shift(); w !== undefined; w = queue.shift()) {
      const { file, record } = w;
      let node: DirNode;
      try {
        node = this.directory.add(record.dnBytes ?? record.dn, record.rdns, w.attributes);
      } catch (err) {
        throw this.refusal(err, file, record);
      }
      let index = this.files.indexOf(file);
      if (index === -1) index = this.files.push(file) - 1;
      this.origin.set(node, index * 2 ** 32 + record.line);
      if (this.waiting.size > 0) {
        const id = dnId(record.rdns);
        const children = this.waiting.get(id);
        if (children !== undefined) {
          this.waiting.delete(id);
          queue.push(...children);
        }
      }
    }
  }

  private refusal(err: unknown, file: string, record: LdifRecord): unknown {
    if (!(err instanceof ResultCodeError)) return err;
    if (err instanceof AlreadyExistsError) {
      const origin = this.origin.get(this.directory.lookup(record.rdns) as DirNode);
      const where = origin === undefined ? '' : ` (first at ${this.files[Math.floor(origin / 2 ** 32)]}:${origin % 2 ** 32})`;
      return new LdifError(file, record.line, `duplicate entry ${JSON.stringify(record.dn)}${where}`, { cause: err });
    }
    const line = err instanceof TypeOrValueExistsError ? repeatedValueLine(record) : record.line;
    return new LdifError(file, line, err.message.replace(/\s*Code: 0x[0-9a-f]+$/i, ''), { cause: err });
  }

  /** Every file read: a record still waiting has no parent (the shallowest first, then file order). */
  finish(): Directory {
    const left = [...this.waiting.values()].flat().sort((a, b) => a.record.rdns.length - b.record.rdns.length || a.order - b.order);
    const first = left[0];
    // Its add fails with noSuchObject and the message of a missing parent.
    if (first !== undefined) this.add(first);
    this.origin.clear();
    return this.directory;
  }
}

/** Reads and parses every file and builds the directory, in slices (see the module comment). */
export async function loadDirectory(files: readonly string[], baseDN: string, options: LoadOptions = {}): Promise<Directory> {
  const builder = new Builder(baseDN);
  let since = performance.now();
  for (const file of files) {
    const parser = new LdifParser(file);
    const handle = await open(file, 'r');
    let bytes = 0;
    try {
      for (;;) {
        // A fresh buffer per read: records in progress refer to the bytes of the last chunk.
        const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
        const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, null);
        bytes += bytesRead;
        const records = bytesRead === 0 ? parser.end() : parser.push(chunk.subarray(0, bytesRead));
        for (const record of records) {
          await builder.record(file, record);
          if (performance.now() - since >= SLICE_MS) {
            options.onProgress?.({ file, entries: builder.directory.size, bytes });
            await turn();
            since = performance.now();
          }
        }
        if (bytesRead === 0) break;
      }
    } finally {
      await handle.close();
    }
  }
  return builder.finish();
}
