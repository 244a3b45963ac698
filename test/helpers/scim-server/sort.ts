/** `sortBy`/`sortOrder` over plain stored resources: type-aware, stable, missing values last ascending. */
import SCIMMY from 'scimmy';
import { scimError } from './errors.js';
import type { Definition } from './filter.js';
import { getCi, isObject, type Json } from './json.js';

/** The value `sortBy` names: multi-valued → primary (or first) element, complex → its `value`. */
function sortValue(item: Json, sortBy: string, def: Definition): unknown {
  let target: unknown = item;
  let rest = sortBy;
  const lower = sortBy.toLowerCase();
  if (lower.startsWith(`${def.id.toLowerCase()}:`)) rest = sortBy.slice(def.id.length + 1);
  for (const a of def.attributes) {
    if (a instanceof SCIMMY.Types.SchemaDefinition && lower.startsWith(`${a.id.toLowerCase()}:`)) {
      target = item[a.id];
      rest = sortBy.slice(a.id.length + 1);
    }
  }
  for (const part of rest.split('.')) {
    if (Array.isArray(target)) target = target.find((v) => isObject(v) && v.primary === true) ?? target[0];
    target = isObject(target) ? getCi(target, part) : undefined;
  }
  if (Array.isArray(target)) target = target.find((v) => isObject(v) && v.primary === true) ?? target[0];
  if (isObject(target)) target = target.value;
  return target;
}

const collator = new Intl.Collator('en', { sensitivity: 'accent', numeric: false });

export function sortItems<T extends Json>(items: T[], sortBy: string, sortOrder: string | undefined, def: Definition): T[] {
  let attr: InstanceType<typeof SCIMMY.Types.Attribute>;
  try {
    attr = def.attribute(sortBy);
  } catch {
    throw scimError(400, 'invalidValue', `sortBy: unknown attribute '${sortBy}'`);
  }
  const keyed = items.map((item) => ({ item, key: sortValue(item, sortBy, def) }));
  const compare = (a: unknown, b: unknown): number => {
    const missingA = a === undefined || a === null;
    const missingB = b === undefined || b === null;
    if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
    if (attr.type === 'dateTime' && typeof a === 'string' && typeof b === 'string') return Date.parse(a) - Date.parse(b);
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
    const sa = typeof a === 'string' ? a : JSON.stringify(a);
    const sb = typeof b === 'string' ? b : JSON.stringify(b);
    if (attr.config.caseExact) return sa < sb ? -1 : sa > sb ? 1 : 0;
    return collator.compare(sa, sb);
  };
  keyed.sort((x, y) => compare(x.key, y.key));
  // RFC 7644 §3.4.2.3: no value sorts last ascending and first descending.
  if (sortOrder === 'descending') keyed.reverse();
  return keyed.map((k) => k.item);
}
