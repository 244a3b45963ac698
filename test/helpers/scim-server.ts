/**
 * A real SCIM 2.0 service provider for tests (STYLE.md §17), not a mock: `scimmy` (RFC 7643/7644
 * schemas, filter parsing, PatchOp, attribute projection, list responses) behind the Express 4
 * routers of `scimmy-routers`, with an in-memory store, on 127.0.0.1 and a port picked by the OS.
 *
 * What this fixture adds to scimmy, and why:
 * - Listing: the egress handler applies `filter.match` itself (scimmy leaves filtering to the
 *   handler), sorts, and returns only the requested page. scimmy would otherwise turn every stored
 *   resource into a schema instance (~1 ms each, over a second for 1,200 users) before paging. The
 *   page goes to scimmy's ListResponse as an already-sorted first page; the real `startIndex` and
 *   `itemsPerPage` (= resources in this page, RFC 7644 §3.4.2; scimmy reports the requested
 *   `count`) are written back into the response body. Every *returned* resource still costs ~1 ms
 *   of scimmy schema coercion: a 200-resource page takes ~200 ms.
 * - Sorting is done here too (before paging and before projection, so the sort key need not be
 *   returned); it is stable, insertion order breaks ties.
 * - `count` is capped at, and defaults to, `maxResults` (200), which ServiceProviderConfig
 *   advertises as `filter.maxResults` and (RFC 9865) `pagination.maxPageSize`.
 * - Filters: string comparisons are case-insensitive for `caseExact: false` attributes
 *   (RFC 7643 §2.2; scimmy compares with `===`), `urn:…:User:attr` paths of the core and the
 *   enterprise schema work (scimmy's parser keeps them as one opaque key), and filters on a complex
 *   attribute a resource lacks (e.g. `name.familyName` on a user without `name`) do not crash
 *   scimmy's matcher (which answers 400 then). Unparseable filters, including `userName eq` (no
 *   value, which scimmy's string parser accepts), are 400 `invalidFilter`.
 * - `sortBy` on extension attributes (scimmy splits the path on "." and breaks on "2.0") and
 *   type-aware ordering (strings case-insensitively, missing values last in ascending order).
 *   An unknown `sortBy` attribute is a 400 `invalidValue`.
 * - ETags: scimmy and scimmy-routers know `meta.version` only as an attribute. Here every
 *   resource has `meta.version` `W/"<revision>"`, single-resource responses carry it as `ETag`,
 *   `If-Match` on PUT/PATCH/DELETE that does not match answers 412, `If-None-Match` on GET by id
 *   that matches answers 304. Express's own body-hash ETags are off.
 * - Uniqueness of `userName` (case-insensitive) → 409 `uniqueness`; `Location` on 201;
 *   server-computed `groups` on users, `display`/`$ref`/`type` on members and
 *   `manager.displayName`/`$ref`; unknown member ids → 400 `invalidValue`; deleting a user
 *   removes it from its groups.
 * - Auth (Bearer, optional Basic, optional OAuth 2.0 client-credentials token endpoint) runs before
 *   the routers so that a 401 carries `WWW-Authenticate` and a SCIM error body. Discovery
 *   endpoints require authentication too.
 *
 * What scimmy does on its own: PATCH reads the resource through the egress handler, applies the
 * operations (add/replace/remove, filtered paths such as `members[value eq "…"]`, extension
 * paths) and writes the result through the ingress handler (which therefore cannot tell PUT from
 * PATCH); it answers 200 with the resource, or 204 when nothing changed. Projection
 * (`attributes`/`excludedAttributes`) and `returned: never` (password) are scimmy's.
 *
 * Known limits (scimmy 1.3.5): `(a or b) and not (c)` loses the `not (c)` clause;
 * `emails[type eq "x"] and emails[value co "y"]` is evaluated as one `emails[…]` (same element);
 * PATCH ignores `attributes`/`excludedAttributes` here because scimmy would project the resource
 * *before* patching and the write would drop everything else; `/Bulk` is not offered (501), and
 * the root `/.search` across resource types pages each type separately. A PUT without `password`
 * keeps the stored one (the ingress handler cannot tell PUT from PATCH, and PATCH never sees it).
 *
 * scimmy and its routers are process-wide singletons (resource handlers, Config, base paths):
 * the handlers and the one router instance are set up once per module instance and find the
 * server they serve through `req.app`, so several servers can run side by side in one test file.
 * The routers set the global base path at the start of each request and scimmy reads it when it
 * renders the response; that is only safe because the handlers are synchronous (nothing but
 * microtasks in between). Keep them that way.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type Application, type NextFunction, type Request, type Response } from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { beforeEach } from 'vitest';

export interface ScimServerOptions {
  /** Seeded users `user00001`…; default 1200. */
  users?: number;
  /** Seeded groups `group01`…; default 20. Seeded user n is a member of group ((n-1) mod groups)+1. */
  groups?: number;
  /** Bearer token accepted on every request; default random. */
  token?: string;
  /** Also accept HTTP Basic with these credentials. */
  basic?: { userName: string; password: string };
  /** Also serve `POST /oauth/token` (client_credentials) and accept the tokens it issues. */
  oauth?: { clientId: string; clientSecret: string; /** default 3600 */ expiresInSec?: number };
  /** Serve https (e.g. `makeTestPki(dir).server`). */
  tls?: { certFile: string; keyFile: string };
  /** Delay before every request is handled. */
  latencyMs?: number;
  /** Largest page (and default page size); advertised as filter.maxResults. Default 200. */
  maxResults?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without query, e.g. `/scim/v2/Users`. */
  path: string;
  /** Decoded query parameters (last value wins). */
  query: Record<string, string>;
  /** 0 while in flight (or if the connection was closed before a response). */
  status: number;
  /** Arrival, ms since the epoch. */
  at: number;
  /** Response finished, ms since the epoch. */
  end?: number;
}

