/**
 * How the OpenAPI 3.1 document is generated from the routes' schemas by @fastify/swagger: the
 * document's frame (info, servers, security, tags), the shared schemas as components named by
 * their `$id`, the export body (a stream fastify does not validate), and what every answer
 * carries whatever the route: `X-Request-Id`, `Retry-After` on 429/503, `WWW-Authenticate` on
 * 401.
 */
import type { SwaggerOptions } from '@fastify/swagger';
import { VERSION } from '../../../version.js';
import { NDJSON_TYPES } from '../stream-routes.js';
import { EXPORT_BODY_DOCUMENTATION } from './routes.js';

const DESCRIPTION = [
  "Reach the data sources behind a tenant's agents (ldap, ldif, scim, sql and plugin types). Authenticate with a tenant API token (Authorization: Bearer).",
  'search and export stream NDJSON with end-to-end backpressure: read the response as it comes. application/x-ndjson bodies are described per line:',
  'the x-ndjson-line extension of their schema is the schema of one line (a oneOf whose branches exclude each other by their required properties).',
  'Every answer carries X-Request-Id. A method a path does not answer gets 405 METHOD_NOT_ALLOWED with Allow; an unknown path 404 NO_SUCH_ROUTE.',
].join(' ');

const HEADERS = {
  'X-Request-Id': {
    required: true,
    description: "the request's id: the client's X-Request-Id when usable, else a new one; also in error bodies and the agent's log",
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } },
  'WWW-Authenticate': { description: 'Bearer realm="datasync-hub"', schema: { type: 'string' } },
} as const;

type Json = Record<string, unknown>;

/** Adds the headers every answer of `responses` carries, as references to the components. */
function withCommonHeaders(responses: Json): void {
  for (const [status, response] of Object.entries(responses) as Array<[string, Json]>) {
    const headers: Json = { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } };
    if (status === '429' || status === '503') headers['Retry-After'] = { $ref: '#/components/headers/Retry-After' };
    if (status === '401') headers['WWW-Authenticate'] = { $ref: '#/components/headers/WWW-Authenticate' };
    response['headers'] = { ...(response['headers'] as Json | undefined), ...headers };
  }
}

/** The generator's options; `api.ts` registers the plugin with them before any route. */
export function documentOptions(): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'datasync hub API', version: VERSION, description: DESCRIPTION, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
      servers: [{ url: '/', description: "the hub's own listener (listen in hub.yaml; HTTPS when tls is set)" }],
      tags: [
        { name: 'tenant', description: "what the token's tenant has connected" },
        { name: 'operations', description: 'operations on a data source, relayed to an agent offering it' },
        { name: 'meta', description: 'this description' },
      ],
      security: [{ bearer: [] }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a tenant API token (hub.yaml tenants.<id>.apiTokens holds its scrypt hash)' } },
        headers: HEADERS,
      },
    },
    convertConstToEnum: false,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    transform: ({ schema, url, route }) => {
      // The export body reaches the handler as a stream, so its route has no body schema to
      // validate with; the document describes it all the same.
      if (url.endsWith('/export') && route.method === 'POST') {
        const content = Object.fromEntries(NDJSON_TYPES.map((type) => [type, EXPORT_BODY_DOCUMENTATION.content['application/x-ndjson']]));
        return { schema: { ...schema, body: { content } }, url };
      }
      return { schema, url };
    },
    transformObject: (documentObject) => {
      const doc = (documentObject as { openapiObject: Json }).openapiObject;
      for (const item of Object.values(doc['paths'] as Record<string, Json>)) {
        for (const operation of Object.values(item) as Json[]) withCommonHeaders(operation['responses'] as Json);
      }
      return doc;
    },
  };
}
