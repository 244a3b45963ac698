/** scimmy ingress/egress/degress handlers for Users (process-wide, dispatching on ctx). */
import { randomUUID } from 'node:crypto';
import SCIMMY from 'scimmy';
import { BASE_PATH, CORE_USER, ENTERPRISE } from './constants.js';
import { scimError } from './errors.js';
import { revisionOf } from './etag.js';
import { isObject, sameContent, toPlain, type Json } from './json.js';
import { listPage } from './paging.js';
import { ctxOf } from './state.js';
import { nowIso, userView } from './store.js';
import type { ScimUser } from './types.js';

export function userIngress(resource: InstanceType<typeof SCIMMY.Resources.User>, instance: unknown, rawCtx: unknown): Json {
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

export function userEgress(resource: InstanceType<typeof SCIMMY.Resources.User>, rawCtx: unknown): Json | Json[] {
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

export function userDegress(resource: InstanceType<typeof SCIMMY.Resources.User>, rawCtx: unknown): void {
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
