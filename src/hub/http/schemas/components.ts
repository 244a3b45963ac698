/**
 * The JSON schemas the HTTP API's answers share: the error body, the listing views, the result
 * envelope and every NDJSON line kind. Each has an `$id` (fastify's shared schemas, referenced
 * from the routes as `{ $ref: 'Name#' }`); the OpenAPI document lists them as components under
 * that name. The line kinds are mutually exclusive by their required properties (`end`,
 * `error`, `index`), so a reader (or a validator's `oneOf`) can tell every line apart.
 */
import { ERROR_CODE_LIST } from '../../../protocol/index.js';
import { API_ERROR_CODES } from '../errors.js';

/** `{ $ref }` to a shared schema by its `$id`, the form fastify and the document generator resolve. */
export const ref = (id: string): { $ref: string } => ({ $ref: `${id}#` });

const REQUEST_ID = { type: 'string', description: "the request's id (X-Request-Id)" } as const;
const COUNT = { type: 'integer', minimum: 0 } as const;

/** Properties an item line must not have at its top level: they mark the closing lines. */
const NOT_A_CLOSING_LINE = { properties: { end: false, error: false } } as const;

export const ERROR_SCHEMA = {
  $id: 'Error',
  type: 'object',
  description: 'A failure: the code (docs/errors.md), whether the same request may succeed later, and the request id.',
  required: ['code', 'message', 'retryable', 'requestId'],
  additionalProperties: false,
  properties: {
    code: { type: 'string', enum: [...ERROR_CODE_LIST, ...Object.keys(API_ERROR_CODES)] },
    message: { type: 'string' },
    retryable: { type: 'boolean' },
    requestId: REQUEST_ID,
  },
} as const;

const OPERATIONS = { type: 'array', items: { type: 'string' }, description: 'operations the data source allows (test, schema, attributes, resourceTypes, get, search, export)' } as const;

const REMOTE_ADDRESS = {
  type: 'string',
  description: "the agent's address:port as the hub's socket sees it, or the client address a trusted proxy forwarded (trustedProxies in hub.yaml; the port only when the proxy gave one)",
} as const;

export const AGENT_SCHEMA = {
  $id: 'Agent',
  type: 'object',
  description:
    'A connected agent of the tenant, listed once however many sessions it holds (one per hub URL it dials); sessionId, connectedSince and remoteAddress are those of its oldest session.',
  required: ['id', 'version', 'hostname', 'sessionId', 'connectedSince', 'remoteAddress', 'inFlight', 'dataSources', 'sessions'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    version: { type: 'string' },
    hostname: { type: 'string' },
    sessionId: { type: 'string', description: 'id of its oldest session' },
    connectedSince: { type: 'string', format: 'date-time', description: 'when its oldest session connected' },
    remoteAddress: { ...REMOTE_ADDRESS, description: `${REMOTE_ADDRESS.description}, of its oldest session` },
    inFlight: { ...COUNT, description: "the agent's requests in flight, over all its sessions" },
    sessions: {
      type: 'array',
      description: 'its registered sessions, oldest first',
      items: {
        type: 'object',
        required: ['sessionId', 'sessionKey', 'connectedSince', 'remoteAddress', 'inFlight'],
        additionalProperties: false,
        properties: {
          sessionId: { type: 'string' },
          sessionKey: { type: 'string', description: "the agent's key for the session (the index of the URL in its agent.urls); empty from an agent that sends none" },
          connectedSince: { type: 'string', format: 'date-time' },
          remoteAddress: REMOTE_ADDRESS,
          inFlight: { ...COUNT, description: 'requests in flight over this session' },
        },
      },
    },
    dataSources: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'type', 'operations'],
        additionalProperties: false,
        properties: { name: { type: 'string' }, type: { type: 'string' }, operations: OPERATIONS },
      },
    },
  },
} as const;

export const DATA_SOURCE_SCHEMA = {
  $id: 'DataSource',
  type: 'object',
  description: "A data source offered by one or more of the tenant's agents.",
  required: ['name', 'type', 'operations', 'agents'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    type: { type: 'string', description: 'ldap, ldif, scim, sql or a plugin type' },
    operations: OPERATIONS,
    agents: { type: 'array', items: { type: 'string' }, description: 'ids of the agents offering it' },
  },
} as const;

