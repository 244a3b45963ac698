/**
 * The hub's HTTP API for cloud applications (docs/http-api.md), on fastify, sharing the hub's
 * HTTP(S) listener with the agents' WebSocket endpoint: fastify gets every plain request, the
 * hub keeps `upgrade`. Every /v1 route except the OpenAPI document needs an API token of one
 * tenant and only ever reaches that tenant's agents. Every request has an id (the client's
 * `X-Request-Id` when it is usable, else a new one) that is also the request id the agent logs.
 * Every log line of a request carries its client address (`client`; with `proxy`, the trusted
 * proxy's socket, when a forwarding header named the client), and the token check counts
 * failures under that address.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HubConfig } from '../../config/index.js';
import type { Hub } from '../hub.js';
import { ApiTokens } from './api-tokens.js';
import type { ApiContext } from './context.js';
import { ApiError, sendFailure } from './errors.js';
import { registerInfoRoutes } from './info-routes.js';
import { registerOperationRoutes } from './operation-routes.js';
import { RouteMethods } from './route-methods.js';
import { ANSWER_SCHEMAS } from './schemas/components.js';
import { documentOptions } from './schemas/document.js';
import { PARAMS_SCHEMAS } from './schemas/params.js';
import { ROUTE_SCHEMAS } from './schemas/routes.js';
import { registerStreamRoutes } from './stream-routes.js';
import { summaryOf } from './request-progress.js';

const USABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PUBLIC_PATHS = new Set(['/v1/openapi.json']);

/** Route pattern → operation, filled as routes are first seen. */
const OPERATION_OF_ROUTE = new Map<string, string>();

/** The protocol operation a route runs (metrics label), '' for the listing routes. */
function operationOf(route: string): string {
  let op = OPERATION_OF_ROUTE.get(route);
  if (op === undefined) {
    const last = /\/v1\/data-sources\/:name\/([a-z-]+)$/.exec(route)?.[1];
    op = last === undefined ? '' : last === 'resource-types' ? 'resourceTypes' : last;
    // Route patterns are the registered routes and '(unmatched)': a handful, never raw URLs.
    OPERATION_OF_ROUTE.set(route, op);
  }
  return op;
}

/** Builds the API on `server`; call `ready()` before the server listens. */
export function createHttpApi(server: Server, hub: Hub, config: HubConfig, logger: Logger): FastifyInstance {
  // Typed as fastify's logger interface so the instance keeps fastify's default generics.
  const apiLogger: FastifyBaseLogger = logger.child({ component: 'http-api' });
  const app = Fastify({
    loggerInstance: apiLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    childLoggerFactory: (parent, bindings, options, raw) => {
      const client = hub.clientAddresses.of(raw);
      return parent.child({ ...bindings, client: client.address, ...(client.forwarded ? { proxy: client.peer } : {}) }, options);
    },
    bodyLimit: config.api.maxBodyBytes,
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && USABLE_REQUEST_ID.test(given) ? given : randomUUID();
    },
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
      server.on('request', handler);
      return server;
    },
    return503OnClosing: true,
    // Route schemas validate what a request brings (query, headers, params, body) and nothing
    // else: no property removed or default added to a body the agent will decode itself.
    ajv: { customOptions: { removeAdditional: false, useDefaults: false } },
    // Errors fastify raises before routing (a path that is not valid percent-encoding, a path
    // parameter over maxParamLength) get the API's coded body too, not fastify's own.
    frameworkErrors: (err, req, reply) => {
      void reply.header('x-request-id', req.id);
      sendFailure(err, req, reply);
    },
  });
  const ctx: ApiContext = { hub, config };
  const tokens = new ApiTokens(config.tenants, Date.now, hub.credentialChecks);
  const inFlight = new Map<string, number>();

  app.removeContentTypeParser('text/plain');
  app.decorateRequest('tenantId', '');

  // One hook per request, synchronous while the token is cached: metrics for every request
  // (authenticated or not; hijacked streams count until they close), then the token check,
  // the tenant's in-flight bound and, once admitted, the access-log line when the response ends.
  app.addHook('onRequest', (req, reply, done) => {
    const started = performance.now();
    let admitted: string | undefined;
    hub.metrics.apiInFlight.inc();
    void reply.header('x-request-id', req.id);
    reply.raw.once('close', () => {
      const ms = performance.now() - started;
      hub.metrics.apiInFlight.dec();
      const route = req.routeOptions.url ?? '(unmatched)';
      hub.metrics.observeApiRequest({ route, op: operationOf(route), status: reply.raw.statusCode, seconds: ms / 1000 });
      if (admitted === undefined) return;
      inFlight.set(admitted, (inFlight.get(admitted) ?? 1) - 1);
      req.log.info(
        { tenantId: admitted, method: req.method, url: req.url, status: reply.raw.statusCode, ms: Math.round(ms), completed: reply.raw.writableFinished, ...summaryOf(req) },
        'API request',
      );
    });
    if (PUBLIC_PATHS.has(req.url) || !req.url.startsWith('/v1/')) return done();
    const token = ApiTokens.bearer(req.headers.authorization);
    if (token === undefined) return done(new ApiError('UNAUTHORIZED', 'send an API token: Authorization: Bearer TOKEN'));
    const admit = (tenantId: string | undefined): void => {
      if (tenantId === undefined) return done(new ApiError('UNAUTHORIZED', 'the API token is not valid'));
      const running = inFlight.get(tenantId) ?? 0;
      if (running >= config.api.maxInFlightPerTenant) {
        return done(new ApiError('TOO_MANY_REQUESTS', `${running} API requests of this tenant are in flight (api.maxInFlightPerTenant)`));
      }
      req.tenantId = tenantId;
      inFlight.set(tenantId, running + 1);
      admitted = tenantId;
      done();
    };
    const cached = tokens.cached(token);
    if (cached !== undefined) return admit(cached.tenantId);
    tokens.tenantOf(token, hub.clientAddresses.of(req.raw).address).then(admit, (err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
  });

  app.setErrorHandler((err, req, reply) => sendFailure(err, req, reply));
  const methods = new RouteMethods();
  app.addHook('onRoute', (route) => methods.add(route));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? req.url;
    const allowed = methods.allowed(path);
    if (allowed.length === 0) return sendFailure(new ApiError('NO_SUCH_ROUTE', `no endpoint ${req.method} ${path}`), req, reply);
    void reply.header('allow', allowed.join(', '));
    return sendFailure(new ApiError('METHOD_NOT_ALLOWED', `${path} answers ${allowed.join(', ')}, not ${req.method}`), req, reply);
  });
  // Answers are written as they are: the response schemas document them (and the e2e suites
  // check every answer against the document), they do not filter them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // The document is generated from the routes' schemas: the generator sees every route
  // registered after it, and the routes reference the shared schemas by their $id.
  void app.register(swagger, documentOptions());
  for (const schema of [...ANSWER_SCHEMAS, ...PARAMS_SCHEMAS]) app.addSchema(schema);
  void app.register((api, _options, done) => {
    api.get('/v1/openapi.json', { schema: ROUTE_SCHEMAS.openapi }, (_req, reply) => reply.send(app.swagger()));
    registerInfoRoutes(api, ctx);
    registerOperationRoutes(api, ctx);
    registerStreamRoutes(api, ctx);
    done();
  });
  return app;
}
