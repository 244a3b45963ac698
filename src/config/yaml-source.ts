/**
 * A parsed YAML configuration file that remembers where every node came from, so a problem
 * found later (by env interpolation or by the io-ts decoder, which only see paths) can be
 * reported as `FILE:LINE:COL`.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import type { ConfigProblem, PathProblem } from './problems.js';

export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** YAML syntax errors and duplicate keys, with positions. */
  problems: ConfigProblem[];
  /**
   * True when the file has syntax errors (duplicate keys do not count): the tree is then a
   * best-effort repair by the parser and decoding it would only report follow-on noise.
   */
  broken: boolean;
}

export interface Position {
  line: number;
  col: number;
}

type Path = readonly string[];

/** The text of a mapping key as it appears in a decoded path (`1:` and `'1':` both give `1`). */
export function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

/**
 * Calls `fn` for every value node with its key path (keys are not visited). Aliases are not
 * followed: the anchored node is visited where it is defined.
 */
export function walk(
  doc: Document.Parsed,
  fn: (node: Node, path: Path, pair: Pair | undefined) => void,
): void {
  const visit = (node: unknown, path: Path, pair: Pair | undefined): void => {
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return;
    fn(node, path, pair);
    if (isMap(node)) {
      for (const item of node.items) visit(item.value, [...path, keyText(item.key)], item);
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item, [...path, String(i)], undefined));
    }
  };
  visit(doc.contents, [], undefined);
}

/** The pair whose key starts at `offset`, with the path to its value. */
function pairAt(doc: Document.Parsed, offset: number): { path: Path; pair: Pair } | undefined {
  let found: { path: Path; pair: Pair } | undefined;
  walk(doc, (_node, path, pair) => {
    if (found === undefined && pair !== undefined && rangeStart(pair.key) === offset) found = { path, pair };
  });
  return found;
}

function rangeStart(node: unknown): number | undefined {
  if (isScalar(node) || isMap(node) || isSeq(node) || isAlias(node)) return node.range?.[0];
  return undefined;
}

/** yaml's pretty messages end with ` at line L, column C:` and a code excerpt; keep the gist. */
function shortMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '');
}

export function parseYamlSource(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const pos = (offset: number): Position => linePos(lineCounter, offset);
  const problems: ConfigProblem[] = [];
  let broken = false;
  for (const error of doc.errors) {
    const at = pos(error.pos[0]);
    if (error.code === 'DUPLICATE_KEY') {
      const dup = pairAt(doc, error.pos[0]);
      if (dup !== undefined) {
        const key = keyText(dup.pair.key);
        const first = firstDefinition(doc, dup.path, dup.pair);
        const where = first === undefined ? '' : ` (first defined at line ${pos(first).line})`;
        problems.push({ file, ...at, path: [...dup.path], message: `duplicate key '${key}'${where}` });
        continue;
      }
      problems.push({ file, ...at, path: [], message: 'duplicate key' });
      continue;
    }
    broken = true;
    problems.push({ file, ...at, path: [], message: `YAML syntax error: ${shortMessage(error.message)}` });
  }
  return { file, doc, lineCounter, problems, broken };
}

/** Offset of the first pair in the same mapping with the same key as `dup`. */
function firstDefinition(doc: Document.Parsed, path: Path, dup: Pair): number | undefined {
  const parent = nodeAt(doc, path.slice(0, -1)).node;
  if (!isMap(parent)) return undefined;
  const key = keyText(dup.key);
  const first = parent.items.find((p) => p !== dup && keyText(p.key) === key);
  return first === undefined ? undefined : rangeStart(first.key);
}

interface Located {
  /** The deepest node reached along the path (the whole path when `complete`). */
  node: unknown;
  /** The key node of the last mapping step taken, if any. */
  key: unknown;
  complete: boolean;
}

function nodeAt(doc: Document.Parsed, path: Path): Located {
  let node: unknown = doc.contents;
  let key: unknown = undefined;
  for (const seg of path) {
    const container: unknown = isAlias(node) ? node.resolve(doc) : node;
    let next: { node: unknown; key: unknown } | undefined;
    if (isMap(container)) {
      const pair = container.items.find((p) => keyText(p.key) === seg);
      if (pair !== undefined) next = { node: pair.value, key: pair.key };
    } else if (isSeq(container) && /^\d+$/.test(seg)) {
      const item: unknown = container.items[Number(seg)];
      if (item !== undefined) next = { node: item, key: undefined };
    }
    if (next === undefined) return { node, key, complete: false };
    ({ node, key } = next);
  }
  return { node, key, complete: true };
}

/** An empty value (`key:` with nothing after it) has no useful position of its own. */
function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null && node.source === '';
}

/**
 * Line and column of the value at `path` (or of its key, with `at: 'key'`). A path that does
 * not exist (a missing key, an unknown key that was decoded from elsewhere) falls back to the
 * nearest existing parent.
 */
export function positionOf(src: YamlSource, path: Path, at?: 'key'): Position {
  const { node, key, complete } = nodeAt(src.doc, path);
  const keyStart = rangeStart(key);
  const wantKey = (complete && at === 'key') || isEmptyScalar(node) || rangeStart(node) === undefined;
  const offset = (wantKey ? keyStart : undefined) ?? rangeStart(node) ?? keyStart ?? 0;
  return linePos(src.lineCounter, offset);
}

/** 1-based even for an empty file (where the counter has seen no line yet). */
function linePos(lineCounter: LineCounter, offset: number): Position {
  const { line, col } = lineCounter.linePos(offset);
  return { line: Math.max(line, 1), col: Math.max(col, 1) };
}

/** Attaches file, line and column to problems that only know their path. */
export function locate(src: YamlSource, problems: readonly PathProblem[]): ConfigProblem[] {
  return problems.map((p) => ({ file: src.file, ...positionOf(src, p.path, p.at), path: p.path, message: p.message }));
}
