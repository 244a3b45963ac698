/**
 * `${VAR}` / `${VAR:-default}` references in configuration values, resolved from the
 * environment.
 *
 * Substitution runs on the parsed document's string scalars, not on the raw text: positions
 * stay those of the file, and a secret that contains YAML syntax (`: `, `#`, quotes, newlines)
 * is just a string — it cannot change the structure of the file. `$${…}` is a literal `${…}`.
 * As in POSIX sh, `:-` uses the default when the variable is unset *or empty*; a variable that
 * is set to the empty string with no default gives the empty string.
 */
import { isScalar } from 'yaml';
import type { Document } from 'yaml';
import type { PathProblem } from './problems.js';
import { walk } from './yaml-source.js';

export interface Interpolated {
  value: string;
  /** Problems in this string, without a path. */
  problems: string[];
}

const REFERENCE = /\$(\$?)\{([^}]*)(\}?)/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function interpolateString(text: string, env: NodeJS.ProcessEnv): Interpolated {
  const problems: string[] = [];
  const value = text.replace(REFERENCE, (whole, escape: string, body: string, close: string) => {
    if (escape === '$') return whole.slice(1);
    if (close === '') {
      problems.push(`unterminated reference '${whole}': expected \${NAME} or \${NAME:-default}`);
      return whole;
    }
    const sep = body.indexOf(':-');
    const name = sep === -1 ? body : body.slice(0, sep);
    if (!NAME.test(name)) {
      problems.push(`invalid reference '${whole}': expected \${NAME} or \${NAME:-default}`);
      return whole;
    }
    const set = env[name];
    if (sep !== -1) return set === undefined || set === '' ? body.slice(sep + 2) : set;
    if (set === undefined) {
      problems.push(`environment variable '${name}' is not set (give a default with \${${name}:-value})`);
      return '';
    }
    return set;
  });
  return { value, problems };
}

/**
 * Replaces references in every string value of `doc` (mapping keys are left alone) and returns
 * the problems, each with the path of its scalar.
 */
export function interpolateDocument(doc: Document.Parsed, env: NodeJS.ProcessEnv): PathProblem[] {
  const problems: PathProblem[] = [];
  walk(doc, (node, path) => {
    if (!isScalar(node) || typeof node.value !== 'string' || !node.value.includes('${')) return;
    const result = interpolateString(node.value, env);
    node.value = result.value;
    for (const message of result.problems) problems.push({ path: [...path], message });
  });
  return problems;
}
