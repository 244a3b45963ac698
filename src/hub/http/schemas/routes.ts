/**
 * The fastify `schema` of every API route: what it takes (path, query, headers, body — fastify
 * validates them, and a failure is the API's coded 400) and what it answers, per status, with
 * an operationId and a summary. The OpenAPI document is generated from these
 * (schemas/document.ts); the answers' schemas are documentation and the e2e suites' contract,
 * not a serializer (api.ts writes JSON as it is).
 */
import { ref } from './components.js';
import { paramsBody } from './params.js';

/** What each error status means on this API (the codes: docs/errors.md). */
export const ERROR_TEXT: Readonly<Record<number, string>> = {
  400: 'bad request: a parameter, header or body that is not valid (BAD_REQUEST)',
  401: 'no, malformed or unknown API token (UNAUTHORIZED)',
  403: 'operation not allowed for this data source, or outside its scope (OPERATION_NOT_ALLOWED)',
  404: 'unknown data source, or no such entry (UNKNOWN_DATA_SOURCE, NOT_FOUND)',
  409: 'already exists, or a different record at the same position of a keyed export (ALREADY_EXISTS, IDEMPOTENCY_MISMATCH)',
  413: 'body or line over the configured limit (PAYLOAD_TOO_LARGE)',
  415: 'wrong Content-Type (UNSUPPORTED_MEDIA_TYPE); the message names the one expected: application/json, or application/x-ndjson for export',
  422: 'refused by the data source, or no agent can journal a keyed export (CONSTRAINT_VIOLATION, SIZE_LIMIT_EXCEEDED, IDEMPOTENCY_NOT_SUPPORTED)',
  429: "the tenant's API requests in flight are at the limit, or this address failed authentication too often (TOO_MANY_REQUESTS)",
  499: 'the request was cancelled by the agent shutting down (CANCELLED)',
  500: 'internal error in the hub (INTERNAL)',
  502: 'the data source or the agent failed (UPSTREAM_UNAVAILABLE, UPSTREAM_AUTH_FAILED, UPSTREAM_ERROR, BAD_FRAME, OUTCOME_UNKNOWN)',
  503: "no agent connected, or it is busy, or the hub's credential checks are all taken (AGENT_DISCONNECTED, BUSY)",
  504: 'the deadline passed (TIMEOUT)',
};

const errors = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: ERROR_TEXT[s], content: { 'application/json': { schema: ref('Error') } } }]));

/** Statuses every route with a token can answer (the token check itself can be refused: 429, 503). */
const AUTH = [401, 429, 500, 503];
/** Statuses every data-source operation can answer besides its own. */
const OPERATION = [...AUTH, 400, 403, 404, 499, 502, 504];

const NAME_PARAMS = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, description: "the data source's name (the agent's configuration)" } },
} as const;

const QUERY = {
  type: 'object',
  properties: {
    timeoutMs: { type: 'integer', minimum: 1, maximum: 9_999_999_999, description: "shortens the operation's configured deadline (never lengthens it): ms, in decimal digits" },
  },
} as const;

const REQUEST_ID_HEADER = {
  type: 'string',
  description: "correlation id: used (and echoed, and the agent's request id) when it is 1-128 of A-Z a-z 0-9 . _ : -, else a new one is made",
} as const;

const HEADERS = { type: 'object', properties: { 'x-request-id': REQUEST_ID_HEADER } } as const;

const EXPORT_HEADERS = {
  type: 'object',
  properties: {
    'x-request-id': REQUEST_ID_HEADER,
    'idempotency-key': {
      type: 'string',
      pattern: '^[\\x20-\\x7e]{1,255}$',
      description: 'journal the export under this key: the same records resent with it are never written twice (docs/exports.md)',
    },
  },
} as const;

const json = (schema: unknown): unknown => ({ 'application/json': { schema } });

/** The headers of every NDJSON answer (ndjson.ts `NDJSON_RESPONSE_HEADERS`), for reverse proxies. */
export const NDJSON_HEADERS = {
  'X-Accel-Buffering': {
    type: 'string',
    const: 'no',
    description: 'tells nginx (and proxies that honour it) not to buffer the stream: lines reach the client as they come, and a slow reader slows the agent',
  },
  'Cache-Control': {
    type: 'string',
    const: 'no-cache, no-transform',
    description: 'no proxy may serve the stream from a cache, compress or otherwise transform it',
  },
} as const;

