/**
 * The request parameters of `search` and `get` per built-in data source type, as JSON schemas
 * for the OpenAPI document. They mirror the io-ts codecs the agent decodes them with
 * (src/adapters/directory/params.ts for ldap and ldif, src/adapters/scim/params.ts,
 * src/adapters/sql/search.ts); test/unit/hub/openapi-params.test.ts checks that schema and codec
 * accept and refuse the same samples. The hub does not know a request's type when it validates,
 * so a route's body is "an object, one of these"; the agent checks the exact shape (400
 * BAD_REQUEST, every problem in one message).
 */

const DN = { type: 'string', minLength: 1, description: 'a distinguished name (RFC 4514) inside the data source baseDN' } as const;
const DN_BINARY = { type: 'string', contentEncoding: 'base64', description: "base64 of a DN's bytes, for names that are not UTF-8 (wins over dn)" } as const;
const LDAP_ATTRIBUTES = {
  type: 'array',
  items: { type: 'string', pattern: '^(\\*|\\+|1\\.1|[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*|\\d+(\\.\\d+)+(;[A-Za-z0-9-]+)*)$' },
  description: 'attribute descriptions to return (`*`, `+`, `1.1` allowed)',
} as const;

export const LDAP_SEARCH_PARAMS = {
  $id: 'LdapSearchParams',
  type: 'object',
  description: 'search parameters of an ldap data source (docs/ldap.md)',
  additionalProperties: false,
  properties: {
    base: { ...DN, description: 'search base (default: the baseDN)' },
    scope: { enum: ['base', 'one', 'sub'], description: 'default sub' },
    filter: { type: 'string', description: 'RFC 4515 filter (default (objectClass=*))' },
    attributes: LDAP_ATTRIBUTES,
    sizeLimit: { type: 'integer', minimum: 0, description: '0 = no limit' },
    pageSize: { type: 'integer', minimum: 1 },
  },
} as const;

export const LDAP_GET_PARAMS = {
  $id: 'LdapGetParams',
  type: 'object',
  description: 'get parameters of an ldap data source: `dn` or `dn;binary` (docs/ldap.md)',
  additionalProperties: false,
  properties: { dn: DN, 'dn;binary': DN_BINARY, attributes: LDAP_ATTRIBUTES },
  anyOf: [
    { required: ['dn'], properties: { dn: DN } },
    { required: ['dn;binary'], properties: { 'dn;binary': DN_BINARY } },
  ],
} as const;

export const LDIF_SEARCH_PARAMS = {
  $id: 'LdifSearchParams',
  description: 'search parameters of an ldif data source: those of ldap (docs/ldif.md)',
  allOf: [{ $ref: 'LdapSearchParams#' }],
} as const;

export const LDIF_GET_PARAMS = {
  $id: 'LdifGetParams',
  description: 'get parameters of an ldif data source: those of ldap (docs/ldif.md)',
  allOf: [{ $ref: 'LdapGetParams#' }],
} as const;

const SCIM_RESOURCE_TYPE = { type: 'string', pattern: '^/?[A-Za-z][A-Za-z0-9._~-]*$', description: "resource type name ('User') or endpoint ('/Users')" } as const;
const SCIM_ATTRIBUTES = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, description: 'SCIM attribute paths' } as const;
/** RFC 7644 §3.4.2.5: attributes and excludedAttributes are alternatives. */
const NOT_BOTH_ATTRIBUTE_LISTS = { not: { required: ['attributes', 'excludedAttributes'], properties: { attributes: {}, excludedAttributes: {} } } } as const;

export const SCIM_SEARCH_PARAMS = {
  $id: 'ScimSearchParams',
  type: 'object',
  description: 'search parameters of a scim data source (docs/scim.md)',
  required: ['resourceType'],
  additionalProperties: false,
  properties: {
    resourceType: SCIM_RESOURCE_TYPE,
    filter: { type: 'string', minLength: 1, description: 'RFC 7644 filter expression' },
    attributes: SCIM_ATTRIBUTES,
    excludedAttributes: SCIM_ATTRIBUTES,
    sortBy: { type: 'string', minLength: 1 },
    sortOrder: { enum: ['ascending', 'descending'] },
    count: { type: 'integer', minimum: 0, description: 'most resources in total (0 = only the total)' },
    pageSize: { type: 'integer', minimum: 1 },
  },
  ...NOT_BOTH_ATTRIBUTE_LISTS,
} as const;

export const SCIM_GET_PARAMS = {
  $id: 'ScimGetParams',
  type: 'object',
  description: 'get parameters of a scim data source (docs/scim.md)',
  required: ['resourceType', 'id'],
  additionalProperties: false,
  properties: {
    resourceType: SCIM_RESOURCE_TYPE,
    id: { type: 'string', minLength: 1, not: { enum: ['.', '..'] } },
    attributes: SCIM_ATTRIBUTES,
    excludedAttributes: SCIM_ATTRIBUTES,
  },
  ...NOT_BOTH_ATTRIBUTE_LISTS,
} as const;

const SQL_OBJECT_TYPE = { type: 'string', pattern: '\\S', description: 'an object type of the mapping (docs/sql.md)' } as const;

export const SQL_SEARCH_PARAMS = {
  $id: 'SqlSearchParams',
  type: 'object',
  description: 'search parameters of a sql data source (docs/sql.md)',
  required: ['objectType'],
  additionalProperties: false,
  properties: { objectType: SQL_OBJECT_TYPE, filter: { type: 'string', description: 'filter over mapped attributes (docs/sql.md)' } },
} as const;

export const SQL_GET_PARAMS = {
  $id: 'SqlGetParams',
  type: 'object',
  description: 'get parameters of a sql data source (docs/sql.md)',
  required: ['objectType', 'key'],
  additionalProperties: false,
  properties: { objectType: SQL_OBJECT_TYPE, key: { anyOf: [{ type: 'string' }, { type: 'number' }], description: "the entry's key" } },
} as const;

/** The per-type schemas, in the order the document lists them. */
export const PARAMS_SCHEMAS = [
  LDAP_SEARCH_PARAMS,
  LDAP_GET_PARAMS,
  LDIF_SEARCH_PARAMS,
  LDIF_GET_PARAMS,
  SCIM_SEARCH_PARAMS,
  SCIM_GET_PARAMS,
  SQL_SEARCH_PARAMS,
  SQL_GET_PARAMS,
] as const;

/**
 * A route body: an object of the data source type's parameters. The first branch (any object)
 * is what the hub checks; ajv stops at it, so the per-type branches only document (no coercion
 * or removal ever touches a body the agent will decode).
 */
export function paramsBody(op: 'search' | 'get'): Record<string, unknown> {
  const kind = op === 'search' ? 'Search' : 'Get';
  return {
    type: 'object',
    description: `the ${op} parameters of the data source's type (ldap, ldif, scim, sql below; a plugin type documents its own). The hub checks it is a JSON object; the agent checks the type's shape (400 BAD_REQUEST).`,
    anyOf: [
      { type: 'object', title: 'PluginParams', description: "a plugin type's own parameters", additionalProperties: true },
      { $ref: `Ldap${kind}Params#` },
      { $ref: `Ldif${kind}Params#` },
      { $ref: `Scim${kind}Params#` },
      { $ref: `Sql${kind}Params#` },
    ],
  };
}
