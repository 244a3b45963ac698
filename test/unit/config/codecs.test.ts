import * as t from 'io-ts';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  closest,
  DurationMs,
  editDistance,
  HttpUrl,
  LdapUrl,
  LogLevel,
  NonEmptyString,
  OperationName,
  OPERATIONS,
  Port,
  PositiveInt,
  reportErrors,
  strictObject,
  withDefault,
  WsUrl,
} from '../../../src/config/index.js';
import type { PathProblem } from '../../../src/config/index.js';

function problems<A>(codec: t.Decoder<unknown, A>, value: unknown): PathProblem[] {
  const result = codec.decode(value);
  return isLeft(result) ? reportErrors(result.left) : [];
}

const accepts = (codec: t.Decoder<unknown, unknown>, value: unknown): boolean => isRight(codec.decode(value));

describe('scalar codecs', () => {
  it.each([
    [DurationMs, [0, 15000, '15000', 2147483647], [-1, 1.5, 2147483648, 'soon', null, '']],
    [PositiveInt, [1, '500'], [0, -3, 2.5, 'x']],
    [Port, [0, 8443, 65535, '443'], [-1, 65536, 'http']],
    [NonEmptyString, ['a', ' a '], ['', '   ', 5]],
    [WsUrl, ['ws://h/a', 'wss://h:8443/agent'], ['https://h/a', 'wss://', 'not a url', 5]],
    [HttpUrl, ['http://proxy:3128', 'https://u:p@h/x'], ['ws://h', 'ftp://h']],
    [LdapUrl, ['ldap://dc1', 'ldaps://dc1.corp:636'], ['http://dc1', 'dc1']],
    [LogLevel, ['trace', 'silent'], ['verbose', 'INFO']],
    [OperationName, [...OPERATIONS], ['delete']],
  ] as const)('%s accepts good values and refuses bad ones', (codec, good, bad) => {
    for (const v of good) expect(accepts(codec, v), `accepts ${JSON.stringify(v)}`).toBe(true);
    for (const v of bad) expect(accepts(codec, v), `refuses ${JSON.stringify(v)}`).toBe(false);
  });

  it('decodes numeric strings to numbers', () => {
    expect(DurationMs.decode(' 250 ')).toEqual({ _tag: 'Right', right: 250 });
  });
});

describe('withDefault', () => {
  const codec = withDefault(PositiveInt, 7 as PositiveInt);
  it('fills in only an absent value', () => {
    expect(codec.decode(undefined)).toEqual({ _tag: 'Right', right: 7 });
    expect(codec.decode(3)).toEqual({ _tag: 'Right', right: 3 });
  });
  it('keeps an invalid value an error instead of replacing it', () => {
    expect(problems(codec, -1)).toEqual([{ path: [], message: 'expected positive integer, got -1' }]);
    expect(problems(codec, null)).toEqual([{ path: [], message: 'expected positive integer, got null' }]);
  });
});

describe('strictObject', () => {
  const codec = strictObject(
    { reconnectDelay: withDefault(DurationMs, 1 as DurationMs), name: NonEmptyString },
    { nick: t.string },
    { name: 'test mapping' },
  );

  it('decodes known keys and omits absent optional ones', () => {
    const result = codec.decode({ name: 'x' });
    expect(result).toEqual({ _tag: 'Right', right: { reconnectDelay: 1, name: 'x' } });
  });

  it('reports unknown keys, suggesting a near known key', () => {
    expect(problems(codec, { name: 'x', reconectDelay: 5, color: 'red' })).toEqual([
      { path: ['reconectDelay'], message: "unknown key 'reconectDelay', did you mean 'reconnectDelay'?", at: 'key' },
      { path: ['color'], message: "unknown key 'color'", at: 'key' },
    ]);
  });

  it('reports missing required keys at the parent, and every other problem too', () => {
    expect(problems(codec, { reconnectDelay: 'x', nick: 3 })).toEqual([
      { path: ['reconnectDelay'], message: 'expected duration in ms (integer 0..2147483647), got "x"' },
      { path: [], message: "missing required key 'name'" },
      { path: ['nick'], message: 'expected string, got 3' },
    ]);
  });

  it('runs cross-field checks on the keys that did decode', () => {
    const checked = strictObject({ a: PositiveInt, b: PositiveInt, c: PositiveInt }, {}, {
      check: (v) => (v.a !== undefined && v.b !== undefined && v.a > v.b ? [{ path: ['b'], message: 'expected >= a' }] : []),
    });
    expect(problems(checked, { a: 5, b: 2, c: 'x' })).toEqual([
      { path: ['c'], message: 'expected positive integer, got "x"' },
      { path: ['b'], message: 'expected >= a' },
    ]);
  });

  it('refuses a non-mapping with its name', () => {
    expect(problems(codec, [1])).toEqual([{ path: [], message: 'expected test mapping, got [1]' }]);
  });
});

describe('suggestions', () => {
  it('measures edit distance', () => {
    expect(editDistance('reconectDelay', 'reconnectDelay')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
  it('suggests only within distance 2', () => {
    expect(closest('bindDn', ['bindDN', 'baseDN'])).toBe('bindDN');
    expect(closest('keepAlive', ['keepAliveInterval'])).toBeUndefined();
    expect(closest('x', ['id'])).toBeUndefined();
  });
});

describe('reportErrors', () => {
  const Ldap = strictObject({ type: t.literal('ldap'), baseDN: t.string }, {});
  const Scim = strictObject({ type: t.literal('scim'), baseUrl: HttpUrl }, {});
  const Source = t.union([Ldap, Scim], 'data source');

  it('reports only the union branch whose type matched', () => {
    expect(problems(t.type({ ds: Source }), { ds: { type: 'scim', baseUrl: 'ftp://x' } })).toEqual([
      { path: ['ds', 'baseUrl'], message: 'expected http:// or https:// URL, got "ftp://x"' },
    ]);
  });

  it('collapses a union that no branch matched into one problem', () => {
    expect(problems(t.type({ ds: Source }), { ds: { type: 'x' } })).toEqual([
      { path: ['ds'], message: 'expected data source, got {"type":"x"}' },
    ]);
  });

  it('masks secrets by key, nested secrets and proxy passwords', () => {
    const codec = t.type({ password: t.string, nested: t.string, proxy: t.number });
    expect(problems(codec, { password: 5, nested: { clientSecret: 'abc' }, proxy: 'http://u:pw@p:1' })).toEqual([
      { path: ['password'], message: 'expected string, got <redacted number>' },
      { path: ['nested'], message: 'expected string, got {"clientSecret":"<redacted>"}' },
      { path: ['proxy'], message: 'expected number, got "http://u:***@p:1"' },
    ]);
  });

  it('deduplicates identical problems', () => {
    const same = t.union([t.type({ a: t.string }), t.type({ a: t.string })]);
    expect(problems(same, 5)).toHaveLength(1);
  });
});
