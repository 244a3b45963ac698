/** Params codecs of get / search and the export record codecs: what is accepted, what is refused and how it is said. */
import { describe, expect, it } from 'vitest';
import { planSearch } from '../../../src/adapters/scim/search.js';
import { decodeOrThrow, GetParams, SearchParams } from '../../../src/adapters/scim/params.js';
import { decodeRecord } from '../../../src/adapters/scim/records.js';
import { ProtocolError } from '../../../src/protocol/index.js';

const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

function refusal(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected BAD_REQUEST');
}

describe('get parameters', () => {
  it('accepts a name or an endpoint, an id, and attribute lists', () => {
    expect(decodeOrThrow(GetParams, { resourceType: 'User', id: '2819c223-7f76-453a-919d-413861904646' }, 'get')).toEqual({ resourceType: 'User', id: '2819c223-7f76-453a-919d-413861904646' });
    expect(decodeOrThrow(GetParams, { resourceType: '/Users', id: 'a/b c', attributes: ['userName', `${ENT}:employeeNumber`] }, 'get')).toEqual({
      resourceType: '/Users',
      id: 'a/b c',
      attributes: ['userName', `${ENT}:employeeNumber`],
    });
  });

  it('lists every problem in one BAD_REQUEST, with details.problems', () => {
    const e = refusal(() => decodeOrThrow(GetParams, { resourceType: '../etc', id: '..', attribute: ['x'] }, 'get parameters', { requestId: 'r9' }));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toMatch(/^invalid get parameters: /);
    expect(e.message).toContain("unknown key 'attribute', did you mean 'attributes'?");
    expect(e.message).toContain('resourceType: expected resource type name');
    expect(e.message).toContain('id: expected resource id');
    expect(e.context.requestId).toBe('r9');
    expect(e.context.details?.['problems']).toHaveLength(3);
  });

  it('refuses missing keys, empty ids, control characters, bad attribute paths', () => {
    expect(refusal(() => decodeOrThrow(GetParams, { resourceType: 'User' }, 'get')).message).toContain("missing required key 'id'");
    expect(refusal(() => decodeOrThrow(GetParams, { resourceType: 'User', id: '' }, 'get')).message).toContain('id: expected');
    expect(refusal(() => decodeOrThrow(GetParams, { resourceType: 'User', id: 'a\nb' }, 'get')).message).toContain('id: expected');
    expect(refusal(() => decodeOrThrow(GetParams, { resourceType: 'User', id: '1', attributes: ['name,userName'] }, 'get')).message).toContain('attributes.0: expected SCIM attribute path');
    expect(refusal(() => decodeOrThrow(GetParams, { resourceType: 'User', id: '1', attributes: [] }, 'get')).message).toContain('attributes: expected list of attribute paths');
    expect(refusal(() => decodeOrThrow(GetParams, { resourceType: 'Users/x', id: '1' }, 'get')).message).toContain('resourceType');
  });

  it('attributes and excludedAttributes are alternatives (RFC 7644 §3.4.2.5)', () => {
    expect(refusal(() => decodeOrThrow(GetParams, { resourceType: 'User', id: '1', attributes: ['userName'], excludedAttributes: ['emails'] }, 'get')).message).toContain('not both');
  });
});

describe('search parameters', () => {
  it('plans a query: filter trimmed, lists comma-joined, pageSize capped at the config', () => {
    const plan = planSearch(
      { resourceType: 'User', filter: '  userName sw "a" ', attributes: ['userName', 'name.familyName'], sortBy: 'userName', sortOrder: 'descending', count: 250, pageSize: 500 },
      100,
    );
    expect(plan).toEqual({
      resourceType: 'User',
      query: { filter: 'userName sw "a"', attributes: 'userName,name.familyName', sortBy: 'userName', sortOrder: 'descending' },
      pageSize: 100,
      limit: 250,
    });
    expect(planSearch({ resourceType: '/Groups', pageSize: 10 }, 100)).toEqual({ resourceType: '/Groups', query: {}, pageSize: 10, limit: undefined });
    expect(planSearch({ resourceType: 'User', excludedAttributes: ['groups'] }, 100).query).toEqual({ excludedAttributes: 'groups' });
  });

  it('numbers may come as strings (interpolated), count 0 is allowed', () => {
    expect(planSearch({ resourceType: 'User', count: '0', pageSize: '5' }, 100)).toMatchObject({ limit: 0, pageSize: 5 });
  });

  it('refuses bad values', () => {
    const e = refusal(() => decodeOrThrow(SearchParams, { resourceType: 'User', filter: '', sortOrder: 'up', count: -1, pageSize: 0, sortBy: 'a b' }, 'search parameters'));
    expect(e.code).toBe('BAD_REQUEST');
    for (const key of ['filter', 'sortOrder', 'count', 'pageSize', 'sortBy']) expect(e.message).toContain(`${key}: expected`);
    expect(refusal(() => decodeOrThrow(SearchParams, {}, 'search')).message).toContain("missing required key 'resourceType'");
  });
});

