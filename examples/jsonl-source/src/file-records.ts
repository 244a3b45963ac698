/**
 * Reading the file as records, streamed: one line at a time through `readline` on a file
 * stream, so memory holds one line however big the file. Every operation reads this way; a
 * consumer that stops (a search closed by a cancel, a `get` that found its record) ends the
 * generator, and its `finally` closes the file.
 *
 * Each line is one JSON object; blank lines are skipped. A line that is not a JSON object, or
 * whose key attribute is missing or not a string or number, ends the read with UPSTREAM_ERROR
 * naming the line — a broken file is reported, never half-served as if it were complete.
 */
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { ProtocolErrorContext } from 'datasync-agent/adapter-kit';
import { badLine, toProtocolError } from './errors.js';

/** One record of the file: its line number, its key (as a string) and the object itself. */
export interface FileRecord {
  readonly line: number;
  readonly key: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

let linesRead = 0;

/**
 * Lines read from JSON-lines files by this module so far (all its data sources): the source's
 * count of upstream reads, which shows a stopped stream stop reading.
 */
export function linesReadSoFar(): number {
  return linesRead;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The key of a record: its key attribute's value as a string. */
export function keyOf(attributes: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = attributes[key];
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) ? String(value) : undefined;
}

/** Parses one non-blank line; throws UPSTREAM_ERROR naming the line. */
export function parseLine(file: string, line: number, text: string, key: string, context: ProtocolErrorContext = {}): FileRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badLine(file, line, `not JSON (${err instanceof Error ? err.message : String(err)})`, context);
  }
  if (!isObject(value)) throw badLine(file, line, 'not a JSON object', context);
  const k = keyOf(value, key);
  if (k === undefined) throw badLine(file, line, `no '${key}' (a string or a number) naming the record`, context);
  return { line, key: k, attributes: value };
}

/**
 * The lines of `file` as they are (without their line break), with their numbers. Throws the
 * file's errors coded (missing: UPSTREAM_UNAVAILABLE; not permitted: UPSTREAM_AUTH_FAILED).
 */
export async function* readLines(file: string, context: ProtocolErrorContext = {}): AsyncGenerator<{ readonly line: number; readonly text: string }> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw toProtocolError(err, context);
  }
  const stream = handle.createReadStream({ encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line += 1;
      linesRead += 1;
      yield { line, text };
    }
  } catch (err) {
    throw toProtocolError(err, context);
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** The records of `file`, in file order. */
export async function* readRecords(file: string, key: string, context: ProtocolErrorContext = {}): AsyncGenerator<FileRecord> {
  for await (const { line, text } of readLines(file, context)) {
    if (text.trim() === '') continue;
    yield parseLine(file, line, text, key, context);
  }
}