export interface ScimMeta {
  resourceType: 'User' | 'Group';
  created: string;
  lastModified: string;
  /** Weak ETag, `W/"<revision>"`. */
  version: string;
  location: string;
}

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
  display?: string;
}

export interface ScimUser {
  id: string;
  schemas: string[];
  meta: ScimMeta;
  userName: string;
  externalId?: string;
  displayName?: string;
  name?: { formatted?: string; givenName?: string; familyName?: string; middleName?: string };
  emails?: ScimEmail[];
  active?: boolean;
  /** Write-only (never returned over SCIM); kept for assertions. */
  password?: string;
  [ENTERPRISE]?: {
    employeeNumber?: string;
    department?: string;
    manager?: { value?: string; $ref?: string; displayName?: string };
    [attr: string]: unknown;
  };
  [attr: string]: unknown;
}

export interface ScimMember {
  value: string;
  display?: string;
  $ref?: string;
  type?: 'User' | 'Group';
}

export interface ScimGroup {
  id: string;
  schemas: string[];
  meta: ScimMeta;
  displayName: string;
  externalId?: string;
  members?: ScimMember[];
  [attr: string]: unknown;
}

export interface ScimServer {
  /** Base URL, e.g. `http://127.0.0.1:PORT/scim/v2`. */
  readonly url: string;
  readonly port: number;
  /** The static bearer token. */
  readonly token: string;
  /** `…/oauth/token` when `oauth` is set. */
  readonly tokenUrl: string | undefined;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** One line per request and per server error; print it when a test fails. */
  readonly log: string[];
  /** The live store (read it; write through SCIM). */
  readonly store: { readonly users: Map<string, ScimUser>; readonly groups: Map<string, ScimGroup> };
  userByName(userName: string): ScimUser | undefined;
  /** The next request (any path) is answered with this; calls queue up. */
  failNext(status: number, body?: object, headers?: Record<string, string>): void;
  setLatency(ms: number): void;
  /** Close the listener and every connection; the data stays. */
  stop(): Promise<void>;
  /** Listen again on the same port with the same data. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const BASE_PATH = '/scim/v2';
const REALM = 'datasync-scim-test';

// ---------------------------------------------------------------------------------------------
// Per-server state, found from a request through its Express app.

interface Fault {
  status: number;
  body: object | undefined;
  headers: Record<string, string>;
}

interface State {
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

const states = new WeakMap<Application, State>();

function stateOf(req: Request): State {
  const st = states.get(req.app);
  if (!st) throw new Error('request is not served by a SCIM test server');
  return st;
}

/** What the routers pass to the resource handlers as `ctx`. */
interface Ctx {
  st: State;
  req: Request;
  res: Response;
}

function ctxOf(ctx: unknown): Ctx {
  if (typeof ctx === 'object' && ctx !== null && 'st' in ctx && 'req' in ctx && 'res' in ctx) return ctx as Ctx;
  throw new SCIMMY.Types.Error(500, '', 'handler called without the SCIM test server context');
}

/** `scimType` '' = none (scimmy's typings want a string; its error response omits an empty one). */
function scimError(status: number, scimType: string, detail: string): InstanceType<typeof SCIMMY.Types.Error> {
  return new SCIMMY.Types.Error(status, scimType, detail);
}

function errorBody(status: number, detail: string, scimType?: string): object {
  return { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail };
}

// ---------------------------------------------------------------------------------------------
// Plain-data helpers.

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toPlain(v: unknown): Json {
  const parsed: unknown = JSON.parse(JSON.stringify(v));
  if (!isObject(parsed)) throw new Error('expected an object');
  return parsed;
}

/** Case-insensitive own-key lookup (SCIM attribute names are case-insensitive). */
function getCi(obj: Json, key: string): unknown {
  if (key in obj) return obj[key];
  const k = key.toLowerCase();
  for (const [name, value] of Object.entries(obj)) if (name.toLowerCase() === k) return value;
  return undefined;
}

function revisionOf(version: string): number {
  const m = /^W\/"(\d+)"$/.exec(version);
  return m ? Number(m[1]) : 0;
}

function sameContent(a: Json, b: Json): boolean {
  const strip = (o: Json): string => JSON.stringify({ ...o, meta: undefined, id: undefined });
  return strip(a) === strip(b);
}

/** Opaque-tag comparison of an If-Match / If-None-Match header with a version (weak comparison). */
function etagMatches(header: string, version: string): boolean {
  const bare = (t: string): string => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || bare(t) === bare(version));
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

// ---------------------------------------------------------------------------------------------
// Filtering and sorting over plain stored resources.

type Definition = InstanceType<typeof SCIMMY.Types.SchemaDefinition>;

/** Lower-cased paths (`name.familyname`, `<ext urn lower>.department`) of caseExact=false strings. */
const foldablePaths = new WeakMap<Definition, Set<string>>();

function foldable(def: Definition): Set<string> {
  const cached = foldablePaths.get(def);
  if (cached) return cached;
  const set = new Set<string>();
  const walk = (attrs: ReadonlyArray<unknown>, prefix: string): void => {
    for (const a of attrs) {
      if (a instanceof SCIMMY.Types.SchemaDefinition) {
        walk(a.attributes, `${a.id.toLowerCase()}.`);
      } else if (a instanceof SCIMMY.Types.Attribute) {
        const path = `${prefix}${a.name.toLowerCase()}`;
        if (a.type === 'string' && !a.config.caseExact) set.add(path);
        if (a.subAttributes) walk(a.subAttributes, `${path}.`);
      }
    }
  };
  walk(def.attributes, '');
  foldablePaths.set(def, set);
  return set;
}

function joinPath(path: string, key: string): string {
  return path ? `${path}.${key.toLowerCase()}` : key.toLowerCase();
}

function foldValue(v: unknown, path: string, set: Set<string>): unknown {
  if (typeof v === 'string') return set.has(path) ? v.toLowerCase() : v;
  if (Array.isArray(v)) return v.map((x) => foldValue(x, path, set));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, foldValue(x, joinPath(path, k), set)]));
  return v;
}

