/**
 * The request–response operations of a data source: `test`, `schema`, `attributes`,
 * `resource-types` and `get`. Each answers the agent's result as JSON, or a coded error.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Operation } from '../../protocol/index.js';
import { hubRequest, paramsOf, untilAnswered, type ApiContext } from './context.js';

export function registerOperationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const answer = (op: Operation, withParams: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const request = hubRequest(ctx, req, op, withParams ? paramsOf(req.body) : {});
    const data = await untilAnswered(ctx.hub.result$(request), reply.raw);
    return reply.header('x-request-id', req.id).send({ dataSource: request.dataSource, requestId: req.id, data });
  };
  app.post('/v1/data-sources/:name/test', answer('test', false));
  app.get('/v1/data-sources/:name/schema', answer('schema', false));
  app.get('/v1/data-sources/:name/attributes', answer('attributes', false));
  app.get('/v1/data-sources/:name/resource-types', answer('resourceTypes', false));
  app.post('/v1/data-sources/:name/get', answer('get', true));
}
