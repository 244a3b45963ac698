/** The OpenAPI 3.1 description of the HTTP API, served at /v1/openapi.json. */
import { ERROR_CODE_LIST } from '../../protocol/index.js';
import { VERSION } from '../../version.js';
import { API_ERROR_CODES } from './errors.js';

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown): unknown => ({ 'application/json': { schema } });
const ndjson = (schema: unknown): unknown => ({ 'application/x-ndjson': { schema } });

const errorResponses = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/E${s}` }]));

const ERROR_TEXT: Record<number, string> = {
  400: 'bad request (BAD_REQUEST)',
  401: 'no or unknown API token (UNAUTHORIZED)',
  403: 'operation not allowed for this data source (OPERATION_NOT_ALLOWED)',
  404: 'unknown data source or entry (UNKNOWN_DATA_SOURCE, NOT_FOUND)',
  409: 'already exists (ALREADY_EXISTS)',
  413: 'body or line over the configured limit (PAYLOAD_TOO_LARGE)',
  415: 'wrong Content-Type (UNSUPPORTED_MEDIA_TYPE)',
  422: 'refused by the data source (CONSTRAINT_VIOLATION)',
  429: "tenant's requests in flight at the limit (TOO_MANY_REQUESTS)",
  502: 'the data source failed (UPSTREAM_UNAVAILABLE, UPSTREAM_AUTH_FAILED, UPSTREAM_ERROR)',
  503: 'no agent connected, or the agent is busy (AGENT_DISCONNECTED, BUSY)',
  504: 'deadline passed (TIMEOUT)',
};

const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'data source name (agent configuration)' };
const timeoutParam = {
  name: 'timeoutMs',
  in: 'query',
  required: false,
  schema: { type: 'integer', minimum: 1 },
  description: 'shortens the configured per-operation timeout (never lengthens it)',
};
const idempotencyKeyHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', pattern: '^[\\x20-\\x7e]{1,255}$' },
  description: 'export only: the agent journals the export under this key; the same records resent with it are never written twice (docs/exports.md)',
};

const requestIdHeader = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  description: "correlation id, echoed back and used as the agent's request id; generated when absent",
};

function resultOperation(summary: string, method: 'get' | 'post', withBody: boolean): Record<string, unknown> {
  return {
    [method]: {
      summary,
      parameters: [nameParam, timeoutParam, requestIdHeader],
      ...(withBody ? { requestBody: { required: true, content: json({ type: 'object', additionalProperties: true }) } } : {}),
      responses: { '200': { description: 'the agent\'s result', content: json(ref('Result')) }, ...errorResponses(400, 401, 403, 404, 413, 415, 429, 502, 503, 504) },
    },
  };
}

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'datasync hub API',
    version: VERSION,
    description:
      'Reach the LDAP and SCIM data sources behind a tenant\'s agents. Authenticate with a tenant API token (Authorization: Bearer). ' +
      'search and export stream NDJSON with end-to-end backpressure: read the response as it comes.',
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/agents': {
      get: {
        summary: "The tenant's connected agents",
        responses: { '200': { description: 'agents', content: json({ type: 'object', properties: { agents: { type: 'array', items: ref('Agent') } } }) }, ...errorResponses(401) },
      },
    },
    '/v1/data-sources': {
      get: {
        summary: "Data sources offered by the tenant's agents",
        responses: {
          '200': { description: 'data sources', content: json({ type: 'object', properties: { dataSources: { type: 'array', items: ref('DataSource') } } }) },
          ...errorResponses(401),
        },
      },
    },
    '/v1/data-sources/{name}/test': resultOperation('Test the connection to the data source', 'post', false),
    '/v1/data-sources/{name}/schema': resultOperation('The data source schema', 'get', false),
    '/v1/data-sources/{name}/attributes': resultOperation('The data source attributes', 'get', false),
    '/v1/data-sources/{name}/resource-types': resultOperation('SCIM resource types', 'get', false),
    '/v1/data-sources/{name}/get': resultOperation('One entry or resource (LDAP: {"dn"}; SCIM: {"resourceType","id"})', 'post', true),
    '/v1/data-sources/{name}/search': {
      post: {
        summary: 'Search, streamed as NDJSON: one entry per line, then a summary line or an error line',
        parameters: [nameParam, timeoutParam, requestIdHeader],
        requestBody: { required: false, content: json({ type: 'object', additionalProperties: true, description: 'search parameters (docs/ldap.md, docs/scim.md)' }) },
        responses: {
          '200': { description: 'entries, then {"end":true,...} or {"error":{...}}', content: ndjson({ oneOf: [{ type: 'object' }, ref('SearchEnd'), ref('StreamError')] }) },
          ...errorResponses(400, 401, 403, 404, 413, 415, 429, 502, 503, 504),
        },
      },
    },
    '/v1/data-sources/{name}/export': {
      post: {
        summary: 'Export records (NDJSON body, one record per line), one result per record (NDJSON)',
        parameters: [nameParam, timeoutParam, requestIdHeader, idempotencyKeyHeader],
        requestBody: { required: true, content: ndjson({ type: 'object', description: 'one export record (docs/ldap.md, docs/scim.md)' }) },
        responses: {
          '200': { description: 'results in record order, then {"end":true,...} or {"error":{...}}', content: ndjson({ oneOf: [ref('ExportResult'), ref('ExportEnd'), ref('StreamError')] }) },
          ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 502, 503, 504),
        },
      },
    },
    '/v1/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } } } },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a tenant API token (hub.yaml tenants.<id>.apiTokens holds its scrypt hash)' } },
    responses: Object.fromEntries(Object.entries(ERROR_TEXT).map(([s, d]) => [`E${s}`, { description: d, content: json(ref('Error')) }])),
    schemas: {
      Error: {
        type: 'object',
        required: ['code', 'message', 'retryable', 'requestId'],
        properties: {
          code: { type: 'string', enum: [...ERROR_CODE_LIST, ...Object.keys(API_ERROR_CODES)] },
          message: { type: 'string' },
          retryable: { type: 'boolean' },
          requestId: { type: 'string' },
        },
      },
      StreamError: {
        type: 'object',
        required: ['error', 'requestId', 'count'],
        properties: {
          error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, retryable: { type: 'boolean' } } },
          requestId: { type: 'string' },
          count: { type: 'integer', description: 'lines written before the failure' },
        },
      },
      Result: { type: 'object', required: ['dataSource', 'requestId', 'data'], properties: { dataSource: { type: 'string' }, requestId: { type: 'string' }, data: {} } },
      SearchEnd: {
        type: 'object',
        required: ['end', 'count', 'truncated'],
        properties: { end: { const: true }, count: { type: 'integer' }, truncated: { type: 'boolean' }, total: { type: 'integer' } },
      },
      ExportResult: {
        type: 'object',
        required: ['index', 'ok'],
        properties: { index: { type: 'integer' }, ok: { type: 'boolean' }, code: { type: 'string' }, message: { type: 'string' }, retryable: { type: 'boolean' }, data: {} },
      },
      ExportEnd: {
        type: 'object',
        required: ['end', 'count', 'ok', 'failed'],
        properties: { end: { const: true }, count: { type: 'integer' }, ok: { type: 'integer' }, failed: { type: 'integer' } },
      },
      DataSource: {
        type: 'object',
        properties: { name: { type: 'string' }, type: { type: 'string' }, operations: { type: 'array', items: { type: 'string' } }, agents: { type: 'array', items: { type: 'string' } } },
      },
      Agent: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          version: { type: 'string' },
          hostname: { type: 'string' },
          sessionId: { type: 'string' },
          connectedSince: { type: 'string', format: 'date-time' },
          remoteAddress: { type: 'string' },
          inFlight: { type: 'integer' },
          dataSources: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' }, operations: { type: 'array', items: { type: 'string' } } } } },
        },
      },
    },
  },
} as const;
