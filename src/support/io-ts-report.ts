/**
 * io-ts `Errors` → `{path, message}` problems, with `expected <type>, got <value>` messages in
 * which secrets never appear. (A small own reporter: io-ts-reporters pulls a postinstall.)
 * A neutral leaf: the configuration, the protocol's frame decoding and the adapters' parameter
 * decoding all report their problems with it.
 */
import type * as t from 'io-ts';
import { isSecretPath } from './secret-keys.js';
import { showValue } from './show-value.js';

/** A problem at a key path of a decoded value (the configuration loader adds its position). */
export interface PathProblem {
  path: string[];
  message: string;
  /**
   * Where to point: the value at `path` (default), or its key — for unknown keys the key is the
   * mistake, not the value after it.
   */
  at?: 'key';
}

type Entry = t.ContextEntry;

function tagOf(entry: Entry | undefined): unknown {
  const type = entry?.type;
  return type !== undefined && '_tag' in type ? type._tag : undefined;
}

/** The key path of a context, without the branch indexes that unions and intersections add. */
export function contextPath(context: t.Context): string[] {
  const path: string[] = [];
  context.forEach((entry, i) => {
    if (i === 0) return;
    const parent = tagOf(context[i - 1]);
    if (parent === 'UnionType' || parent === 'IntersectionType') return;
    path.push(entry.key);
  });
  return path;
}

function toProblem(error: t.ValidationError): PathProblem {
  const path = contextPath(error.context);
  if (error.message !== undefined) {
    const unknownKey = error.message.startsWith('unknown key ');
    return unknownKey ? { path, message: error.message, at: 'key' } : { path, message: error.message };
  }
  const expected = error.context[error.context.length - 1]?.type.name ?? 'a valid value';
  return { path, message: `expected ${expected}, got ${showValue(error.value, isSecretPath(path))}` };
}

/**
 * For a union over objects tagged by `type`, only the branches whose `type` matched are worth
 * reading; when no branch matched (or none is tagged), one `expected A | B` says it all.
 */
function pruneUnions(errors: readonly t.ValidationError[], from = 0): Array<t.ValidationError> {
  const groups = new Map<string, { at: number; errors: t.ValidationError[] }>();
  const out: Array<t.ValidationError | string> = [];
  for (const error of errors) {
    const at = error.context.findIndex((e, i) => i >= from && tagOf(e) === 'UnionType' && i < error.context.length - 1);
    if (at === -1) {
      out.push(error);
      continue;
    }
    const id = error.context.slice(0, at + 1).map((e) => e.key).join('\u0000');
    const group = groups.get(id);
    if (group === undefined) {
      groups.set(id, { at, errors: [error] });
      out.push(id);
    } else group.errors.push(error);
  }
  return out.flatMap((item) => {
    if (typeof item !== 'string') return [item];
    const { at, errors: members } = groups.get(item) ?? { at: 0, errors: [] };
    const rejectsType = (e: t.ValidationError): boolean => e.context.length === at + 3 && e.context[at + 2]?.key === 'type';
    const branch = (e: t.ValidationError): string => e.context[at + 1]?.key ?? '';
    const rejected = new Set(members.filter(rejectsType).map(branch));
    const kept = members.filter((e) => !rejected.has(branch(e)));
    if (kept.length > 0 && rejected.size > 0) return pruneUnions(kept, at + 2);
    const union = members[0]?.context[at];
    const context = members[0]?.context.slice(0, at + 1) ?? [];
    return union === undefined ? [] : [{ value: union.actual, context }];
  });
}

/** Problems for every error, deduplicated, in the order the decoder found them. */
export function reportErrors(errors: t.Errors): PathProblem[] {
  const seen = new Set<string>();
  const problems: PathProblem[] = [];
  for (const problem of pruneUnions(errors).map(toProblem)) {
    const id = `${problem.path.join('\u0000')}\u0001${problem.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push(problem);
  }
  return problems;
}
