/**
 * Request parameters of the SCIM operations, decoded with io-ts at the adapter's edge. Unknown
 * keys are problems (a typo must not be silently ignored); every problem is listed in one
 * BAD_REQUEST message.
 */
import * as t from 'io-ts';
import { decoder, listOf, NonNegativeInt, PositiveInt, strictObject } from '../../config/codecs.js';
import { isAttributePath } from './filter.js';
import { badRequest, decodeOrThrow } from '../../adapter-kit/decode.js';

export { badRequest, decodeOrThrow };

/** C0 control characters (U+0000–U+001F, optionally except TAB) and DEL. */
export function hasControlCharacters(s: string, allowTab = false): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && !(allowTab && c === 0x09)) || c === 0x7f) return true;
  }
  return false;
}

/**
 * A resource type: its name as in `/ResourceTypes` (`User`) or its endpoint relative to the
 * base URL (`/Users`, RFC 7643 §6 `endpoint`). One path segment: nothing can escape the base URL.
 */
export const ResourceTypeRef = decoder<string>("resource type name ('User') or endpoint ('/Users')", (u, c) =>
  typeof u === 'string' && /^\/?[A-Za-z][A-Za-z0-9._~-]*$/.test(u) ? t.success(u) : t.failure(u, c),
);

/**
 * A resource `id` (RFC 7643 §3.1): any non-empty string, sent percent-encoded as one path
 * segment. `.` and `..` are refused: URL normalisation would turn them into another path.
 */
export const ResourceId = decoder<string>('resource id (non-empty string)', (u, c) =>
  typeof u === 'string' && u !== '' && u !== '.' && u !== '..' && !hasControlCharacters(u) ? t.success(u) : t.failure(u, c),
);

/** An attribute path (RFC 7644 §3.10), e.g. `name.givenName` or `urn:…:User:employeeNumber`. */
export const AttributePath = decoder<string>('SCIM attribute path', (u, c) => (typeof u === 'string' && isAttributePath(u) ? t.success(u) : t.failure(u, c)));

const AttributeList = listOf(AttributePath, 'list of attribute paths', 1);

/** An entity tag as returned in `meta.version` / `ETag` (RFC 7644 §3.14), e.g. `W/"3694e05e9dff590"`. */
export const Version = decoder<string>('version (entity tag, e.g. W/"3694e05e9dff590")', (u, c) =>
  typeof u === 'string' && /^(W\/)?"?[\x21\x23-\x7e\x80-\uffff]+"?$/.test(u) ? t.success(u) : t.failure(u, c),
);

export const SortOrder = t.keyof({ ascending: null, descending: null }, "'ascending' | 'descending'");

/** A filter expression (RFC 7644 §3.4.2.2): validated by the server (400 invalidFilter → BAD_REQUEST). */
export const FilterText = decoder<string>('SCIM filter expression', (u, c) =>
  typeof u === 'string' && u.trim() !== '' && !hasControlCharacters(u, true) ? t.success(u.trim()) : t.failure(u, c),
);

export const GetParams = strictObject(
  { resourceType: ResourceTypeRef, id: ResourceId },
  { attributes: AttributeList, excludedAttributes: AttributeList },
  {
    name: 'get parameters (resourceType, id, attributes, excludedAttributes)',
    check: onlyOneOfAttributes,
  },
);
export type GetParams = t.TypeOf<typeof GetParams>;

export const SearchParams = strictObject(
  { resourceType: ResourceTypeRef },
  {
    filter: FilterText,
    attributes: AttributeList,
    excludedAttributes: AttributeList,
    /** Refused at the first pull when the provider says `sort.supported: false` (search.ts). */
    sortBy: AttributePath,
    sortOrder: SortOrder,
    /** Most resources to return in total (0 = only `totalResults`). */
    count: NonNegativeInt,
    /** Resources per page (RFC 7644 §3.4.2.4 `count`), capped at the config's `pageSize`. */
    pageSize: PositiveInt,
  },
  {
    name: 'search parameters (resourceType, filter, attributes, excludedAttributes, sortBy, sortOrder, count, pageSize)',
    check: onlyOneOfAttributes,
  },
);
export type SearchParams = t.TypeOf<typeof SearchParams>;

/** RFC 7644 §3.4.2.5: `attributes` and `excludedAttributes` are alternatives. */
function onlyOneOfAttributes(_v: unknown, input: Record<string, unknown>): Array<{ path: string[]; message: string }> {
  return input['attributes'] !== undefined && input['excludedAttributes'] !== undefined
    ? [{ path: [], message: 'expected attributes or excludedAttributes, not both (RFC 7644 §3.4.2.5)' }]
    : [];
}

/** Decodes `input` or throws BAD_REQUEST listing every problem as `path: message`. */


/** `attributes` / `excludedAttributes` as query parameters (comma-separated, RFC 7644 §3.4.2.5). */
export function attributeQuery(p: { attributes?: string[]; excludedAttributes?: string[] }): Record<string, string> {
  return {
    ...(p.attributes === undefined ? {} : { attributes: p.attributes.join(',') }),
    ...(p.excludedAttributes === undefined ? {} : { excludedAttributes: p.excludedAttributes.join(',') }),
  };
}
