/** Filter values and attribute paths (RFC 7644 §3.4.2.2, §3.10). */
import { describe, expect, it } from 'vitest';
import { eqFilter, filterValue, isAttributePath } from '../../../src/adapters/scim/filter.js';

describe('filterValue: compValue is a JSON literal (RFC 7644 §3.4.2.2, RFC 7159 §7)', () => {
  it.each([
    ['bjensen', '"bjensen"'],
    ['say "hi"', String.raw`"say \"hi\""`],
    [String.raw`back\slash`, String.raw`"back\\slash"`],
    ['tab\tnew\nline\r', String.raw`"tab\tnew\nline\r"`],
    ['\u0001\u001f', String.raw`"\u0001\u001f"`],
    ['Zoë Åberg 日本', '"Zoë Åberg 日本"'],
    ['', '""'],
  ])('%j → %s', (value, text) => {
    expect(filterValue(value)).toBe(text);
    // What the provider's JSON parser reads back is the original value.
    expect(JSON.parse(filterValue(value))).toBe(value);
  });

  it('numbers, booleans and null are literals', () => {
    expect([filterValue(42), filterValue(-1.5), filterValue(true), filterValue(false), filterValue(null)]).toEqual(['42', '-1.5', 'true', 'false', 'null']);
    expect(() => filterValue(Number.NaN)).toThrow(RangeError);
    expect(() => filterValue(Infinity)).toThrow(RangeError);
  });

  it('an injection attempt stays one string value', () => {
    const evil = 'x" or userName pr or userName eq "y';
    const f = eqFilter('userName', evil);
    expect(f).toBe(String.raw`userName eq "x\" or userName pr or userName eq \"y"`);
    // Exactly one unescaped string literal after `eq`.
    const literal = f.slice('userName eq '.length);
    expect(JSON.parse(literal)).toBe(evil);
  });
});

describe('eqFilter', () => {
  it('builds `attr eq value`', () => {
    expect(eqFilter('userName', 'bjensen')).toBe('userName eq "bjensen"');
    expect(eqFilter('name.familyName', "O'Brien")).toBe(`name.familyName eq "O'Brien"`);
    expect(eqFilter('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', '701984')).toBe(
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"',
    );
    expect(eqFilter('active', true)).toBe('active eq true');
  });

  it('refuses something that is not an attribute path', () => {
    expect(() => eqFilter('userName eq "x" or id', 'y')).toThrow(RangeError);
    expect(() => eqFilter('', 'y')).toThrow(RangeError);
  });
});

describe('isAttributePath', () => {
  it.each([
    'userName',
    'name.givenName',
    'emails',
    'emails.value',
    'members.$ref',
    '$ref',
    'x509Certificates',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName',
    'urn:ietf:params:scim:schemas:core:2.0:User:name.givenName',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
    'custom_attr-1',
  ])('%s is a path', (p) => {
    expect(isAttributePath(p)).toBe(true);
  });

  it.each(['', '1abc', 'name.', '.name', 'a.b.c', 'user name', 'emails[type eq "work"]', 'name..givenName', 'urn:', 'a,b', 'userName eq "x"', 'ürn'])('%j is not', (p) => {
    expect(isAttributePath(p)).toBe(false);
  });
});
