/**
 * A ListResponse's resources as one `JsonBatch` taken from the response body's bytes, so a
 * SCIM search sends each resource's JSON as the provider wrote it instead of re-serialising
 * the parsed object (`JSON.stringify` per resource). The body was already parsed and decoded
 * (`ListResponse`: `totalResults`, cursors, and every `Resources` element an object); this
 * module only finds where those elements are in the bytes.
 *
 * The elements are those of the last top-level `Resources` member (the one `JSON.parse`
 * keeps), found by the validating scanner (src/protocol/json-scan.ts). Compact elements
 * separated by single commas — what `JSON.stringify`-like writers send — are used in place
 * (the batch is a view of the body, no copy); otherwise each element is copied without its
 * insignificant whitespace. Either way a caller that `JSON.parse`s an item gets the value the
 * parsed body held (duplicate keys, number spellings and escapes pass through as sent; see
 * docs/scim.md).
 *
 * When the bytes cannot be used as they are, the resources are serialised from the parsed body
 * as before (`resourcesFromValues`): a body that is not valid UTF-8 (decoding it replaced bad
 * sequences with U+FFFD; the bytes would carry them raw), nesting deeper than the scanner
 * follows, or a scan that does not agree with the parsed body.
 */
import { isUtf8 } from 'node:buffer';
import { compactJson, JsonScanner } from '../../protocol/json-scan.js';
import { JsonBatch } from '../../adapter-kit/json-batch.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

const RESOURCES_KEY = '"Resources"';

/** Where the elements of the `Resources` array are in the body. */
interface ElementSpans {
  /** Element `k` is `body[starts[k], ends[k])`. */
  readonly starts: number[];
  readonly ends: number[];
  /** Some element holds insignificant whitespace. */
  readonly spaced: boolean[];
}

const scanner = new JsonScanner();

/** Is the key `b[s, e)` (quotes included) `Resources`, however it is escaped? */
function isResourcesKey(b: Buffer, s: number, e: number): boolean {
  for (let k = s + 1; k < e - 1; k++) if (b[k] === BACKSLASH) return JSON.parse(b.toString('utf8', s, e)) === 'Resources';
  return e - s === RESOURCES_KEY.length && b.toString('latin1', s, e) === RESOURCES_KEY;
}

/** The elements of `[`…`]` starting at `i`; `undefined` when the scanner does not take them. */
function arrayElements(b: Buffer, i: number, scan: JsonScanner): { spans: ElementSpans; end: number } | undefined {
  const spans: ElementSpans = { starts: [], ends: [], spaced: [] };
  i = scan.skipSpace(b, i + 1);
  if (b[i] === CLOSE_ARRAY) return { spans, end: i + 1 };
  for (;;) {
    scan.spaced = false;
    const s = i;
    i = scan.value(b, i, 2);
    if (i < 0) return undefined;
    spans.starts.push(s);
    spans.ends.push(i);
    spans.spaced.push(scan.spaced);
    i = scan.skipSpace(b, i);
    if (b[i] === COMMA) {
      i = scan.skipSpace(b, i + 1);
      continue;
    }
    return b[i] === CLOSE_ARRAY ? { spans, end: i + 1 } : undefined;
  }
}

/**
 * The element spans of the body's last top-level `Resources` array, `undefined` when there is
 * none or the scanner does not take the body (too deep, or not one JSON object).
 */
export function resourceSpans(b: Buffer): ElementSpans | undefined {
  const scan = scanner;
  let i = scan.skipSpace(b, 0);
  if (b[i] !== OPEN_OBJECT) return undefined;
  i = scan.skipSpace(b, i + 1);
  if (b[i] === CLOSE_OBJECT) return undefined;
  let found: ElementSpans | undefined;
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const ks = i;
    i = scan.string(b, i);
    if (i < 0) return undefined;
    const isResources = isResourcesKey(b, ks, i);
    i = scan.skipSpace(b, i);
    if (b[i] !== COLON) return undefined;
    i = scan.skipSpace(b, i + 1);
    if (isResources && b[i] === OPEN_ARRAY) {
      const r = arrayElements(b, i, scan);
      if (r === undefined) return undefined;
      found = r.spans;
      i = r.end;
    } else {
      if (isResources) found = undefined; // a later `Resources` that is not an array wins
      i = scan.value(b, i, 1);
      if (i < 0) return undefined;
    }
    i = scan.skipSpace(b, i);
    if (b[i] === COMMA) {
      i = scan.skipSpace(b, i + 1);
      continue;
    }
    if (b[i] !== CLOSE_OBJECT) return undefined;
    return scan.skipSpace(b, i + 1) === b.length ? found : undefined;
  }
}

/** The resources serialised from their parsed values (the path for bodies the bytes cannot serve). */
export function resourcesFromValues(resources: readonly unknown[]): JsonBatch {
  return resources.length === 0 ? JsonBatch.EMPTY : JsonBatch.fromTexts(resources.map((r) => JSON.stringify(r)));
}

/** The spans as a batch: a view of `b` when they are compact and one comma apart, else compacted copies. */
function batchOfSpans(b: Buffer, { starts, ends, spaced }: ElementSpans): { batch: JsonBatch; path: BatchPath } {
  const n = starts.length;
  const first = starts[0]!;
  let inPlace = !spaced[0];
  for (let k = 1; inPlace && k < n; k++) inPlace = !spaced[k] && starts[k] === ends[k - 1]! + 1;
  const out = new Uint32Array(n);
  if (inPlace) {
    for (let k = 0; k < n; k++) out[k] = ends[k]! - first;
    return { batch: new JsonBatch(b.subarray(first, ends[n - 1]), out), path: 'in place' };
  }
  let size = n - 1;
  for (let k = 0; k < n; k++) size += ends[k]! - starts[k]!;
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0) bytes[at++] = COMMA;
    at = spaced[k] ? compactJson(b, starts[k]!, ends[k]!, bytes, at) : at + b.copy(bytes, at, starts[k], ends[k]);
    out[k] = at;
  }
  return { batch: new JsonBatch(bytes.subarray(0, at), out), path: 'compacted' };
}

/** How a page's batch was made (for tests and measurements). */
export type BatchPath = 'in place' | 'compacted' | 'values';

/**
 * The page's resources as a batch: from `body` (the response bytes) when they agree with the
 * parsed `resources` (one object element for each), else serialised from `resources`.
 */
export function resourcesBatch(body: Buffer, resources: readonly unknown[]): { batch: JsonBatch; path: BatchPath } {
  if (resources.length === 0) return { batch: JsonBatch.EMPTY, path: 'in place' };
  const spans = isUtf8(body) ? resourceSpans(body) : undefined;
  if (spans === undefined || spans.starts.length !== resources.length || spans.starts.some((s) => body[s] !== OPEN_OBJECT)) {
    return { batch: resourcesFromValues(resources), path: 'values' };
  }
  return batchOfSpans(body, spans);
}

/** The first `n` items of `batch` (a view, no copy). */
export function batchHead(batch: JsonBatch, n: number): JsonBatch {
  if (n >= batch.count) return batch;
  if (n <= 0) return JsonBatch.EMPTY;
  return new JsonBatch(batch.bytes.subarray(0, batch.ends[n - 1]), batch.ends.subarray(0, n));
}