export const RESULT_SCHEMA = {
  $id: 'Result',
  type: 'object',
  description: "The agent's result of a one-answer operation, as the agent wrote it.",
  required: ['dataSource', 'requestId'],
  additionalProperties: false,
  properties: {
    dataSource: { type: 'string' },
    requestId: REQUEST_ID,
    data: { description: "the adapter's result (absent when it has none)" },
  },
} as const;

export const SEARCH_ENTRY_SCHEMA = {
  $id: 'SearchEntry',
  type: 'object',
  description: 'One entry or resource, exactly as the agent serialised it (ldap/ldif: docs/ldap.md, scim: docs/scim.md, sql: docs/sql.md). Never has a top-level `end` or `error`.',
  ...NOT_A_CLOSING_LINE,
  additionalProperties: true,
} as const;

export const SEARCH_END_SCHEMA = {
  $id: 'SearchEnd',
  type: 'object',
  description: 'The last line of a complete search.',
  required: ['end', 'count', 'truncated'],
  additionalProperties: false,
  properties: {
    end: { const: true },
    count: { ...COUNT, description: 'entry lines before this one' },
    truncated: { type: 'boolean', description: 'a size limit cut the result' },
    total: { ...COUNT, description: 'the total the source reported, where it tells one' },
  },
} as const;

export const STREAM_ERROR_SCHEMA = {
  $id: 'StreamError',
  type: 'object',
  description: 'The last line of a stream that failed after it began.',
  required: ['error', 'requestId', 'count'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'retryable'],
      additionalProperties: false,
      properties: { code: ERROR_SCHEMA.properties.code, message: { type: 'string' }, retryable: { type: 'boolean' } },
    },
    requestId: REQUEST_ID,
    count: { ...COUNT, description: 'lines written before this one (export: records written, with their results)' },
  },
} as const;

export const EXPORT_RESULT_SCHEMA = {
  $id: 'ExportResult',
  type: 'object',
  description: 'The result of one export record, in record order.',
  required: ['index', 'ok'],
  additionalProperties: false,
  properties: {
    index: { ...COUNT, description: "the record's position in the body (0-based, blank lines not counted)" },
    ok: { type: 'boolean' },
    code: { type: 'string', description: 'ok: false only: an error code (docs/errors.md)' },
    message: { type: 'string', description: 'ok: false only' },
    retryable: { type: 'boolean', description: 'ok: false only' },
    data: { description: "ok: true only: the adapter's result for the record, if any" },
    replayed: { const: true, description: "answered from the export journal (Idempotency-Key): not written again" },
    verified: { const: true, description: 'an interrupted write found applied in the directory' },
  },
  oneOf: [
    { title: 'written', required: ['ok'], properties: { ok: { const: true }, code: false, message: false, retryable: false } },
    {
      title: 'failed',
      required: ['ok', 'code', 'message', 'retryable'],
      properties: { ok: { const: false }, code: { type: 'string' }, message: { type: 'string' }, retryable: { type: 'boolean' }, data: false, verified: false },
    },
  ],
} as const;

export const EXPORT_END_SCHEMA = {
  $id: 'ExportEnd',
  type: 'object',
  description: 'The last line of a complete export.',
  required: ['end', 'count', 'ok', 'failed'],
  additionalProperties: false,
  properties: {
    end: { const: true },
    count: { ...COUNT, description: 'result lines before this one' },
    ok: COUNT,
    failed: COUNT,
  },
} as const;

/** One export record: its shape is the data source type's (docs/ldap.md, docs/scim.md, docs/sql.md). */
export const EXPORT_RECORD_SCHEMA = {
  $id: 'ExportRecord',
  type: 'object',
  description: "One record of an export body, one JSON object per line; its shape is the data source type's (ldap/ldif: docs/ldap.md, scim: docs/scim.md, sql: docs/sql.md).",
  additionalProperties: true,
} as const;

/** The shared schemas of the answers, in the order the document lists them. */
export const ANSWER_SCHEMAS = [
  ERROR_SCHEMA,
  AGENT_SCHEMA,
  DATA_SOURCE_SCHEMA,
  RESULT_SCHEMA,
  SEARCH_ENTRY_SCHEMA,
  SEARCH_END_SCHEMA,
  STREAM_ERROR_SCHEMA,
  EXPORT_RESULT_SCHEMA,
  EXPORT_END_SCHEMA,
  EXPORT_RECORD_SCHEMA,
] as const;
