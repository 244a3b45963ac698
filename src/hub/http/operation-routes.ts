/**
 * The request–response operations of a data source: `test`, `schema`, `attributes`,
 * `resource-types` and `get`. Each answers the agent's result as JSON, or a coded error.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProtocolError, type Operation } from '../../protocol/index.js';
import { hubRequest, paramsOf, untilAnswered, type ApiContext } from './context.js';

export function registerOperationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const answer = (op: Operation, withParams: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const request = hubRequest(ctx, req, op, withParams ? paramsOf(req.body) : {});
    const data = await untilAnswered(ctx.hub.result$(request), reply.raw);
    // Serialised here: the agent's data may be nested deeper than JSON.stringify can go, which
    // is the agent's fault (BAD_FRAME, 502), not an internal error of the hub (500).
    let body: string;
    try {
      body = JSON.stringify({ dataSource: request.dataSource, requestId: req.id, data });
    } catch (err) {
      throw new ProtocolError('BAD_FRAME', `the agent's answer cannot be written as JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    return reply.header('x-request-id', req.id).type('application/json; charset=utf-8').send(body);
  };
  app.post('/v1/data-sources/:name/test', answer('test', false));
  app.get('/v1/data-sources/:name/schema', answer('schema', false));
  app.get('/v1/data-sources/:name/attributes', answer('attributes', false));
  app.get('/v1/data-sources/:name/resource-types', answer('resourceTypes', false));
  app.post('/v1/data-sources/:name/get', answer('get', true));
}
