/** Filter evaluation with LDAP semantics (RFC 4511 §4.5.1.7), through the adapter's search. */
import { describe, expect, it } from 'vitest';
import { decodeUtf8Escapes } from '../../../src/adapters/ldif/filter.js';
import { adapterFor, dns, rejection, searchAll, SMALL } from './helpers.js';

const people = 'ou=people,dc=example,dc=com';
const adapter = adapterFor(SMALL);
/** uids of the people matching a filter (searching ou=people, one level). */
const uids = async (filter: string): Promise<string[]> =>
  (await dns(adapter, { base: people, scope: 'one', filter })).map((dn) => /^uid=([^,]+)/.exec(dn)?.[1] ?? dn).sort();

describe('equality', () => {
  it('is case-insensitive in attribute names and values, on any of several values', async () => {
    expect(await uids('(mail=ZOE@EXAMPLE.COM)')).toEqual(['zoe']);
    expect(await uids('(MAIL=zoe.angstrom@mail.example.com)')).toEqual(['zoe']);
    expect(await uids('(objectclass=INETORGPERSON)')).toEqual(['bob', 'carol', 'zoe']);
  });

  it('ignores insignificant spaces, compares Unicode normalised (NFKC)', async () => {
    expect(await uids('(cn=bob builder)')).toEqual(['bob']);
    expect(await uids('(cn=  Bob Builder )')).toEqual(['bob']);
    expect(await uids('(cn=Zoe\u0308 A\u030angstro\u0308m)')).toEqual(['zoe']); // decomposed ë, Å, ö
  });

  it('UTF-8 written as \\xx escapes (RFC 4515) means the characters, not Latin-1 bytes', async () => {
    expect(await uids('(sn=\\c3\\85ngstr\\c3\\b6m)')).toEqual(['zoe']);
    expect(decodeUtf8Escapes('(cn=a\\2a\\c3\\b6\\28)')).toBe('(cn=a\\2aö\\28)');
  });

  it('DN-valued attributes (member) compare as DNs', async () => {
    const groups = await dns(adapter, { filter: '(member=uid=bob,ou=people,dc=example,dc=com)' });
    expect(groups).toEqual(['cn=staff,ou=groups,dc=example,dc=com']);
    expect(await dns(adapter, { filter: '(member=UID=ZOE, ou=People,dc=example,dc=com)' })).toHaveLength(1);
  });

  it('binary values compare byte for byte', async () => {
    expect(await uids('(jpegPhoto=\\ff\\d8\\ff\\e0\\00\\10JFIF)')).toEqual(['carol']);
    expect(await uids('(jpegPhoto=\\ff\\d8)')).toEqual([]);
  });

  it('a type without options covers its subtypes (cn covers cn;lang-sv)', async () => {
    expect(await uids('(cn=Zoë Ångström på svenska)')).toEqual(['zoe']);
  });
});

describe('presence, substrings, ordering, approx', () => {
  it('presence', async () => {
    expect(await uids('(title=*)')).toEqual(['bob']);
    expect(await uids('(mail=*)')).toEqual(['bob', 'zoe']);
    expect(await uids('(nosuchattribute=*)')).toEqual([]);
  });

  it('substrings: initial, any in order, final, case-insensitive, without overlap', async () => {
    expect(await uids('(mail=zoe*)')).toEqual(['zoe']);
    expect(await uids('(mail=*@example.com)')).toEqual(['bob', 'zoe']);
    expect(await uids('(cn=*uild*)')).toEqual(['bob']);
    expect(await uids('(cn=c*r*z)')).toEqual(['carol']);
    expect(await uids('(cn=c*z*r)')).toEqual([]);
    expect(await uids('(uid=bo*ob)')).toEqual([]); // "bob": initial and final may not overlap
    expect(await uids('(sn=Ång*Ström)')).toEqual(['zoe']);
  });

  it('>= and <= compare integers as numbers, text as normalised text', async () => {
    // employeeNumber: zoe 9, bob 10, carol 100 — as strings "9" > "10" > "100".
    expect(await uids('(employeeNumber>=10)')).toEqual(['bob', 'carol']);
    expect(await uids('(employeeNumber<=10)')).toEqual(['bob', 'zoe']);
    expect(await uids('(sn>=c)')).toEqual(['carol', 'zoe']);
    expect(await uids('(sn<=BUILDER)')).toEqual(['bob']);
  });

  it('~= ignores case, spacing and diacritics', async () => {
    expect(await uids('(cn~=zoe angstrom)')).toEqual(['zoe']);
    expect(await uids('(cn~=zoe)')).toEqual([]);
  });
});

describe('and, or, not, three-valued logic', () => {
  it('combine', async () => {
    expect(await uids('(&(mail=*)(employeeNumber>=10))')).toEqual(['bob']);
    expect(await uids('(|(uid=zoe)(uid=carol))')).toEqual(['carol', 'zoe']);
    expect(await uids('(!(mail=*))')).toEqual(['carol']);
    expect(await uids('(&(objectClass=inetOrgPerson)(!(|(uid=zoe)(uid=bob))))')).toEqual(['carol']);
  });

  it('an unknown matching rule is Undefined: neither it nor its negation selects anything', async () => {
    expect(await uids('(cn:1.2.3.4.5:=Bob Builder)')).toEqual([]);
    expect(await uids('(!(cn:1.2.3.4.5:=Bob Builder))')).toEqual([]);
    // Undefined OR TRUE is TRUE; Undefined AND FALSE is FALSE; NOT(Undefined AND TRUE) stays Undefined.
    expect(await uids('(|(cn:1.2.3.4.5:=x)(uid=bob))')).toEqual(['bob']);
    expect(await uids('(!(&(cn:1.2.3.4.5:=x)(uid=nobody)))')).toEqual(['bob', 'carol', 'zoe']);
    expect(await uids('(!(&(cn:1.2.3.4.5:=x)(uid=bob)))')).toEqual(['carol', 'zoe']);
  });

  it('extensible matches with known rules, and :dn:', async () => {
    expect(await uids('(cn:caseExactMatch:=Bob Builder)')).toEqual(['bob']);
    expect(await uids('(cn:caseExactMatch:=bob builder)')).toEqual([]);
    expect(await uids('(cn:2.5.13.2:=BOB BUILDER)')).toEqual(['bob']);
    expect(await uids('(ou:dn:=people)')).toEqual(['bob', 'carol', 'zoe']);
    expect(await uids('(ou=people)')).toEqual([]);
  });

  it('operational attributes can be filtered on', async () => {
    expect(await dns(adapter, { filter: '(hasSubordinates=TRUE)' })).toEqual(['dc=example,dc=com', 'ou=people,dc=example,dc=com', 'ou=groups,dc=example,dc=com']);
    expect(await uids('(entryDN=uid=bob,ou=people,dc=example,dc=com)')).toEqual(['bob']);
  });
});

describe('invalid filters', () => {
  it.each(['(cn=a', '(&(cn=a)(sn=b)', 'cn=a)(sn=b', '(cn=a\\zz)', '(=a)'])('%j is BAD_REQUEST with the parser message', async (filter) => {
    const e = await rejection(searchAll(adapter, { filter }));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toContain(`invalid filter ${JSON.stringify(filter)}: `);
  });

  it('a filter without the outer parentheses is accepted', async () => {
    expect(await uids('uid=bob')).toEqual(['bob']);
  });
});
