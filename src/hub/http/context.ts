/** What every API route needs: the hub, its config, and the request's tenant and id. */
import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { HubConfig } from '../../config/index.js';
import type { Hub, HubRequest } from '../hub.js';
import type { Operation } from '../../protocol/index.js';
import { ProtocolError } from '../../protocol/index.js';
import { describeFailure, retryAfterOf } from './errors.js';

export interface ApiContext {
  readonly hub: Hub;
  readonly config: HubConfig;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every /v1 route except the OpenAPI document. */
    tenantId: string;
  }
}

/** The configured timeout of `op`, shortened (never lengthened) by a `?timeoutMs=` query. */
export function timeoutFor(ctx: ApiContext, op: Operation, req: FastifyRequest): number {
  const configured = ctx.hub.timeoutFor(op);
  const q = req.url.indexOf('?');
  if (q === -1) return configured;
  // The route's query schema has checked that it is one integer >= 1, but a schema's type
  // coercion also takes "1e3" or "0x10": the text itself must be decimal digits.
  const given = new URLSearchParams(req.url.slice(q + 1)).getAll('timeoutMs');
  if (given.length === 0) return configured;
  const raw = given.length === 1 ? given[0]! : given.join(',');
  const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new ProtocolError('BAD_REQUEST', `timeoutMs must be a positive integer, got ${JSON.stringify(raw)}`);
  return Math.min(n, configured);
}

/** The data source named in the path. */
export function dataSourceOf(req: FastifyRequest): string {
  return (req.params as { name: string }).name;
}

export function hubRequest(ctx: ApiContext, req: FastifyRequest, op: Operation, params: Record<string, unknown> = {}): HubRequest {
  return { tenantId: req.tenantId, dataSource: dataSourceOf(req), op, params, timeoutMs: timeoutFor(ctx, op, req), id: req.id };
}

/**
 * A route's `preValidation`: no body (or JSON `null`) is the empty object of parameters, as it
 * always was, before the route's body schema (an object) is checked.
 */
export function noBodyAsEmptyParams(req: FastifyRequest, _reply: unknown, done: () => void): void {
  if (req.body === undefined || req.body === null) req.body = {};
  done();
}

/** A JSON object body (or none); anything else is BAD_REQUEST. */
export function paramsOf(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new ProtocolError('BAD_REQUEST', `the request body must be a JSON object of parameters, got ${Array.isArray(body) ? 'an array' : typeof body}`);
  }
  return body as Record<string, unknown>;
}

/** A JSON error on a hijacked response (headers not yet sent). */
export function writeFailure(res: ServerResponse, err: unknown, requestId: string, extraHeaders: Record<string, string> = {}): void {
  const { status, body } = describeFailure(err, requestId);
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'x-request-id': requestId,
    ...(body.retryable && (status === 503 || status === 429) ? { 'retry-after': String(retryAfterOf(err)) } : {}),
    ...extraHeaders,
  });
  res.end(JSON.stringify(body));
}

/** The error line that ends an NDJSON stream which failed after it began. */
export function errorLine(err: unknown, requestId: string, count: number): unknown {
  const { body } = describeFailure(err, requestId);
  return { error: { code: body.code, message: body.message, retryable: body.retryable }, requestId, count };
}
