/**
 * io-ts `Errors` → `{path, message}` problems, with `expected <type>, got <value>` messages in
 * which secrets never appear. (A small own reporter: io-ts-reporters pulls a postinstall.)
 */
import type * as t from 'io-ts';
import type { PathProblem } from './problems.js';

const secretKeys = new Set<string>([
  'password',
  'keyStorePassword',
  'trustStorePassword',
  'bindPassword',
  'bearerToken',
  'clientSecret',
  'passwordHash',
  'apiTokens',
]);

/**
 * Keys whose values are never printed, at any depth: the built-in ones and those each data-source
 * type declares (`secretKeys`). Read when a logger is created: plugins are loaded before.
 */
export const SECRET_KEYS: ReadonlySet<string> = secretKeys;

/** Adds setting names whose values are secrets (a data-source type's `secretKeys`). */
export function addSecretKeys(keys: Iterable<string>): void {
  for (const key of keys) if (typeof key === 'string' && key !== '') secretKeys.add(key);
}

export function isSecretPath(path: readonly string[]): boolean {
  return path.some((key) => SECRET_KEYS.has(key));
}

const MAX_SHOWN = 120;

/** Hides the password of `scheme://user:password@host` URLs (proxies). */
export function maskUrlPassword(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]*@/i, '$1***@');
}

/** A value as shown after `got`: JSON, secrets redacted, long values shortened. */
export function showValue(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing';
  if (secret) return `<redacted ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}>`;
  let json: string;
  try {
    json = JSON.stringify(value, (key, v: unknown) =>
      SECRET_KEYS.has(key) ? '<redacted>' : typeof v === 'string' ? maskUrlPassword(v) : v,
    );
  } catch {
    json = Object.prototype.toString.call(value);
  }
  return json.length > MAX_SHOWN ? `${json.slice(0, MAX_SHOWN - 1)}…` : json;
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
