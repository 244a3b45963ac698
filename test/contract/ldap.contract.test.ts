/** The shipped data-source contract (src/contract) against a real OpenLDAP slapd. */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ldapDataSource } from '../../src/adapters/ldap/definition.js';
import { dataSourceContract } from '../../src/contract/index.js';
import { startSlapd, type Slapd } from '../helpers/slapd.js';

let slapd: Slapd | undefined;
const running = (): Slapd => {
  if (slapd === undefined) throw new Error('slapd is started in beforeAll');
  return slapd;
};
const people = (): string => `ou=people,${running().baseDN}`;

const entry = (url: string, bindPassword: string) => ({
  type: 'ldap',
  url,
  bindDN: running().adminDN,
  bindPassword,
  baseDN: running().baseDN,
  pageSize: 200,
  timeoutMs: 3000,
  operations: ['test', 'schema', 'attributes', 'get', 'search', 'export'],
});

const suite = dataSourceContract({
  definition: ldapDataSource,
  settings: (kind) =>
    kind === 'ok'
      ? entry(running().url, running().adminPassword)
      : kind === 'badCredentials'
        ? entry(running().url, 'wrong-password')
        : entry('ldap://127.0.0.1:1', running().adminPassword),
  get search() {
    return { params: { base: people(), filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'cn'] }, count: 1200 };
  },
  get get() {
    return {
      params: { dn: `uid=user00042,${people()}` },
      matches: (r: unknown) => typeof r === 'object' && r !== null && /uid=user00042/i.test((r as { dn?: string }).dn ?? ''),
    };
  },
  export: {
    records: () => [
      { op: 'add', dn: `uid=contract-1,${people()}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'contract-1', cn: 'Contract One', sn: 'One' } },
      { op: 'add', dn: `uid=user00001,${people()}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'user00001', cn: 'Duplicate', sn: 'Dup' } },
      { op: 'delete', dn: `uid=contract-1,${people()}` },
    ],
    failingIndex: 1,
  },
  // Page requests of searches under ou=people, as slapd logs them.
  upstreamRequests: () => (running().log().match(/ SRCH base="ou=people/g) ?? []).length,
  close: () => running().dispose(),
});

describe('data-source contract: ldap (OpenLDAP slapd)', () => {
  beforeAll(async () => {
    slapd = await startSlapd({ entries: 1200 });
    await suite.setup();
  });
  afterAll(() => suite.teardown());
  for (const check of suite.checks) it(check.name, () => check.run());
});
