/** Plain-data helpers. */

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function toPlain(v: unknown): Json {
  const parsed: unknown = JSON.parse(JSON.stringify(v));
  if (!isObject(parsed)) throw new Error('expected an object');
  return parsed;
}

/** Case-insensitive own-key lookup (SCIM attribute names are case-insensitive). */
export function getCi(obj: Json, key: string): unknown {
  if (key in obj) return obj[key];
  const k = key.toLowerCase();
  for (const [name, value] of Object.entries(obj)) if (name.toLowerCase() === k) return value;
  return undefined;
}

export function sameContent(a: Json, b: Json): boolean {
  const strip = (o: Json): string => JSON.stringify({ ...o, meta: undefined, id: undefined });
  return strip(a) === strip(b);
}
