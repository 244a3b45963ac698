/**
 * The per-type parameter schemas of the OpenAPI document (src/hub/http/schemas/params.ts) against
 * the io-ts codecs the agent decodes the parameters with (ldap and ldif:
 * src/adapters/directory/params.ts, scim: src/adapters/scim/params.ts, sql: src/adapters/sql/search.ts): what the codec accepts
 * the schema accepts (a client following the document is never refused for its shape), and a
 * wrong shape — unknown key, wrong type, out of range, missing key — is refused by both. Syntax
 * only the agent can judge (a DN that does not parse) the schema leaves to the agent.
 */
import { isRight } from 'fp-ts/lib/Either.js';
import type * as t from 'io-ts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import * as directory from '../../../src/adapters/directory/params.js';
import * as scim from '../../../src/adapters/scim/params.js';
import * as sql from '../../../src/adapters/sql/search.js';
import { buildDocument } from '../../helpers/e2e/openapi-document.js';

let ajv: Ajv2020;
beforeAll(async () => {
  const { document } = await buildDocument();
  ajv = new Ajv2020({ strict: false });
  ajv.addSchema(document, 'openapi');
});

const schemaAccepts = (name: string, value: unknown): boolean => ajv.validate({ $ref: `openapi#/components/schemas/${name}` }, value);
const codecAccepts = (codec: t.Decoder<unknown, unknown>, value: unknown): boolean => isRight(codec.decode(value));

interface Case {
  readonly schemas: readonly string[];
  readonly codec: t.Decoder<unknown, unknown>;
  readonly accepted: readonly unknown[];
  readonly refused: readonly unknown[];
  /** Refused by the agent's codec for a syntax the schema does not express. */
  readonly agentOnly?: readonly unknown[];
}

const CASES: Record<string, Case> = {
  'ldap/ldif search': {
    schemas: ['LdapSearchParams', 'LdifSearchParams'],
    codec: directory.SearchParams,
    accepted: [
      {},
      { filter: '(cn=A*)' },
      { base: 'ou=people,dc=demo,dc=example', scope: 'one', filter: '(uid=*)', attributes: ['cn', '*', '+', '1.1', 'cn;lang-en', '2.5.4.3'], sizeLimit: 0, pageSize: 10 },
    ],
    refused: [{ filtre: '(cn=a)' }, { scope: 'deep' }, { sizeLimit: -1 }, { sizeLimit: 1.5 }, { pageSize: 0 }, { attributes: ['c n'] }, { attributes: 'cn' }, { filter: 3 }, [], 'x'],
    agentOnly: [{ base: 'not a dn' }],
  },
  'ldap/ldif get': {
    schemas: ['LdapGetParams', 'LdifGetParams'],
    codec: directory.GetParams,
    accepted: [{ dn: 'uid=a,dc=x' }, { dn: 'uid=a,dc=x', attributes: ['cn'] }, { 'dn;binary': Buffer.from('uid=a,dc=x').toString('base64') }],
    refused: [{}, { attributes: ['cn'] }, { dn: 3 }, { dn: 'uid=a,dc=x', extra: 1 }, { dn: 'uid=a,dc=x', attributes: ['c n'] }],
    agentOnly: [{ dn: 'no equals sign' }],
  },
  'scim search': {
    schemas: ['ScimSearchParams'],
    codec: scim.SearchParams,
    accepted: [
      { resourceType: 'User' },
      { resourceType: '/Users', filter: 'userName sw "a"', attributes: ['userName', 'name.givenName'], sortBy: 'userName', sortOrder: 'descending', count: 0, pageSize: 50 },
      { resourceType: 'Group', excludedAttributes: ['members'] },
    ],
    refused: [{}, { resourceType: 'User', attributes: ['a'], excludedAttributes: ['b'] }, { resourceType: 'User', sortOrder: 'up' }, { resourceType: 'User', count: -1 }, { resourceType: 'User', pageSize: 0 }, { resourceType: 'User', attributes: [] }, { resourceType: 'a/b' }, { resourceType: 'User', filter: '' }, { resourceType: 'User', fitler: 'x' }],
  },
  'scim get': {
    schemas: ['ScimGetParams'],
    codec: scim.GetParams,
    accepted: [{ resourceType: 'User', id: '2819c223' }, { resourceType: 'User', id: 'x', attributes: ['userName'] }],
    refused: [{ resourceType: 'User' }, { id: 'x' }, { resourceType: 'User', id: '' }, { resourceType: 'User', id: '..' }, { resourceType: 'User', id: 'x', attributes: ['a'], excludedAttributes: ['b'] }, { resourceType: 'User', id: 'x', other: 1 }],
  },
  'sql search': {
    schemas: ['SqlSearchParams'],
    codec: sql.SearchParams,
    accepted: [{ objectType: 'users' }, { objectType: 'users', filter: '(&(mail=*)(!(status=off)))' }, { objectType: 'x', filter: '' }],
    refused: [{}, { objectType: '' }, { objectType: ' ' }, { objectType: 3 }, { objectType: 'users', filter: 3 }, { objectType: 'users', pageSize: 10 }, { filter: '(a=b)' }, [], 'users'],
  },
  'sql get': {
    schemas: ['SqlGetParams'],
    codec: sql.GetParams,
    accepted: [{ objectType: 'users', key: '9007199254740993' }, { objectType: 'users', key: 42 }],
    refused: [{ objectType: 'users' }, { key: 1 }, { objectType: 'users', key: null }, { objectType: 'users', key: [1] }, { objectType: 'users', key: 1, extra: true }, { objectType: '\t', key: 1 }],
  },
};

describe('per-type parameter schemas agree with the agent\'s codecs', () => {
  for (const [what, c] of Object.entries(CASES)) {
    it(what, () => {
      for (const name of c.schemas) {
        for (const v of c.accepted) expect([schemaAccepts(name, v), codecAccepts(c.codec, v)], `${name} ${JSON.stringify(v)}`).toEqual([true, true]);
        for (const v of c.refused) expect([schemaAccepts(name, v), codecAccepts(c.codec, v)], `${name} ${JSON.stringify(v)}`).toEqual([false, false]);
        for (const v of c.agentOnly ?? []) expect([schemaAccepts(name, v), codecAccepts(c.codec, v)], `${name} ${JSON.stringify(v)}`).toEqual([true, false]);
      }
    });
  }
});
