/**
 * The loading pipeline shared by the agent and the hub: YAML with positions → `${ENV}`
 * interpolation → io-ts decoding → every problem with `FILE:LINE:COL`, or the typed value.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { interpolateDocument } from './interpolate.js';
import { ConfigError } from './problems.js';
import type { ConfigProblem, PathProblem } from './problems.js';
import { reportErrors } from '../support/io-ts-report.js';
import { locate, parseYamlSource } from './yaml-source.js';

/** Resolves a file name from the configuration against the directory of the configuration. */
export type PathResolver = (file: string) => string;

export function pathResolverFor(configFile: string): PathResolver {
  const base = dirname(resolve(configFile));
  return (file) => resolve(base, file);
}

/**
 * Decodes `text` (the contents of `file`) with `codec`; throws `ConfigError` listing every
 * problem. When the YAML itself is broken only the syntax and env problems are reported: the
 * parser's repaired tree would make the decoder report follow-on noise.
 */
export function decodeYaml<A>(
  codec: t.Decoder<unknown, A>,
  text: string,
  file: string,
  env: NodeJS.ProcessEnv,
  /** Checks that need the decoded value (e.g. that a key store file is usable), located like any other problem. */
  postCheck?: (value: A) => PathProblem[],
): A {
  const src = parseYamlSource(text, file);
  const envProblems = locate(src, interpolateDocument(src.doc, env));
  const problems: ConfigProblem[] = [...src.problems, ...envProblems];
  if (src.broken) throw new ConfigError(file, problems);

  let input: unknown;
  try {
    input = src.doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // e.g. an alias bomb ("billion laughs"): yaml refuses to expand it.
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(file, [...problems, { file, line: 1, col: 1, path: [], message }], { cause: err });
  }
  const result = codec.validate(input, [{ key: '', type: codec, actual: input }]);
  if (isLeft(result)) {
    // A value whose env reference failed is already reported; its empty stand-in is noise.
    const envPaths = new Set(envProblems.map((p) => p.path.join('\u0000')));
    const decodeProblems = locate(src, reportErrors(result.left)).filter((p) => !envPaths.has(p.path.join('\u0000')));
    problems.push(...decodeProblems);
  }
  if (problems.length > 0 || isLeft(result)) throw new ConfigError(file, problems);
  const late = postCheck ? locate(src, postCheck(result.right)) : [];
  if (late.length > 0) throw new ConfigError(file, late);
  return result.right;
}

/** Reads a configuration file; an unreadable file is a `ConfigError` like any other problem. */
export function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const message = `cannot read configuration file: ${err instanceof Error ? err.message : String(err)}`;
    throw new ConfigError(file, [{ file, line: 1, col: 1, path: [], message }], { cause: err });
  }
}
