/**
 * io-ts codecs of what a SCIM service provider sends back (RFC 7643 / RFC 7644), and of the
 * OAuth 2.0 token endpoint (RFC 6749 §5.1/§5.2). Every response body is decoded with one of
 * these before it is used; a body that does not decode is an UPSTREAM_ERROR naming the problem.
 *
 * They are lenient where real providers differ from the RFCs (optional `schemas`, numbers
 * sent as strings, bare arrays instead of a ListResponse for `/Schemas`) and never strip
 * unknown members: a resource is passed on exactly as the provider sent it.
 */
import * as t from 'io-ts';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { reportErrors } from '../../support/io-ts-report.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** A JSON object (not an array, not null). */
export const JsonObject = t.UnknownRecord;
export type JsonObject = t.TypeOf<typeof JsonObject>;

/** A non-negative integer, also as a numeric string (some providers quote numbers). */
export const Count = new t.Type<number, number, unknown>(
  'non-negative integer',
  (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= 0,
  (u, c) => {
    const n = typeof u === 'string' && /^\s*\d+\s*$/.test(u) ? Number(u) : u;
    return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? t.success(n) : t.failure(u, c);
  },
  t.identity,
);

/** `true`/`false`, also as strings. */
const Flag = new t.Type<boolean, boolean, unknown>(
  'boolean',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) => (typeof u === 'boolean' ? t.success(u) : u === 'true' || u === 'false' ? t.success(u === 'true') : t.failure(u, c)),
  t.identity,
);

/** RFC 7644 §3.12 error response (every member optional: providers vary). */
export const ScimErrorBody = t.partial({
  schemas: t.array(t.string),
  status: t.union([t.string, t.number]),
  scimType: t.string,
  detail: t.string,
});

/** RFC 7643 §3.1 `meta`. */
export const Meta = t.partial({ resourceType: t.string, created: t.string, lastModified: t.string, location: t.string, version: t.string });

/** A resource as returned by the provider: an object with an `id` (RFC 7643 §3.1). */
export const Resource = t.intersection([t.type({ id: t.string }), t.partial({ meta: Meta })]);
export type Resource = t.TypeOf<typeof Resource>;

/** A write response: most providers return the resource; PATCH may return 204 (no body). */
export const WriteResponse = t.partial({ id: t.string, meta: Meta });

/**
 * RFC 7644 §3.4.2 ListResponse; `Resources` is absent when there are none. `nextCursor` /
 * `previousCursor` are RFC 9865 §2 (cursor paging): opaque strings, absent on the last
 * (first) page.
 */
export const ListResponse = t.intersection([
  t.type({ totalResults: Count }),
  t.partial({
    schemas: t.array(t.string),
    Resources: t.array(JsonObject),
    startIndex: Count,
    itemsPerPage: Count,
    nextCursor: t.string,
    previousCursor: t.string,
  }),
]);
export type ListResponse = t.TypeOf<typeof ListResponse>;

/** RFC 7643 §7 attribute definition (recursive through `subAttributes`). */
export interface SchemaAttribute {
  name: string;
  type?: string;
  multiValued?: boolean;
  description?: string;
  required?: boolean;
  canonicalValues?: unknown[];
  caseExact?: boolean;
  mutability?: string;
  returned?: string;
  uniqueness?: string;
  referenceTypes?: string[];
  subAttributes?: SchemaAttribute[];
}
export const SchemaAttribute: t.Type<SchemaAttribute, SchemaAttribute, unknown> = t.recursion('SCIM attribute definition', () =>
  t.intersection([
    t.type({ name: t.string }),
    t.partial({
      type: t.string,
      multiValued: Flag,
      description: t.string,
      required: Flag,
      canonicalValues: t.array(t.unknown),
      caseExact: Flag,
      mutability: t.string,
      returned: t.string,
      uniqueness: t.string,
      referenceTypes: t.array(t.string),
      subAttributes: t.array(SchemaAttribute),
    }),
  ]),
);

/** RFC 7643 §7 schema resource. */
export const Schema = t.intersection([
  t.type({ id: t.string }),
  t.partial({ name: t.union([t.string, t.null]), description: t.union([t.string, t.null]), attributes: t.array(SchemaAttribute) }),
]);
export type Schema = t.TypeOf<typeof Schema>;

/** RFC 7643 §6 resource type. */
export const ResourceType = t.intersection([
  t.type({ name: t.string, endpoint: t.string, schema: t.string }),
  t.partial({
    id: t.string,
    description: t.string,
    schemaExtensions: t.array(t.intersection([t.type({ schema: t.string }), t.partial({ required: Flag })])),
  }),
]);
export type ResourceType = t.TypeOf<typeof ResourceType>;

const Supported = t.partial({ supported: Flag });

/** RFC 7643 §5 service provider configuration (plus RFC 9865 `pagination`). */
export const ServiceProviderConfig = t.partial({
  documentationUri: t.string,
  patch: Supported,
  bulk: t.partial({ supported: Flag, maxOperations: Count, maxPayloadSize: Count }),
  filter: t.partial({ supported: Flag, maxResults: Count }),
  changePassword: Supported,
  sort: Supported,
  etag: Supported,
  authenticationSchemes: t.array(t.partial({ type: t.string, name: t.string, description: t.string, primary: Flag })),
  pagination: t.partial({
    cursor: Flag,
    index: Flag,
    defaultPaginationMethod: t.string,
    defaultPageSize: Count,
    maxPageSize: Count,
    cursorTimeout: Count,
  }),
});
export type ServiceProviderConfig = t.TypeOf<typeof ServiceProviderConfig>;

/** RFC 6749 §5.1 access token response. */
export const TokenResponse = t.intersection([
  t.type({ access_token: t.string, token_type: t.string }),
  t.partial({ expires_in: Count, scope: t.string }),
]);
export type TokenResponse = t.TypeOf<typeof TokenResponse>;

/** RFC 6749 §5.2 error response. */
export const TokenErrorBody = t.partial({ error: t.string, error_description: t.string });

export function isValid<A>(codec: t.Decoder<unknown, A>, u: unknown): u is A {
  return isRight(codec.decode(u));
}

/** Decodes a response body or throws UPSTREAM_ERROR saying what did not match. */
export function decodeBody<A>(codec: t.Decoder<unknown, A>, body: unknown, what: string, context: ProtocolErrorContext = {}): A {
  const r = codec.decode(body);
  if (!isLeft(r)) return r.right;
  const problems = reportErrors(r.left)
    .slice(0, 5)
    .map((p) => (p.path.length === 0 ? p.message : `${p.path.join('.')}: ${p.message}`));
  throw new ProtocolError('UPSTREAM_ERROR', `unexpected ${what} from the SCIM server: ${problems.join('; ')}`, {
    ...context,
    details: { ...context.details, problems },
  });
}

/**
 * The items of a discovery list (`/Schemas`, `/ResourceTypes`): a ListResponse (RFC 7644 §4) or
 * a bare array (seen in the wild). Items that do not decode are returned apart, so one odd
 * definition does not hide the others.
 */
export function listItems<A>(codec: t.Decoder<unknown, A>, body: unknown, what: string, context: ProtocolErrorContext = {}): { items: A[]; skipped: unknown[] } {
  const raw: unknown[] = Array.isArray(body) ? body : decodeBody(ListResponse, body, `${what} list`, context).Resources ?? [];
  const items: A[] = [];
  const skipped: unknown[] = [];
  for (const item of raw) {
    const r = codec.decode(item);
    if (isLeft(r)) skipped.push(item);
    else items.push(r.right);
  }
  return { items, skipped };
}
