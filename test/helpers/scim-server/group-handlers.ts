/** scimmy ingress/egress/degress handlers for Groups (process-wide, dispatching on ctx). */
import { randomUUID } from 'node:crypto';
import SCIMMY from 'scimmy';
import { BASE_PATH, CORE_GROUP } from './constants.js';
import { scimError } from './errors.js';
import { revisionOf } from './etag.js';
import { isObject, sameContent, toPlain, type Json } from './json.js';
import { listPage } from './paging.js';
import { ctxOf } from './state.js';
import { groupView, indexMembers, nowIso } from './store.js';
import type { ScimGroup, ScimMember } from './types.js';

export function groupIngress(resource: InstanceType<typeof SCIMMY.Resources.Group>, instance: unknown, rawCtx: unknown): Json {
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

export function groupEgress(resource: InstanceType<typeof SCIMMY.Resources.Group>, rawCtx: unknown): Json | Json[] {
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

export function groupDegress(resource: InstanceType<typeof SCIMMY.Resources.Group>, rawCtx: unknown): void {
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
