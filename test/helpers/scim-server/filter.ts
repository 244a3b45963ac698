/**
 * Filtering over plain stored resources with scimmy's matcher: case-insensitive comparisons for
 * `caseExact: false` strings, `urn:…:attr` paths, and complex attributes a resource lacks.
 */
import SCIMMY from 'scimmy';
import { isObject, type Json } from './json.js';

export type Definition = InstanceType<typeof SCIMMY.Types.SchemaDefinition>;

/** Lower-cased paths (`name.familyname`, `<ext urn lower>.department`) of caseExact=false strings. */
const foldablePaths = new WeakMap<Definition, Set<string>>();

function foldable(def: Definition): Set<string> {
  const cached = foldablePaths.get(def);
  if (cached) return cached;
  const set = new Set<string>();
  const walk = (attrs: ReadonlyArray<unknown>, prefix: string): void => {
    for (const a of attrs) {
      if (a instanceof SCIMMY.Types.SchemaDefinition) {
        walk(a.attributes, `${a.id.toLowerCase()}.`);
      } else if (a instanceof SCIMMY.Types.Attribute) {
        const path = `${prefix}${a.name.toLowerCase()}`;
        if (a.type === 'string' && !a.config.caseExact) set.add(path);
        if (a.subAttributes) walk(a.subAttributes, `${path}.`);
      }
    }
  };
  walk(def.attributes, '');
  foldablePaths.set(def, set);
  return set;
}

function joinPath(path: string, key: string): string {
  return path ? `${path}.${key.toLowerCase()}` : key.toLowerCase();
}

function foldValue(v: unknown, path: string, set: Set<string>): unknown {
  if (typeof v === 'string') return set.has(path) ? v.toLowerCase() : v;
  if (Array.isArray(v)) return v.map((x) => foldValue(x, path, set));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, foldValue(x, joinPath(path, k), set)]));
  return v;
}

function foldExpression(e: unknown, path: string, set: Set<string>): unknown {
  if (Array.isArray(e)) {
    const items: unknown[] = e;
    if (items.every((x) => typeof x !== 'object' || x === null)) {
      // A leaf: [op], [op, value] or ["not", op, value]; the value is last.
      const last = items.length - 1;
      return items.map((x, i) => (i === last && i > 0 && typeof x === 'string' && set.has(path) ? x.toLowerCase() : x));
    }
    return items.map((x) => foldExpression(x, path, set));
  }
  if (isObject(e)) return Object.fromEntries(Object.entries(e).map(([k, x]) => [k, foldExpression(x, joinPath(path, k), set)]));
  return e;
}

/** `urn:…:core:2.0:User:userName` → `userName`; `urn:…:enterprise:2.0:User:manager` → nested under the URN. */
function normaliseUrnKeys(expr: Json, coreUrn: string, extensions: string[]): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(expr)) {
    const lower = key.toLowerCase();
    if (lower.startsWith(`${coreUrn.toLowerCase()}:`)) {
      out[key.slice(coreUrn.length + 1)] = value;
      continue;
    }
    const ext = extensions.find((u) => lower.startsWith(`${u.toLowerCase()}:`));
    if (ext) {
      const inner = isObject(out[ext]) ? out[ext] : {};
      inner[key.slice(ext.length + 1)] = value;
      out[ext] = inner;
      continue;
    }
    out[key] = value;
  }
  return out;
}

/** Make every complex attribute a filter descends into exist (scimmy's matcher crashes on a missing one). */
function fillComplex(target: Json, expr: Json): void {
  for (const [key, e] of Object.entries(expr)) {
    const exprs = isObject(e) ? [e] : Array.isArray(e) ? e.filter(isObject) : [];
    if (exprs.length === 0) continue;
    let actualKey = Object.keys(target).find((k) => k.toLowerCase() === key.toLowerCase());
    if (actualKey === undefined || target[actualKey] === null || target[actualKey] === undefined) {
      actualKey ??= key;
      target[actualKey] = {};
    }
    const actual = target[actualKey];
    if (isObject(actual)) for (const sub of exprs) fillComplex(actual, sub);
  }
}

export function matchFilter<T extends Json>(
  filter: InstanceType<typeof SCIMMY.Types.Filter>,
  items: T[],
  def: Definition,
  view: (item: T) => Json,
): T[] {
  const set = foldable(def);
  const extensions = def.attributes.filter((a) => a instanceof SCIMMY.Types.SchemaDefinition).map((a) => a.id);
  const raw: unknown = JSON.parse(JSON.stringify(filter));
  const exprs = (Array.isArray(raw) ? raw : []).filter(isObject).map((e) => foldExpression(normaliseUrnKeys(e, def.id, extensions), '', set) as Json);
  if (exprs.length === 0) return items;
  const normalised = new SCIMMY.Types.Filter(exprs);
  const byView = new Map<Json, T>();
  const views = items.map((item) => {
    const v = foldValue(view(item), '', set) as Json;
    for (const e of exprs) fillComplex(v, e);
    byView.set(v, item);
    return v;
  });
  const matched: unknown[] = normalised.match(views);
  return matched.filter(isObject).map((v) => byView.get(v)!);
}
