/**
 * RFC 4512 §4.1 descriptions as real servers publish them: OpenLDAP 2.5 (`cn=Subschema`, copied
 * from a live slapd), 389-DS style X- extensions, Active Directory's quoted OIDs and tight
 * parentheses, and broken input.
 */
import { describe, expect, it } from 'vitest';
import { parseAttributeType, parseMatchingRule, parseObjectClass, parseSyntax, SchemaParseError, tokenize } from '../../../src/adapters/ldap/rfc4512.js';

describe('attribute types', () => {
  it('OpenLDAP uid: NAME list, EQUALITY, SUBSTR, SYNTAX with a length bound', () => {
    const uid = parseAttributeType(
      "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) DESC 'RFC4519: user identifier' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
    );
    expect(uid).toEqual({
      oid: '0.9.2342.19200300.100.1.1',
      names: ['uid', 'userid'],
      desc: 'RFC4519: user identifier',
      obsolete: false,
      equality: 'caseIgnoreMatch',
      substr: 'caseIgnoreSubstringsMatch',
      syntax: '1.3.6.1.4.1.1466.115.121.1.15',
      syntaxLength: 256,
      singleValue: false,
      collective: false,
      noUserModification: false,
      usage: 'userApplications',
      extensions: {},
    });
  });

  it('OpenLDAP cn: SUP only (syntax inherited)', () => {
    const cn = parseAttributeType("( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity is known by' SUP name )");
    expect(cn).toMatchObject({ oid: '2.5.4.3', names: ['cn', 'commonName'], sup: 'name' });
    expect(cn.syntax).toBeUndefined();
  });

  it('operational: SINGLE-VALUE, NO-USER-MODIFICATION, USAGE, ORDERING', () => {
    const t = parseAttributeType(
      "( 2.5.18.1 NAME 'createTimestamp' DESC 'RFC4512: time which object was created' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
    );
    expect(t).toMatchObject({ names: ['createTimestamp'], ordering: 'generalizedTimeOrderingMatch', singleValue: true, noUserModification: true, usage: 'directoryOperation' });
  });

  it('X- extensions (OpenLDAP X-ORDERED, 389-DS X-ORIGIN lists), OBSOLETE, COLLECTIVE', () => {
    const olc = parseAttributeType(
      "( 1.3.6.1.4.1.4203.1.12.2.3.0.1 NAME 'olcAccess' DESC 'Access Control List' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 X-ORDERED 'VALUES' )",
    );
    expect(olc.extensions).toEqual({ 'X-ORDERED': ['VALUES'] });
    const ds = parseAttributeType(
      "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 X-ORIGIN ( 'RFC 4519' 'user defined' ) X-DEPRECATED 'commonName' )",
    );
    expect(ds.extensions).toEqual({ 'X-ORIGIN': ['RFC 4519', 'user defined'], 'X-DEPRECATED': ['commonName'] });
    const old = parseAttributeType("( 1.2.3.4 NAME 'legacyThing' OBSOLETE COLLECTIVE SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )");
    expect(old).toMatchObject({ obsolete: true, collective: true });
  });

  it('quoted strings with \\27 and \\5C escapes', () => {
    const t = parseAttributeType("( 1.2.3.5 NAME 'quirky' DESC 'O\\27Brien\\5cs \\5C path \\27quoted\\27' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )");
    expect(t.desc).toBe("O'Brien\\s \\ path 'quoted'");
  });

  it('Active Directory: quoted SYNTAX OID, no spaces inside parentheses', () => {
    const guid = parseAttributeType("( 1.2.840.113556.1.4.2 NAME 'objectGUID' SYNTAX '1.3.6.1.4.1.1466.115.121.1.40' SINGLE-VALUE NO-USER-MODIFICATION )");
    expect(guid).toMatchObject({ names: ['objectGUID'], syntax: '1.3.6.1.4.1.1466.115.121.1.40', singleValue: true });
    const tight = parseAttributeType("(1.2.3.6 NAME('a' 'b')SYNTAX 1.3.6.1.4.1.1466.115.121.1.15)");
    expect(tight).toMatchObject({ oid: '1.2.3.6', names: ['a', 'b'] });
  });

  it('lower-case keywords and an unknown flag are tolerated', () => {
    expect(parseAttributeType("( 1.2.3.7 name 'x' single-value SOMEFLAG )")).toMatchObject({ names: ['x'], singleValue: true });
  });

  it('rejects broken input', () => {
    for (const bad of [
      "1.2.3 NAME 'x' )",
      "( 1.2.3 NAME 'x'",
      "( 1.2.3 NAME 'unterminated )",
      "( 1.2.3 NAME ( 'x' ( 'y' ) ) )",
      "( 1.2.3 USAGE sometimes )",
      "( 1.2.3 'x' )",
      "( 1.2.3 ) trailing",
      '',
    ]) {
      expect(() => parseAttributeType(bad), bad).toThrow(SchemaParseError);
    }
  });
});

