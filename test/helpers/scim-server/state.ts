/**
 * Per-server state, found from a request through its Express app, and the context the routers
 * hand to the resource handlers.
 */
import { randomBytes } from 'node:crypto';
import type { Application, Request, Response } from 'express';
import SCIMMY from 'scimmy';
import type { RecordedRequest, ScimGroup, ScimServerOptions, ScimUser } from './types.js';

export interface Fault {
  status: number;
  body: object | undefined;
  headers: Record<string, string>;
}

export interface State {
  users: Map<string, ScimUser>;
  groups: Map<string, ScimGroup>;
  /** lower-cased userName → id */
  userNames: Map<string, string>;
  /** user id → ids of the groups listing it as a member */
  memberOf: Map<string, Set<string>>;
  token: string;
  basic: { userName: string; password: string } | undefined;
  oauth: { clientId: string; clientSecret: string; expiresInSec: number } | undefined;
  /** issued OAuth token → expiry (ms since the epoch) */
  issued: Map<string, number>;
  faults: Fault[];
  requests: RecordedRequest[];
  log: string[];
  latencyMs: number;
  maxResults: number;
  /** `http(s)://127.0.0.1:PORT` */
  origin: string;
}

export const states = new WeakMap<Application, State>();

export function stateOf(req: Request): State {
  const st = states.get(req.app);
  if (!st) throw new Error('request is not served by a SCIM test server');
  return st;
}

/** What the routers pass to the resource handlers as `ctx`. */
export interface Ctx {
  st: State;
  req: Request;
  res: Response;
}

export function ctxOf(ctx: unknown): Ctx {
  if (typeof ctx === 'object' && ctx !== null && 'st' in ctx && 'req' in ctx && 'res' in ctx) return ctx as Ctx;
  throw new SCIMMY.Types.Error(500, '', 'handler called without the SCIM test server context');
}

/** A fresh, empty state; `origin` is set once the server listens. */
export function createState(opts: ScimServerOptions): State {
  return {
    users: new Map(),
    groups: new Map(),
    userNames: new Map(),
    memberOf: new Map(),
    token: opts.token ?? randomBytes(24).toString('base64url'),
    basic: opts.basic,
    oauth: opts.oauth ? { clientId: opts.oauth.clientId, clientSecret: opts.oauth.clientSecret, expiresInSec: opts.oauth.expiresInSec ?? 3600 } : undefined,
    issued: new Map(),
    faults: [],
    requests: [],
    log: [],
    latencyMs: opts.latencyMs ?? 0,
    maxResults: opts.maxResults ?? 200,
    origin: '',
  };
}
