/**
 * Flattening attribute definitions into paths, from the RFC 7643 §8.7.1 schema representation
 * (User, Group, EnterpriseUser; `fixtures/rfc7643-schemas.json`, transcribed from the RFC with
 * its attribute characteristics) and the §8.6 resource types.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flattenSchema, resourceTypeAttributes, type ScimAttributeInfo } from '../../../src/adapters/scim/attributes.js';
import { listItems, ResourceType, Schema } from '../../../src/adapters/scim/codecs.js';

const read = (name: string): unknown => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as unknown;
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

// Decoded exactly as the adapter decodes a provider's answer (bare array and ListResponse).
const schemas = listItems(Schema, read('rfc7643-schemas.json'), 'Schemas').items;
const types = listItems(ResourceType, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 2, Resources: read('rfc7643-resource-types.json') }, 'ResourceTypes').items;
const byId = new Map(schemas.map((s) => [s.id, s]));

function attributesOf(name: string): ScimAttributeInfo[] {
  const rt = types.find((t) => t.name === name);
  if (rt === undefined) throw new Error(`no resource type ${name}`);
  return resourceTypeAttributes(rt, byId).attributes;
}
const byPath = (list: ScimAttributeInfo[]): Map<string, ScimAttributeInfo> => new Map(list.map((a) => [a.path, a]));

describe('RFC 7643 §8.7.1 fixtures decode', () => {
  it('three schemas, two resource types, nothing skipped', () => {
    expect(schemas.map((s) => s.id)).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:core:2.0:Group', ENTERPRISE]);
    expect(types.map((t) => [t.name, t.endpoint])).toEqual([
      ['User', '/Users'],
      ['Group', '/Groups'],
    ]);
  });
});

describe('User (core + enterprise extension)', () => {
  const list = attributesOf('User');
  const at = byPath(list);

  it('lists every path once, core first, the common attributes before the schema, then the extension', () => {
    const paths = list.map((a) => a.path);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.slice(0, 9)).toEqual(['id', 'externalId', 'meta', 'meta.resourceType', 'meta.created', 'meta.lastModified', 'meta.location', 'meta.version', 'userName']);
    expect(paths.filter((p) => p.startsWith('urn:'))).toEqual([
      `${ENTERPRISE}:employeeNumber`,
      `${ENTERPRISE}:costCenter`,
      `${ENTERPRISE}:organization`,
      `${ENTERPRISE}:division`,
      `${ENTERPRISE}:department`,
      `${ENTERPRISE}:manager`,
      `${ENTERPRISE}:manager.value`,
      `${ENTERPRISE}:manager.$ref`,
      `${ENTERPRISE}:manager.displayName`,
    ]);
    expect(paths.indexOf(`${ENTERPRISE}:employeeNumber`)).toBeGreaterThan(paths.indexOf('x509Certificates.primary'));
    // 8 common + 21 top-level + name (6) + emails/phoneNumbers/ims/photos (4 each) + addresses (7)
    // + groups (4) + entitlements/roles/x509Certificates (4 each) + 9 enterprise paths.
    expect(paths).toHaveLength(8 + 21 + 6 + 4 * 4 + 7 + 4 + 3 * 4 + 9);
  });

  it('userName: required, server-unique, case-insensitive', () => {
    expect(at.get('userName')).toMatchObject({ resourceType: 'User', schema: 'urn:ietf:params:scim:schemas:core:2.0:User', extension: false, type: 'string', multiValued: false, required: true, uniqueness: 'server', caseExact: false, mutability: 'readWrite', returned: 'default' });
  });

  it('sub-attributes flattened with their parent', () => {
    expect(at.get('name')).toMatchObject({ type: 'complex', multiValued: false });
    expect(at.get('name.givenName')).toMatchObject({ type: 'string', multiValued: false, required: false });
    expect(at.get('emails')).toMatchObject({ type: 'complex', multiValued: true });
    expect(at.get('emails.type')).toMatchObject({ type: 'string', canonicalValues: ['work', 'home', 'other'] });
    expect(at.get('emails.primary')).toMatchObject({ type: 'boolean', caseExact: false });
    expect(at.get('addresses.postalCode')).toMatchObject({ type: 'string' });
  });

  it('references, binary, readOnly/writeOnly, returned never', () => {
    expect(at.get('profileUrl')).toMatchObject({ type: 'reference', referenceTypes: ['external'] });
    expect(at.get('photos.value')).toMatchObject({ type: 'reference', referenceTypes: ['external'] });
    expect(at.get('groups')).toMatchObject({ mutability: 'readOnly', multiValued: true });
    expect(at.get('groups.$ref')).toMatchObject({ type: 'reference', referenceTypes: ['User', 'Group'], mutability: 'readOnly' });
    expect(at.get('groups.type')).toMatchObject({ canonicalValues: ['direct', 'indirect'] });
    expect(at.get('x509Certificates.value')).toMatchObject({ type: 'binary' });
    expect(at.get('password')).toMatchObject({ mutability: 'writeOnly', returned: 'never' });
  });

  it('extension attributes carry the schema URN in path and schema', () => {
    expect(at.get(`${ENTERPRISE}:employeeNumber`)).toMatchObject({ schema: ENTERPRISE, extension: true, type: 'string', multiValued: false });
    expect(at.get(`${ENTERPRISE}:manager.$ref`)).toMatchObject({ type: 'reference', referenceTypes: ['User'] });
    expect(at.get(`${ENTERPRISE}:manager.displayName`)).toMatchObject({ mutability: 'readOnly' });
  });

  it('the common attributes (RFC 7643 §3.1) are described', () => {
    expect(at.get('id')).toMatchObject({ mutability: 'readOnly', returned: 'always', uniqueness: 'server', caseExact: true });
    expect(at.get('externalId')).toMatchObject({ mutability: 'readWrite', caseExact: true });
    expect(at.get('meta.lastModified')).toMatchObject({ type: 'dateTime', mutability: 'readOnly' });
  });

  it('optional characteristics are absent, not empty', () => {
    const userName = at.get('userName')!;
    expect('canonicalValues' in userName).toBe(false);
    expect('referenceTypes' in userName).toBe(false);
    expect(userName.description).toMatch(/^Unique identifier for the User/);
  });
});

describe('Group', () => {
  it('displayName and members with immutable sub-attributes', () => {
    const at = byPath(attributesOf('Group'));
    expect([...at.keys()].filter((p) => !['id', 'externalId'].includes(p) && !p.startsWith('meta'))).toEqual(['displayName', 'members', 'members.value', 'members.$ref', 'members.type']);
    expect(at.get('members.value')).toMatchObject({ mutability: 'immutable', resourceType: 'Group' });
    expect(at.get('members.type')).toMatchObject({ canonicalValues: ['User', 'Group'] });
  });
});

describe('defaults and odd providers', () => {
  it('RFC 7643 §2.2 defaults fill missing characteristics', () => {
    const [a] = flattenSchema('Thing', { id: 'urn:x:Thing', attributes: [{ name: 'label' }] }, false);
    expect(a).toEqual({
      resourceType: 'Thing',
      schema: 'urn:x:Thing',
      extension: false,
      path: 'label',
      type: 'string',
      multiValued: false,
      required: false,
      mutability: 'readWrite',
      returned: 'default',
      uniqueness: 'none',
      caseExact: false,
    });
  });

  it('a core schema that lists id/externalId itself keeps its own definition', () => {
    const rt = { name: 'Device', endpoint: '/Devices', schema: 'urn:x:Device' };
    const own = { id: 'urn:x:Device', attributes: [{ name: 'externalId', type: 'string', caseExact: false }, { name: 'serial' }] };
    const list = resourceTypeAttributes(rt, new Map([[own.id, own]])).attributes;
    expect(list.filter((a) => a.path === 'externalId')).toEqual([expect.objectContaining({ caseExact: false })]);
    expect(list.map((a) => a.path)).toEqual(['id', 'meta', 'meta.resourceType', 'meta.created', 'meta.lastModified', 'meta.location', 'meta.version', 'externalId', 'serial']);
  });

  it('schemas the resource type names but /Schemas lacks are reported', () => {
    const rt = { name: 'User', endpoint: '/Users', schema: 'urn:ietf:params:scim:schemas:core:2.0:User', schemaExtensions: [{ schema: 'urn:x:missing', required: false }] };
    const r = resourceTypeAttributes(rt, byId);
    expect(r.missingSchemas).toEqual(['urn:x:missing']);
    expect(r.attributes.length).toBeGreaterThan(0);
  });

  it('a definition that does not decode is skipped, the others kept', () => {
    const r = listItems(Schema, [{ id: 'urn:x:A', attributes: [{ name: 'a' }] }, { attributes: 'nope' }], 'Schemas');
    expect(r.items.map((s) => s.id)).toEqual(['urn:x:A']);
    expect(r.skipped).toHaveLength(1);
  });
});