function foldExpression(e: unknown, path: string, set: Set<string>): unknown {
  if (Array.isArray(e)) {
    const items: unknown[] = e;
    if (items.every((x) => typeof x !== 'object' || x === null)) {
      // A leaf: [op], [op, value] or ["not", op, value]; the value is last.
      const last = items.length - 1;
      return items.map((x, i) => (i === last && i > 0 && typeof x === 'string' && set.has(path) ? x.toLowerCase() : x));
    }
    return items.map((x) => foldExpression(x, path, set));
  }
  if (isObject(e)) return Object.fromEntries(Object.entries(e).map(([k, x]) => [k, foldExpression(x, joinPath(path, k), set)]));
  return e;
}

/** `urn:…:core:2.0:User:userName` → `userName`; `urn:…:enterprise:2.0:User:manager` → nested under the URN. */
function normaliseUrnKeys(expr: Json, coreUrn: string, extensions: string[]): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(expr)) {
    const lower = key.toLowerCase();
    if (lower.startsWith(`${coreUrn.toLowerCase()}:`)) {
      out[key.slice(coreUrn.length + 1)] = value;
      continue;
    }
    const ext = extensions.find((u) => lower.startsWith(`${u.toLowerCase()}:`));
    if (ext) {
      const inner = isObject(out[ext]) ? out[ext] : {};
      inner[key.slice(ext.length + 1)] = value;
      out[ext] = inner;
      continue;
    }
    out[key] = value;
  }
  return out;
}

/** Make every complex attribute a filter descends into exist (scimmy's matcher crashes on a missing one). */
function fillComplex(target: Json, expr: Json): void {
  for (const [key, e] of Object.entries(expr)) {
    const exprs = isObject(e) ? [e] : Array.isArray(e) ? e.filter(isObject) : [];
    if (exprs.length === 0) continue;
    let actualKey = Object.keys(target).find((k) => k.toLowerCase() === key.toLowerCase());
    if (actualKey === undefined || target[actualKey] === null || target[actualKey] === undefined) {
      actualKey ??= key;
      target[actualKey] = {};
    }
    const actual = target[actualKey];
    if (isObject(actual)) for (const sub of exprs) fillComplex(actual, sub);
  }
}

function matchFilter<T extends Json>(
  filter: InstanceType<typeof SCIMMY.Types.Filter>,
  items: T[],
  def: Definition,
  view: (item: T) => Json,
): T[] {
  const set = foldable(def);
  const extensions = def.attributes.filter((a) => a instanceof SCIMMY.Types.SchemaDefinition).map((a) => a.id);
  const raw: unknown = JSON.parse(JSON.stringify(filter));
  const exprs = (Array.isArray(raw) ? raw : []).filter(isObject).map((e) => foldExpression(normaliseUrnKeys(e, def.id, extensions), '', set) as Json);
  if (exprs.length === 0) return items;
  const normalised = new SCIMMY.Types.Filter(exprs);
  const byView = new Map<Json, T>();
  const views = items.map((item) => {
    const v = foldValue(view(item), '', set) as Json;
    for (const e of exprs) fillComplex(v, e);
    byView.set(v, item);
    return v;
  });
  const matched: unknown[] = normalised.match(views);
  return matched.filter(isObject).map((v) => byView.get(v)!);
}

/** The value `sortBy` names: multi-valued → primary (or first) element, complex → its `value`. */
function sortValue(item: Json, sortBy: string, def: Definition): unknown {
  let target: unknown = item;
  let rest = sortBy;
  const lower = sortBy.toLowerCase();
  if (lower.startsWith(`${def.id.toLowerCase()}:`)) rest = sortBy.slice(def.id.length + 1);
  for (const a of def.attributes) {
    if (a instanceof SCIMMY.Types.SchemaDefinition && lower.startsWith(`${a.id.toLowerCase()}:`)) {
      target = item[a.id];
      rest = sortBy.slice(a.id.length + 1);
    }
  }
  for (const part of rest.split('.')) {
    if (Array.isArray(target)) target = target.find((v) => isObject(v) && v.primary === true) ?? target[0];
    target = isObject(target) ? getCi(target, part) : undefined;
  }
  if (Array.isArray(target)) target = target.find((v) => isObject(v) && v.primary === true) ?? target[0];
  if (isObject(target)) target = target.value;
  return target;
}

const collator = new Intl.Collator('en', { sensitivity: 'accent', numeric: false });

