/**
 * A configuration problem with its source position, and the error that carries all of them.
 *
 * Every problem is printed as `FILE:LINE:COL: path.to.key: message` (the format compilers use,
 * so editors and CI annotate it). Array indexes are written as path segments: `agent.urls.1`.
 */

export interface ConfigProblem {
  /** The configuration file, as given to the loader. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
  /** Key path inside the document; `[]` for problems of the whole file (e.g. YAML syntax). */
  path: string[];
  message: string;
}

/** A problem whose position is not known yet: the loader maps `path` to line:col. */
export type { PathProblem } from '../support/io-ts-report.js';

export function formatPath(path: readonly string[]): string {
  return path.join('.');
}

export function formatProblem(p: ConfigProblem): string {
  const where = `${p.file}:${p.line}:${p.col}`;
  return p.path.length === 0 ? `${where}: ${p.message}` : `${where}: ${formatPath(p.path)}: ${p.message}`;
}

/** Stable order: by line, then column (problems at the same position keep their order). */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

/** Thrown by the loaders; `problems` holds every problem found, sorted by position. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  readonly problems: ConfigProblem[];
  /** The configuration file the problems are in. */
  readonly file: string;

  constructor(file: string, problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const sorted = sortProblems(problems);
    const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`;
    super(`invalid configuration ${file} (${count}):\n${sorted.map(formatProblem).join('\n')}`, options);
    this.file = file;
    this.problems = sorted;
  }
}