describe('object classes', () => {
  it('OpenLDAP top (ABSTRACT, single MUST)', () => {
    expect(parseObjectClass("( 2.5.6.0 NAME 'top' DESC 'top of the superclass chain' ABSTRACT MUST objectClass )")).toEqual({
      oid: '2.5.6.0',
      names: ['top'],
      desc: 'top of the superclass chain',
      obsolete: false,
      sup: [],
      kind: 'ABSTRACT',
      must: ['objectClass'],
      may: [],
      extensions: {},
    });
  });

  it('OpenLDAP inetOrgPerson ($-separated MAY list, default kind)', () => {
    const oc = parseObjectClass(
      "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' DESC 'RFC2798: Internet Organizational Person' SUP organizationalPerson STRUCTURAL MAY ( audio $ businessCategory $ carLicense $ departmentNumber $ displayName $ employeeNumber $ employeeType $ givenName $ homePhone $ homePostalAddress $ initials $ jpegPhoto $ labeledURI $ mail $ manager $ mobile $ o $ pager $ photo $ roomNumber $ secretary $ uid $ userCertificate $ x500uniqueIdentifier $ preferredLanguage $ userSMIMECertificate $ userPKCS12 ) )",
    );
    expect(oc).toMatchObject({ kind: 'STRUCTURAL', sup: ['organizationalPerson'], must: [] });
    expect(oc.may).toHaveLength(27);
    expect(oc.may.slice(0, 2)).toEqual(['audio', 'businessCategory']);
    expect(parseObjectClass("( 1.2.3.8 NAME 'implicit' SUP top MUST cn )").kind).toBe('STRUCTURAL');
  });

  it('AUXILIARY with several superclasses and MUST list; OBSOLETE', () => {
    const oc = parseObjectClass("( 1.2.3.9 NAME ( 'mixin' 'mixIn' ) OBSOLETE SUP ( top $ 'person' ) AUXILIARY MUST ( cn $ sn ) MAY description X-ORIGIN 'test' )");
    expect(oc).toMatchObject({ names: ['mixin', 'mixIn'], obsolete: true, sup: ['top', 'person'], kind: 'AUXILIARY', must: ['cn', 'sn'], may: ['description'], extensions: { 'X-ORIGIN': ['test'] } });
  });

  it('Active Directory: MUST (cn ) with odd spacing', () => {
    const oc = parseObjectClass("( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL MUST (cn ) MAY (userCertificate $ networkAddress ) )");
    expect(oc).toMatchObject({ must: ['cn'], may: ['userCertificate', 'networkAddress'] });
  });
});

describe('syntaxes and matching rules', () => {
  it('OpenLDAP ldapSyntaxes with several X- flags', () => {
    expect(parseSyntax("( 1.3.6.1.4.1.1466.115.121.1.8 DESC 'Certificate' X-BINARY-TRANSFER-REQUIRED 'TRUE' X-NOT-HUMAN-READABLE 'TRUE' )")).toEqual({
      oid: '1.3.6.1.4.1.1466.115.121.1.8',
      desc: 'Certificate',
      extensions: { 'X-BINARY-TRANSFER-REQUIRED': ['TRUE'], 'X-NOT-HUMAN-READABLE': ['TRUE'] },
    });
  });

  it('OpenLDAP matchingRules', () => {
    expect(parseMatchingRule("( 2.5.13.2 NAME 'caseIgnoreMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )")).toEqual({
      oid: '2.5.13.2',
      names: ['caseIgnoreMatch'],
      obsolete: false,
      syntax: '1.3.6.1.4.1.1466.115.121.1.15',
      extensions: {},
    });
  });
});

describe('tokenizer', () => {
  it('splits parentheses, dollars, quoted strings and words', () => {
    expect(tokenize("( a $ 'b c' )x")).toEqual([{ kind: '(' }, { kind: 'word', text: 'a' }, { kind: '$' }, { kind: 'quoted', text: 'b c' }, { kind: ')' }, { kind: 'word', text: 'x' }]);
  });
});