function sortItems<T extends Json>(items: T[], sortBy: string, sortOrder: string | undefined, def: Definition): T[] {
  let attr: InstanceType<typeof SCIMMY.Types.Attribute>;
  try {
    attr = def.attribute(sortBy);
  } catch {
    throw scimError(400, 'invalidValue', `sortBy: unknown attribute '${sortBy}'`);
  }
  const keyed = items.map((item) => ({ item, key: sortValue(item, sortBy, def) }));
  const compare = (a: unknown, b: unknown): number => {
    const missingA = a === undefined || a === null;
    const missingB = b === undefined || b === null;
    if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
    if (attr.type === 'dateTime' && typeof a === 'string' && typeof b === 'string') return Date.parse(a) - Date.parse(b);
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
    const sa = typeof a === 'string' ? a : JSON.stringify(a);
    const sb = typeof b === 'string' ? b : JSON.stringify(b);
    if (attr.config.caseExact) return sa < sb ? -1 : sa > sb ? 1 : 0;
    return collator.compare(sa, sb);
  };
  keyed.sort((x, y) => compare(x.key, y.key));
  // RFC 7644 §3.4.2.3: no value sorts last ascending and first descending.
  if (sortOrder === 'descending') keyed.reverse();
  return keyed.map((k) => k.item);
}

/** Filter, sort and page for a list egress; tells scimmy's ListResponse not to sort or slice again. */
function listPage<T extends Json>(
  resource: InstanceType<typeof SCIMMY.Types.Resource>,
  all: T[],
  def: Definition,
  ctx: Ctx,
  view: (item: T) => Json,
): Json[] {
  const c = resource.constraints ?? {};
  let list = resource.filter ? matchFilter(resource.filter, all, def, view) : all;
  if (c.sortBy) list = sortItems(list, c.sortBy, c.sortOrder, def);
  const startIndex = Math.max(1, typeof c.startIndex === 'number' ? c.startIndex : 1);
  const count = Math.min(ctx.st.maxResults, Math.max(0, typeof c.count === 'number' ? c.count : ctx.st.maxResults));
  const page = list.slice(startIndex - 1, startIndex - 1 + count);
  // ListResponse slices from `startIndex` and sorts by `sortBy`: hand it a finished first page.
  resource.constraints = { startIndex: 1, count: page.length, totalResults: list.length } as NonNullable<typeof resource.constraints>;
  (ctx.res.locals as { scimStartIndex?: number }).scimStartIndex = startIndex;
  return page.map(view);
}

// ---------------------------------------------------------------------------------------------
// Resource handlers (process-wide, dispatching on ctx).

function nowIso(): string {
  return new Date().toISOString();
}

function userView(st: State, u: ScimUser): Json {
  const gids = st.memberOf.get(u.id);
  const out: Json = structuredClone(u);
  // Never returned (scimmy drops it too) and never filterable.
  delete out.password;
  if (gids && gids.size > 0) {
    out.groups = [...gids].flatMap((gid) => {
      const g = st.groups.get(gid);
      return g ? [{ value: g.id, display: g.displayName, $ref: g.meta.location, type: 'direct' }] : [];
    });
  }
  return out;
}

function groupView(g: ScimGroup): Json {
  return structuredClone(g);
}

function indexMembers(st: State, groupId: string, before: ScimMember[] | undefined, after: ScimMember[] | undefined): void {
  for (const m of before ?? []) st.memberOf.get(m.value)?.delete(groupId);
  for (const m of after ?? []) {
    if (m.type !== 'User') continue;
    let set = st.memberOf.get(m.value);
    if (!set) st.memberOf.set(m.value, (set = new Set()));
    set.add(groupId);
  }
}

function userIngress(resource: InstanceType<typeof SCIMMY.Resources.User>, instance: unknown, rawCtx: unknown): Json {
  const ctx = ctxOf(rawCtx);
  const { st } = ctx;
  const data = toPlain(instance);
  // Write-only attributes are not in the schema instance's JSON.
  const password = (instance as { password?: unknown }).password;
  if (typeof password === 'string') data.password = password;
  delete data.id;
  delete data.meta;
  delete data.groups;
  const userName = typeof data.userName === 'string' ? data.userName : '';
  if (!userName) throw scimError(400, 'invalidValue', 'userName is required');
  const holder = st.userNames.get(userName.toLowerCase());
  if (holder !== undefined && holder !== resource.id) {
    throw scimError(409, 'uniqueness', `userName '${userName}' is already in use`);
  }
  const existing = resource.id === undefined ? undefined : st.users.get(resource.id);
  if (resource.id !== undefined && !existing) throw scimError(404, '', `Resource ${resource.id} not found`);
  if (existing?.password !== undefined && data.password === undefined) data.password = existing.password;
  const ext = data[ENTERPRISE];
  if (isObject(ext) && isObject(ext.manager) && typeof ext.manager.value === 'string') {
    const manager = st.users.get(ext.manager.value);
    if (manager) ext.manager = { ...ext.manager, $ref: manager.meta.location, displayName: manager.displayName ?? manager.userName };
  }
  const id = existing?.id ?? randomUUID();
  if (existing && sameContent(data, existing)) {
    ctx.res.setHeader('ETag', existing.meta.version);
    return userView(st, existing);
  }
  const now = nowIso();
  const location = `${st.origin}${BASE_PATH}/Users/${id}`;
  const record = {
    ...data,
    id,
    schemas: Array.isArray(data.schemas) ? data.schemas.filter((x): x is string => typeof x === 'string') : [CORE_USER],
    userName,
    meta: {
      resourceType: 'User',
      created: existing?.meta.created ?? now,
      lastModified: now,
      version: `W/"${existing ? revisionOf(existing.meta.version) + 1 : 1}"`,
      location,
    },
  } as ScimUser;
  if (existing) st.userNames.delete(existing.userName.toLowerCase());
  st.userNames.set(userName.toLowerCase(), id);
  st.users.set(id, record);
  ctx.res.setHeader('ETag', record.meta.version);
  if (!existing) ctx.res.setHeader('Location', location);
  return userView(st, record);
}

