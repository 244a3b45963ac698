/**
 * The request–response operations of a data source: `test`, `schema`, `attributes`,
 * `resource-types` and `get`. Each answers the agent's result as JSON, or a coded error.
 *
 * The answer is `{"dataSource":…,"requestId":…,"data":…}` with `data` written as the bytes the
 * agent sent (checked by the hub's scanner, protocol.md "Pass-through hub"): one Buffer, no
 * parse and re-serialisation of the data. For data an agent wrote with `JSON.stringify` these
 * are the bytes `JSON.stringify` of the whole answer gave before.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import { ProtocolError, type Operation, type ResultData } from '../../protocol/index.js';
import { hubRequest, noBodyAsEmptyParams, paramsOf, type ApiContext } from './context.js';
import { ROUTE_SCHEMAS } from './schemas/routes.js';

const CLOSE = Buffer.from('}');

/** The answer's bytes: the envelope around the agent's data, as `JSON.stringify` of `{dataSource, requestId, data}` writes it. */
export function answerBody(dataSource: string, requestId: string, data: ResultData): Buffer {
  // Serialised here: data that came parsed may be nested deeper than JSON.stringify can go,
  // which is the agent's fault (BAD_FRAME, 502), not an internal error of the hub (500).
  let json: Buffer | string | undefined;
  try {
    json = data.json();
  } catch (err) {
    throw new ProtocolError('BAD_FRAME', `the agent's answer cannot be written as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const head = `{"dataSource":${JSON.stringify(dataSource)},"requestId":${JSON.stringify(requestId)}`;
  if (json === undefined) return Buffer.from(`${head}}`);
  if (typeof json === 'string') return Buffer.from(`${head},"data":${json}}`);
  const headBytes = Buffer.from(`${head},"data":`);
  return Buffer.concat([headBytes, json, CLOSE], headBytes.length + json.length + 1);
}

/**
 * Sends the answer of a one-result request when it comes; a failure goes to the API's error
 * handler, a client that goes away first unsubscribes (which cancels the request on the agent).
 * A plain callback rather than an async handler: no promise per request.
 */
function answerWhenDone(source$: Observable<ResultData>, reply: FastifyReply, dataSource: string, requestId: string): void {
  let done = false;
  const fail = (err: unknown): void => {
    done = true;
    void reply.send(err instanceof Error ? err : new Error(String(err)));
  };
  const sub = source$.subscribe({
    next: (data) => {
      done = true;
      let body: Buffer;
      try {
        body = answerBody(dataSource, requestId, data);
      } catch (err) {
        return fail(err);
      }
      void reply.type('application/json; charset=utf-8').send(body);
    },
    error: fail,
    complete: () => {
      if (!done) fail(new ProtocolError('INTERNAL', 'the request ended without a result'));
    },
  });
  if (!done) reply.raw.once('close', () => done || sub.unsubscribe());
}

export function registerOperationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const answer = (op: Operation, withParams: boolean) => (req: FastifyRequest, reply: FastifyReply) => {
    const request = hubRequest(ctx, req, op, withParams ? paramsOf(req.body) : {});
    answerWhenDone(ctx.hub.answer$(request), reply, request.dataSource, req.id);
    return reply;
  };
  app.post('/v1/data-sources/:name/test', { schema: ROUTE_SCHEMAS.test }, answer('test', false));
  app.get('/v1/data-sources/:name/schema', { schema: ROUTE_SCHEMAS.schema }, answer('schema', false));
  app.get('/v1/data-sources/:name/attributes', { schema: ROUTE_SCHEMAS.attributes }, answer('attributes', false));
  app.get('/v1/data-sources/:name/resource-types', { schema: ROUTE_SCHEMAS.resourceTypes }, answer('resourceTypes', false));
  app.post('/v1/data-sources/:name/get', { schema: ROUTE_SCHEMAS.get, preValidation: noBodyAsEmptyParams }, answer('get', true));
}
