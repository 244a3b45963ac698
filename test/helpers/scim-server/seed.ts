/** Deterministic seed data: users `user00001`…, groups `group01`…, managers, memberships. */
import { createHash } from 'node:crypto';
import { BASE_PATH, CORE_GROUP, CORE_USER, ENTERPRISE } from './constants.js';
import type { State } from './state.js';
import { indexMembers } from './store.js';
import type { ScimGroup, ScimMember, ScimUser } from './types.js';

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

export function seed(st: State, users: number, groups: number): void {
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