describe('export records', () => {
  it('create / replace / patch / delete / upsert decode', () => {
    expect(decodeRecord({ op: 'create', resourceType: 'User', resource: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'a' } })).toMatchObject({ op: 'create' });
    expect(decodeRecord({ op: 'replace', resourceType: 'User', id: '1', resource: { userName: 'a' }, version: 'W/"3"' })).toMatchObject({ op: 'replace', version: 'W/"3"' });
    expect(
      decodeRecord({
        op: 'patch',
        resourceType: 'Group',
        id: 'g1',
        operations: [
          { op: 'add', path: 'members', value: [{ value: 'u1' }] },
          { op: 'Remove', path: 'members[value eq "u2"]' },
          { op: 'replace', value: { displayName: 'x' } },
        ],
      }),
    ).toEqual({
      op: 'patch',
      resourceType: 'Group',
      id: 'g1',
      operations: [
        { op: 'add', path: 'members', value: [{ value: 'u1' }] },
        { op: 'remove', path: 'members[value eq "u2"]' },
        { op: 'replace', value: { displayName: 'x' } },
      ],
    });
    expect(decodeRecord({ op: 'delete', resourceType: '/Users', id: '1' })).toEqual({ op: 'delete', resourceType: '/Users', id: '1' });
    expect(decodeRecord({ op: 'upsert', resourceType: 'User', match: { attribute: 'userName', value: 'bjensen' }, resource: { userName: 'bjensen' } })).toMatchObject({ op: 'upsert' });
  });

  it('an unknown op says which ones exist', () => {
    expect(refusal(() => decodeRecord({ op: 'add', resourceType: 'User' })).message).toBe('invalid export record: op: expected one of create | replace | patch | delete | upsert, got "add"');
    expect(refusal(() => decodeRecord('nope')).message).toContain('got nothing');
  });

  it('PATCH operation rules (RFC 7644 §3.5.2)', () => {
    const patch = (operations: unknown): ProtocolError => refusal(() => decodeRecord({ op: 'patch', resourceType: 'User', id: '1', operations }));
    expect(patch([]).message).toContain('operations: expected list of PATCH operations (at least one)');
    expect(patch([{ op: 'remove' }]).message).toContain("a 'remove' operation needs a path");
    expect(patch([{ op: 'add', path: 'title' }]).message).toContain("an 'add' operation needs a value");
    expect(patch([{ op: 'replace', value: 'x' }]).message).toContain('without a path needs an object value');
    expect(patch([{ op: 'move', path: 'a' }]).message).toContain("operations.0.op: expected 'add' | 'remove' | 'replace'");
    expect(patch([{ op: 'add', path: 'a', value: 1, extra: true }]).message).toContain("unknown key 'extra'");
  });

  it('upsert match and resource shapes', () => {
    const upsert = (rest: Record<string, unknown>): ProtocolError => refusal(() => decodeRecord({ op: 'upsert', resourceType: 'User', resource: { userName: 'a' }, ...rest }));
    expect(upsert({ match: { attribute: 'userName eq "x" or id', value: 'a' } }).message).toContain('match.attribute: expected SCIM attribute path');
    expect(upsert({ match: { attribute: 'userName', value: { nested: true } } }).message).toContain('match.value: expected string, number or boolean');
    expect(upsert({ match: { attribute: 'userName', value: 'a' }, resource: ['not', 'an', 'object'] }).message).toContain('resource: expected resource (JSON object)');
  });

  it('versions are entity tags', () => {
    expect(decodeRecord({ op: 'delete', resourceType: 'User', id: '1', version: '"abc"' })).toMatchObject({ version: '"abc"' });
    expect(refusal(() => decodeRecord({ op: 'delete', resourceType: 'User', id: '1', version: 'a b' })).message).toContain('version: expected version');
  });
});
