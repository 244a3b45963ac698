/** The in-memory store: resources as returned (server-computed `groups`) and the membership index. */
import type { Json } from './json.js';
import type { State } from './state.js';
import type { ScimGroup, ScimMember, ScimUser } from './types.js';

export function nowIso(): string {
  return new Date().toISOString();
}

export function userView(st: State, u: ScimUser): Json {
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

export function groupView(g: ScimGroup): Json {
  return structuredClone(g);
}

export function indexMembers(st: State, groupId: string, before: ScimMember[] | undefined, after: ScimMember[] | undefined): void {
  for (const m of before ?? []) st.memberOf.get(m.value)?.delete(groupId);
  for (const m of after ?? []) {
    if (m.type !== 'User') continue;
    let set = st.memberOf.get(m.value);
    if (!set) st.memberOf.set(m.value, (set = new Set()));
    set.add(groupId);
  }
}
