/** The data-source contract against a real OpenLDAP slapd. */
import { dataSourceContract } from './suite.js';
import { startSlapd } from '../helpers/slapd.js';

dataSourceContract('ldap (OpenLDAP slapd)', async () => {
  const slapd = await startSlapd({ entries: 1200 });
  const people = `ou=people,${slapd.baseDN}`;
  const common = (url: string, password: string, operations: string) => `    type: ldap
    url: ${url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${password}
    baseDN: ${slapd.baseDN}
    pageSize: 200
    timeoutMs: 3000
    operations: ${operations}`;
  const all = '[test, schema, attributes, get, search, export]';
  return {
    dataSource: (kind) =>
      kind === 'ok'
        ? common(slapd.url, slapd.adminPassword, all)
        : kind === 'badCredentials'
          ? common(slapd.url, 'wrong-password', all)
          : kind === 'unreachable'
            ? common('ldap://127.0.0.1:1', slapd.adminPassword, all)
            : common(slapd.url, slapd.adminPassword, '[test, schema, attributes, get, search]'),
    searchParams: { base: people, filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'cn'] },
    searchCount: 1200,
    getParams: { dn: `uid=user00042,${people}` },
    isGetResult: (r) => typeof r === 'object' && r !== null && /uid=user00042/i.test((r as { dn?: string }).dn ?? ''),
    exportRecords: () => [
      { op: 'add', dn: `uid=contract-1,${people}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'contract-1', cn: 'Contract One', sn: 'One' } },
      { op: 'add', dn: `uid=user00001,${people}`, attributes: { objectClass: ['inetOrgPerson'], uid: 'user00001', cn: 'Duplicate', sn: 'Dup' } },
      { op: 'delete', dn: `uid=contract-1,${people}` },
    ],
    failingIndex: 1,
    upstreamSearchRequests: () => (slapd.log().match(/ SRCH base="ou=people/g) ?? []).length,
    close: () => slapd.dispose(),
  };
});