function userEgress(resource: InstanceType<typeof SCIMMY.Resources.User>, rawCtx: unknown): Json | Json[] {
  const ctx = ctxOf(rawCtx);
  const { st } = ctx;
  if (resource.id !== undefined) {
    const u = st.users.get(resource.id);
    if (!u) throw scimError(404, '', `Resource ${resource.id} not found`);
    ctx.res.setHeader('ETag', u.meta.version);
    return userView(st, u);
  }
  return listPage(resource, [...st.users.values()], SCIMMY.Schemas.User.definition, ctx, (u) => userView(st, u));
}

function userDegress(resource: InstanceType<typeof SCIMMY.Resources.User>, rawCtx: unknown): void {
  const { st } = ctxOf(rawCtx);
  const id = resource.id ?? '';
  const u = st.users.get(id);
  if (!u) throw scimError(404, '', `Resource ${id} not found`);
  st.users.delete(id);
  st.userNames.delete(u.userName.toLowerCase());
  const now = nowIso();
  for (const gid of st.memberOf.get(id) ?? []) {
    const g = st.groups.get(gid);
    if (!g) continue;
    st.groups.set(gid, {
      ...g,
      members: (g.members ?? []).filter((m) => m.value !== id),
      meta: { ...g.meta, lastModified: now, version: `W/"${revisionOf(g.meta.version) + 1}"` },
    });
  }
  st.memberOf.delete(id);
}

function groupIngress(resource: InstanceType<typeof SCIMMY.Resources.Group>, instance: unknown, rawCtx: unknown): Json {
  const ctx = ctxOf(rawCtx);
  const { st } = ctx;
  const data = toPlain(instance);
  delete data.id;
  delete data.meta;
  const displayName = typeof data.displayName === 'string' ? data.displayName : '';
  if (!displayName) throw scimError(400, 'invalidValue', 'displayName is required');
  const existing = resource.id === undefined ? undefined : st.groups.get(resource.id);
  if (resource.id !== undefined && !existing) throw scimError(404, '', `Resource ${resource.id} not found`);
  const id = existing?.id ?? randomUUID();
  const seen = new Set<string>();
  const members: ScimMember[] = [];
  for (const m of Array.isArray(data.members) ? data.members : []) {
    const value = isObject(m) && typeof m.value === 'string' ? m.value : '';
    if (!value || seen.has(value)) continue;
    seen.add(value);
    const user = st.users.get(value);
    const group = user ? undefined : st.groups.get(value);
    if (!user && !group) throw scimError(400, 'invalidValue', `member '${value}' does not exist`);
    if (group && value === id) throw scimError(400, 'invalidValue', 'a group cannot be a member of itself');
    members.push(
      user
        ? { value, display: user.displayName ?? user.userName, $ref: user.meta.location, type: 'User' }
        : { value, display: group!.displayName, $ref: group!.meta.location, type: 'Group' },
    );
  }
  if (members.length > 0) data.members = members;
  else delete data.members;
  if (existing && sameContent(data, existing)) {
    ctx.res.setHeader('ETag', existing.meta.version);
    return groupView(existing);
  }
  const now = nowIso();
  const location = `${st.origin}${BASE_PATH}/Groups/${id}`;
  const record = {
    ...data,
    id,
    schemas: [CORE_GROUP],
    displayName,
    meta: {
      resourceType: 'Group',
      created: existing?.meta.created ?? now,
      lastModified: now,
      version: `W/"${existing ? revisionOf(existing.meta.version) + 1 : 1}"`,
      location,
    },
  } as ScimGroup;
  indexMembers(st, id, existing?.members, record.members);
  st.groups.set(id, record);
  ctx.res.setHeader('ETag', record.meta.version);
  if (!existing) ctx.res.setHeader('Location', location);
  return groupView(record);
}

function groupEgress(resource: InstanceType<typeof SCIMMY.Resources.Group>, rawCtx: unknown): Json | Json[] {
  const ctx = ctxOf(rawCtx);
  const { st } = ctx;
  if (resource.id !== undefined) {
    const g = st.groups.get(resource.id);
    if (!g) throw scimError(404, '', `Resource ${resource.id} not found`);
    ctx.res.setHeader('ETag', g.meta.version);
    return groupView(g);
  }
  return listPage(resource, [...st.groups.values()], SCIMMY.Schemas.Group.definition, ctx, groupView);
}

function groupDegress(resource: InstanceType<typeof SCIMMY.Resources.Group>, rawCtx: unknown): void {
  const { st } = ctxOf(rawCtx);
  const id = resource.id ?? '';
  const g = st.groups.get(id);
  if (!g) throw scimError(404, '', `Resource ${id} not found`);
  indexMembers(st, id, g.members, undefined);
  st.groups.delete(id);
  const now = nowIso();
  for (const other of st.groups.values()) {
    if (!(other.members ?? []).some((m) => m.value === id)) continue;
    st.groups.set(other.id, {
      ...other,
      members: (other.members ?? []).filter((m) => m.value !== id),
      meta: { ...other.meta, lastModified: now, version: `W/"${revisionOf(other.meta.version) + 1}"` },
    });
  }
}

let router: SCIMMYRouters | undefined;