/** An NDJSON response: a text body whose every line is one of `lines` (exactly one: they exclude each other). */
const ndjson = (description: string, lines: readonly string[]): unknown => ({
  'application/x-ndjson': {
    schema: {
      type: 'string',
      description: `${description} Each line is one JSON value matching x-ndjson-line (exactly one of its branches).`,
      'x-ndjson-line': { oneOf: lines.map(ref) },
    },
  },
});

function resultRoute(operationId: string, summary: string, withBody: boolean): Record<string, unknown> {
  return {
    operationId,
    summary,
    tags: ['operations'],
    params: NAME_PARAMS,
    querystring: QUERY,
    headers: HEADERS,
    ...(withBody ? { body: paramsBody('get') } : {}),
    response: {
      200: { description: "the agent's result", content: json(ref('Result')) },
      ...errors(...OPERATION, ...(withBody ? [413, 415] : [])),
    },
  };
}

export const ROUTE_SCHEMAS = {
  openapi: {
    operationId: 'getOpenApiDocument',
    summary: 'This document (no token needed)',
    tags: ['meta'],
    security: [],
    response: { 200: { description: 'the OpenAPI 3.1 document of this API', content: json({ type: 'object', description: 'an OpenAPI 3.1 document' }) } },
  },
  agents: {
    operationId: 'listAgents',
    summary: "The tenant's connected agents",
    tags: ['tenant'],
    headers: HEADERS,
    response: {
      200: {
        description: 'the agents',
        content: json({ type: 'object', required: ['agents'], additionalProperties: false, properties: { agents: { type: 'array', items: ref('Agent') } } }),
      },
      ...errors(...AUTH),
    },
  },
  dataSources: {
    operationId: 'listDataSources',
    summary: "The data sources the tenant's agents offer",
    tags: ['tenant'],
    headers: HEADERS,
    response: {
      200: {
        description: 'the data sources, by name',
        content: json({ type: 'object', required: ['dataSources'], additionalProperties: false, properties: { dataSources: { type: 'array', items: ref('DataSource') } } }),
      },
      ...errors(...AUTH),
    },
  },
  test: resultRoute('testDataSource', "Test the connection to the data source (the adapter's latency and server facts)", false),
  schema: resultRoute('getSchema', "The data source's schema", false),
  attributes: resultRoute('getAttributes', "The data source's attributes", false),
  resourceTypes: resultRoute('getResourceTypes', "The data source's resource types (scim)", false),
  get: resultRoute('getEntry', 'One entry or resource', true),
  search: {
    operationId: 'search',
    summary: 'Search, streamed as NDJSON: one entry per line, then a summary line or an error line',
    tags: ['operations'],
    params: NAME_PARAMS,
    querystring: QUERY,
    headers: HEADERS,
    body: paramsBody('search'),
    response: {
      200: {
        description: 'entries as the agent wrote them, then exactly one SearchEnd or StreamError line (a stream with neither was cut)',
        headers: NDJSON_HEADERS,
        content: ndjson('Entry lines, then the closing line.', ['SearchEntry', 'SearchEnd', 'StreamError']),
      },
      ...errors(...OPERATION, 413, 415),
    },
  },
  export: {
    operationId: 'export',
    summary: 'Export records (NDJSON body), one result per record (NDJSON), streamed both ways',
    tags: ['operations'],
    params: NAME_PARAMS,
    querystring: QUERY,
    headers: EXPORT_HEADERS,
    response: {
      200: {
        description: 'a result per record written, in order, then exactly one ExportEnd or StreamError line (a stream with neither was cut)',
        headers: NDJSON_HEADERS,
        content: ndjson('Result lines, then the closing line.', ['ExportResult', 'ExportEnd', 'StreamError']),
      },
      ...errors(...OPERATION, 409, 413, 415, 422),
    },
  },
} as const;

/**
 * The export body, for the document only: fastify hands the body over as a stream (its own
 * content-type parser), so it has no body schema to validate; the generator adds this.
 */
export const EXPORT_BODY_DOCUMENTATION = {
  content: {
    'application/x-ndjson': {
      schema: {
        type: 'string',
        description: 'One record per line (blank lines skipped), read only as the agent grants credit. Each line is one JSON object matching x-ndjson-line.',
        'x-ndjson-line': ref('ExportRecord'),
      },
    },
  },
} as const;
