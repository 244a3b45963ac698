/**
 * Writing one record: the file is rewritten into a temporary file next to it, synced, and
 * renamed over the original. The rename is atomic, so a reader (a search streaming the file
 * meanwhile) sees the old file or the new one, never half of one, and a crash leaves the old
 * file whole. Every other line is copied byte for byte. Writes to one file are serialised.
 *
 * The simplest correct choice: each record costs one pass over the file, which suits files of
 * thousands of records. An append-only journal would write less, but every read would have to
 * replay it.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ProtocolError, type ProtocolErrorContext } from 'datasync-agent/adapter-kit';
import { toProtocolError } from './errors.js';
import { parseLine, readLines } from './file-records.js';

/** What a change does to the record with the key: its new attributes, or `undefined` to delete it. */
export type Change = (current: Readonly<Record<string, unknown>> | undefined) => Readonly<Record<string, unknown>> | undefined;

export type Outcome = 'added' | 'updated' | 'deleted' | 'unchanged';

const queues = new Map<string, Promise<unknown>>();

/** Runs `task` after every earlier task on `file` has finished. */
function serialised<T>(file: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const run = previous.then(task, task);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return run;
}

/** Applies `change` to the record named `key` (attribute `keyAttribute`) in `file`. */
export function rewriteRecord(file: string, keyAttribute: string, key: string, change: Change, context: ProtocolErrorContext = {}): Promise<Outcome> {
  return serialised(file, () => rewrite(file, keyAttribute, key, change, context));
}

async function rewrite(file: string, keyAttribute: string, key: string, change: Change, context: ProtocolErrorContext): Promise<Outcome> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let out: FileHandle | undefined;
  try {
    const { mode } = await stat(file);
    const target = await open(temp, 'wx');
    out = target;
    // Written in chunks of lines: one write call per ~64 KiB, not one per line.
    let chunk = '';
    const flush = async (): Promise<void> => {
      if (chunk !== '') await target.write(chunk);
      chunk = '';
    };
    let outcome: Outcome | undefined;
    for await (const { line, text } of readLines(file, context)) {
      if (outcome === undefined && text.trim() !== '') {
        const record = parseLine(file, line, text, keyAttribute, context);
        if (record.key === key) {
          const next = change(record.attributes);
          outcome = next === undefined ? 'deleted' : JSON.stringify(next) === JSON.stringify(record.attributes) ? 'unchanged' : 'updated';
          if (next !== undefined) chunk += `${JSON.stringify(next)}\n`;
          continue;
        }
      }
      chunk += `${text}\n`;
      if (chunk.length >= 65_536) await flush();
    }
    if (outcome === undefined) {
      const created = change(undefined);
      if (created === undefined) throw new ProtocolError('NOT_FOUND', `no record with ${keyAttribute} ${JSON.stringify(key)}`, context);
      chunk += `${JSON.stringify(created)}\n`;
      outcome = 'added';
    }
    await flush();
    // The new file keeps the old one's permissions, and is on disk before it replaces it.
    await target.chmod(mode);
    await target.sync();
    out = undefined;
    await target.close();
    await rename(temp, file);
    return outcome;
  } catch (err) {
    throw toProtocolError(err, context);
  } finally {
    await out?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
  }
}