/** Declares User (+ enterprise extension) and Group with the handlers above, once per module instance. */
function scimRouter(): SCIMMYRouters {
  if (router) return router;
  const { User, Group } = SCIMMY.Resources;
  if (!SCIMMY.Resources.declared(User)) SCIMMY.Resources.declare(User.extend(SCIMMY.Schemas.EnterpriseUser, false));
  if (!SCIMMY.Resources.declared(Group)) SCIMMY.Resources.declare(Group);
  // scimmy's typings want its schema instances back from ingress/egress; at run time it takes plain
  // objects (and pushes them through the schema anyway).
  User.ingress(userIngress as never).egress(userEgress as never).degress(userDegress);
  Group.ingress(groupIngress as never).egress(groupEgress as never).degress(groupDegress);
  router = new SCIMMYRouters({
    type: 'bearer',
    // Authentication already happened (authenticate() below); not a user, so /Me answers 501.
    handler: () => undefined as unknown as string,
    context: (req: Request): Ctx => ({ st: stateOf(req), req, res: req.res! }),
    baseUri: (req: Request) => stateOf(req).origin,
  });
  // The routers switch bulk on; nothing here implements ETags for bulk operations.
  SCIMMY.Config.set({ patch: true, filter: 200, sort: true, etag: true, bulk: false, changePassword: false });
  return router;
}

// ---------------------------------------------------------------------------------------------
// Express middleware.

function recordRequests(st: State) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const url = new URL(req.originalUrl, 'http://x');
    const rec: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      at: Date.now(),
    };
    st.requests.push(rec);
    res.on('finish', () => {
      rec.status = res.statusCode;
      rec.end = Date.now();
      st.log.push(`${new Date(rec.at).toISOString()} ${rec.method} ${req.originalUrl} -> ${rec.status} (${rec.end - rec.at} ms)`);
    });
    next();
  };
}

function injectFaults(st: State) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const fault = st.faults.shift();
    if (!fault) return next();
    res.status(fault.status);
    for (const [k, v] of Object.entries(fault.headers)) res.setHeader(k, v);
    if (fault.status === 204 || fault.status === 304) {
      res.end();
      return;
    }
    if (!res.getHeader('content-type')) res.type('application/scim+json');
    res.send(JSON.stringify(fault.body ?? errorBody(fault.status, `Injected failure (HTTP ${fault.status})`)));
  };
}

function authenticate(st: State) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const credentials = space < 0 ? '' : header.slice(space + 1).trim();
    let tokenError: string | undefined;
    if (scheme === 'bearer' && credentials) {
      if (safeEqual(credentials, st.token)) return next();
      const expiry = st.issued.get(credentials);
      if (expiry !== undefined && expiry > Date.now()) return next();
      tokenError = expiry === undefined ? 'The access token is not valid' : 'The access token expired';
    } else if (scheme === 'basic' && st.basic) {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0 && safeEqual(decoded.slice(0, colon), st.basic.userName) && safeEqual(decoded.slice(colon + 1), st.basic.password)) {
        return next();
      }
    }
    const challenges = [
      tokenError ? `Bearer realm="${REALM}", error="invalid_token", error_description="${tokenError}"` : `Bearer realm="${REALM}"`,
      ...(st.basic ? [`Basic realm="${REALM}", charset="UTF-8"`] : []),
    ];
    res.status(401).setHeader('WWW-Authenticate', challenges).type('application/scim+json');
    res.send(JSON.stringify(errorBody(401, tokenError ?? 'Authentication required')));
  };
}

const RESOURCE_PATH = /^\/(Users|Groups)\/([^/]+)$/;

/** ETag preconditions, PATCH projection guard, and the response rewrites described at the top. */
function scimExtras(st: State) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const path = req.path;
    const m = RESOURCE_PATH.exec(path);
    if (m && m[2] !== '.search') {
      const store = m[1] === 'Users' ? st.users : st.groups;
      const current = store.get(decodeURIComponent(m[2]!));
      const ifMatch = req.headers['if-match'];
      const ifNoneMatch = req.headers['if-none-match'];
      if (current && ifMatch && ['PUT', 'PATCH', 'DELETE'].includes(req.method) && !etagMatches(ifMatch, current.meta.version)) {
        res.status(412).setHeader('ETag', current.meta.version).type('application/scim+json');
        res.send(JSON.stringify(errorBody(412, `Failed to update: resource changed on the server (now ${current.meta.version})`)));
        return;
      }
      if (current && ifNoneMatch && req.method === 'GET' && etagMatches(ifNoneMatch, current.meta.version)) {
        res.status(304).setHeader('ETag', current.meta.version);
        res.end();
        return;
      }
      if (req.method === 'PATCH') {
        // scimmy would project the resource *before* patching it, and the write would lose the rest.
        const query = req.query as Record<string, unknown>;
        delete query.attributes;
        delete query.excludedAttributes;
      }
    }
    const filter = req.query.filter;
    if (req.method === 'GET' && typeof filter === 'string' && filter.trim()) {
      try {
        // The string parser lets `userName eq` (no value) through; the expression-object check does not.
        new SCIMMY.Types.Filter(JSON.parse(JSON.stringify(new SCIMMY.Types.Filter(filter))) as Json[]);
      } catch (err) {
        // Otherwise the handler would fail later and scimmy would say invalidValue (RFC 7644 §3.4.2.2: invalidFilter).
        res.status(400).type('application/scim+json');
        res.send(JSON.stringify(errorBody(400, err instanceof Error ? err.message : 'Invalid filter', 'invalidFilter')));
        return;
      }
    }
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      if (res.statusCode >= 400) {
        res.removeHeader('ETag');
        res.removeHeader('Location');
        return json(body);
      }
      if (body instanceof SCIMMY.Messages.ListResponse) {
        const out = toPlain(body);
        const resources = Array.isArray(out.Resources) ? out.Resources : [];
        const startIndex = (res.locals as { scimStartIndex?: number }).scimStartIndex;
        return json({ ...out, ...(startIndex !== undefined ? { startIndex } : {}), itemsPerPage: resources.length });
      }
      if (path === '/ServiceProviderConfig' && isObject(body)) {
        const out = toPlain(body);
        return json({
          ...out,
          filter: { supported: true, maxResults: st.maxResults },
          authenticationSchemes: authSchemes(st),
          // RFC 9865 (SCIM cursor pagination) §4: index-based paging only.
          pagination: { cursor: false, index: true, defaultPaginationMethod: 'index', defaultPageSize: st.maxResults, maxPageSize: st.maxResults },
        });
      }
      return json(body);
    };
    next();
  };
}

function authSchemes(st: State): object[] {
  return [
    {
      type: 'oauthbearertoken',
      name: 'OAuth Bearer Token',
      description: 'Authentication scheme using the OAuth Bearer Token Standard',
      specUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
      primary: true,
    },
    ...(st.oauth
      ? [
          {
            type: 'oauth2',
            name: 'OAuth 2.0 client credentials',
            description: `Tokens from POST ${st.origin}/oauth/token (grant_type=client_credentials)`,
            specUri: 'https://datatracker.ietf.org/doc/html/rfc6749#section-4.4',
          },
        ]
      : []),
    ...(st.basic
      ? [
          {
            type: 'httpbasic',
            name: 'HTTP Basic',
            description: 'Authentication scheme using the HTTP Basic Standard',
            specUri: 'https://datatracker.ietf.org/doc/html/rfc7617',
          },
        ]
      : []),
  ];
}

/** RFC 6749 §4.4 client credentials; client_secret_basic or client_secret_post. */
function tokenEndpoint(st: State) {
  return (req: Request, res: Response): void => {
    const oauth = st.oauth!;
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const body = (isObject(req.body) ? req.body : {}) as Record<string, unknown>;
    const field = (k: string): string | undefined => (typeof body[k] === 'string' ? body[k] : undefined);
    let clientId = field('client_id');
    let clientSecret = field('client_secret');
    const header = req.headers.authorization ?? '';
    const usedBasic = /^basic /i.test(header);
    if (usedBasic) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const formDecode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
      try {
        clientId = formDecode(decoded.slice(0, Math.max(colon, 0)));
        clientSecret = formDecode(decoded.slice(colon + 1));
      } catch {
        clientId = clientSecret = undefined;
      }
    }
    const grantType = field('grant_type');
    if (!grantType) {
      res.status(400).json({ error: 'invalid_request', error_description: 'grant_type is required' });
      return;
    }
    if (!clientId || clientSecret === undefined || !safeEqual(clientId, oauth.clientId) || !safeEqual(clientSecret, oauth.clientSecret)) {
      if (usedBasic) res.setHeader('WWW-Authenticate', `Basic realm="${REALM}"`);
      res.status(401).json({ error: 'invalid_client', error_description: 'Client authentication failed' });
      return;
    }
    if (grantType !== 'client_credentials') {
      res.status(400).json({ error: 'unsupported_grant_type', error_description: `grant_type ${grantType} is not supported` });
      return;
    }
    const accessToken = randomBytes(32).toString('base64url');
    st.issued.set(accessToken, Date.now() + oauth.expiresInSec * 1000);
    const scope = field('scope');
    res.status(200).json({ access_token: accessToken, token_type: 'Bearer', expires_in: oauth.expiresInSec, ...(scope ? { scope } : {}) });
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic seed data.

const GIVEN = ['Zoë', 'José', 'Ana', 'Björn', 'Chloé', 'Dmitri', 'Élodie', 'François', 'Grace', 'Håkon', 'Inès', 'Jürgen', 'Kenji', 'Łukasz', 'María', 'Nuño', 'Oğuz', 'Renée', 'Søren', 'Tomás', 'Ulla', 'Wei'];
const FAMILY = ['Nuñez', 'Müller', "O'Brien", 'Smith', 'Nakamura', 'Åberg', 'Novak', 'García', 'Dvořák', 'Nguyễn', 'Kowalski', 'Nørgaard', 'Johnson', 'Lévesque', 'Ødegård', 'Brontë', 'Schäfer'];
const DEPARTMENTS = ['Engineering', 'Sales', 'Finance', 'Support', 'Qualité', 'Recherche & Développement', 'Marketing'];
const GROUP_NAMES = ['Engineering', 'Sales', 'Finance', 'Support', 'Équipe Qualité', 'R&D', 'Marketing', 'Operations', 'Legal', 'Human Resources'];
const SEED_EPOCH = Date.UTC(2024, 0, 1);

function seedId(kind: string, n: number): string {
  const h = createHash('sha256').update(`datasync-scim-test/${kind}/${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function ascii(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[Łł]/g, 'l')
    .replace(/[Øø]/g, 'o')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();
}

function seed(st: State, users: number, groups: number): void {
  const userIds: string[] = [];
  for (let n = 1; n <= users; n++) {
    const id = seedId('user', n);
    userIds.push(id);
    const num = String(n).padStart(5, '0');
    const givenName = GIVEN[(n - 1) % GIVEN.length]!;
    const familyName = FAMILY[Math.floor((n - 1) / GIVEN.length) % FAMILY.length]!;
    const created = new Date(SEED_EPOCH + n * 60_000).toISOString();
    const managerN = n > 1 ? Math.ceil(n / 10) : 0;
    const managerId = managerN > 0 && managerN !== n ? seedId('user', managerN) : undefined;
    const location = `${st.origin}${BASE_PATH}/Users/${id}`;
    const user: ScimUser = {
      id,
      schemas: [CORE_USER, ENTERPRISE],
      externalId: `ext-user-${num}`,
      userName: `user${num}`,
      name: { givenName, familyName, formatted: `${givenName} ${familyName}` },
      displayName: `${givenName} ${familyName}`,
      emails: [
        { value: `user${num}@example.org`, type: 'work', primary: true },
        { value: `${ascii(givenName)}.${ascii(familyName)}.${n}@home.example`, type: 'home' },
      ],
      active: n % 10 !== 0,
      [ENTERPRISE]: {
        employeeNumber: `E${num}`,
        department: DEPARTMENTS[(n - 1) % DEPARTMENTS.length]!,
        ...(managerId ? { manager: { value: managerId } } : {}),
      },
      meta: { resourceType: 'User', created, lastModified: created, version: 'W/"1"', location },
    };
    st.users.set(id, user);
    st.userNames.set(user.userName, id);
  }
  // Manager $ref/displayName once everyone exists.
  for (const u of st.users.values()) {
    const mgr = u[ENTERPRISE]?.manager;
    const target = mgr?.value ? st.users.get(mgr.value) : undefined;
    if (mgr && target) Object.assign(mgr, { $ref: target.meta.location, displayName: target.displayName });
  }
  for (let g = 1; g <= groups; g++) {
    const id = seedId('group', g);
    const num = String(g).padStart(2, '0');
    const base = GROUP_NAMES[(g - 1) % GROUP_NAMES.length]!;
    const displayName = g <= GROUP_NAMES.length ? base : `${base} ${Math.ceil(g / GROUP_NAMES.length)}`;
    const created = new Date(SEED_EPOCH + g * 1000).toISOString();
    const members: ScimMember[] = [];
    for (let n = g; n <= users; n += groups) {
      const u = st.users.get(userIds[n - 1]!)!;
      members.push({ value: u.id, display: u.displayName ?? u.userName, $ref: u.meta.location, type: 'User' });
    }
    const group: ScimGroup = {
      id,
      schemas: [CORE_GROUP],
      externalId: `ext-group-${num}`,
      displayName,
      ...(members.length > 0 ? { members } : {}),
      meta: { resourceType: 'Group', created, lastModified: created, version: 'W/"1"', location: `${st.origin}${BASE_PATH}/Groups/${id}` },
    };
    st.groups.set(id, group);
    indexMembers(st, id, undefined, group.members);
  }
}

// ---------------------------------------------------------------------------------------------

export async function startScimServer(opts: ScimServerOptions = {}): Promise<ScimServer> {
  const scheme = opts.tls ? 'https' : 'http';
  const st: State = {
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

  const app = express();
  states.set(app, st);
  app.disable('x-powered-by');
  // ETags are the resources' meta.version, not hashes of response bodies.
  app.set('etag', false);
  const timers = new Set<NodeJS.Timeout>();
  app.use(recordRequests(st));
  app.use((_req: Request, _res: Response, next: NextFunction) => {
    if (st.latencyMs <= 0) return next();
    const t = setTimeout(() => {
      timers.delete(t);
      next();
    }, st.latencyMs);
    timers.add(t);
  });
  app.use(injectFaults(st));
  if (st.oauth) app.post('/oauth/token', express.urlencoded({ extended: false }), tokenEndpoint(st));
  app.use(BASE_PATH, authenticate(st), scimExtras(st), scimRouter());
  app.use((_req: Request, res: Response) => {
    res.status(404).type('application/scim+json').send(JSON.stringify(errorBody(404, 'Endpoint Not Found')));
  });
  // The routers answer errors themselves and pass 5xx on; the response is already out then.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    st.log.push(`${new Date().toISOString()} ERROR ${req.method} ${req.originalUrl}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (res.headersSent) return;
    res.status(500).type('application/scim+json').send(JSON.stringify(errorBody(500, 'Internal server error')));
  });

  const server: HttpServer = opts.tls
    ? createHttpsServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, app)
    : createHttpServer(app);

  let port = 0;
  let listening = false;
  let closed = false;
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        listening = true;
        resolve();
      });
    });
  await listen();
  st.origin = `${scheme}://127.0.0.1:${port}`;
  seed(st, opts.users ?? 1200, opts.groups ?? 20);

  const stop = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await done;
  };

  return {
    get url() {
      return `${st.origin}${BASE_PATH}`;
    },
    get port() {
      return port;
    },
    token: st.token,
    tokenUrl: st.oauth ? `${st.origin}/oauth/token` : undefined,
    requests: st.requests,
    log: st.log,
    store: { users: st.users, groups: st.groups },
    userByName: (userName) => {
      const id = st.userNames.get(userName.toLowerCase());
      return id === undefined ? undefined : st.users.get(id);
    },
    failNext(status, body, headers = {}) {
      st.faults.push({ status, body, headers });
    },
    setLatency(ms) {
      st.latencyMs = ms;
    },
    stop,
    async start() {
      if (closed) throw new Error('SCIM test server is closed');
      if (!listening) await listen();
    },
    async close() {
      closed = true;
      await stop();
    },
  };
}

/** On a failing test, print what the SCIM server saw during it. */
export function printScimLogOnFailure(get: () => ScimServer | undefined, maxLines = 200): void {
  beforeEach(({ onTestFailed }) => {
    const server = get();
    if (!server) return;
    const from = server.log.length;
    onTestFailed(() => {
      const lines = server.log.slice(from);
      console.error(`--- SCIM server log (${server.url}) during the failed test ---\n${lines.slice(-maxLines).join('\n')}`);
    });
  });
}
