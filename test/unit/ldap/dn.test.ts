/** RFC 4514 DNs and the "inside baseDN" check every operation relies on. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dnEquals, DnSyntaxError, escapeDnBytes, escapeDnValue, formatDn, isWithin, parseDn } from '../../../src/adapters/directory/dn.js';
import { ProtocolError } from '../../../src/protocol/index.js';
import { requireWithin } from '../../../src/adapters/directory/params.js';
import { referenceEscape } from './entry-reference.js';

const bytes = (...b: number[]): Buffer => Buffer.from(b);
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('parseDn', () => {
  it('RDNs most specific first, multi-valued RDNs, escapes and hex pairs', () => {
    expect(parseDn('cn=Smith\\, John+uid=js,ou=People,dc=example,dc=com')).toEqual([
      [
        { type: 'cn', value: 'Smith, John' },
        { type: 'uid', value: 'js' },
      ],
      [{ type: 'ou', value: 'People' }],
      [{ type: 'dc', value: 'example' }],
      [{ type: 'dc', value: 'com' }],
    ]);
    expect(parseDn('cn=Z\\C3\\B6e \\2B \\5C')[0]).toEqual([{ type: 'cn', value: 'Zöe + \\' }]);
    expect(parseDn('cn=\\ lead and trail\\ ')[0]).toEqual([{ type: 'cn', value: ' lead and trail ' }]);
    expect(parseDn('cn=a=b')[0]).toEqual([{ type: 'cn', value: 'a=b' }]);
  });

  it('tolerates spaces around separators, LDAPv2 semicolons, OID types and #hex values', () => {
    expect(parseDn(' uid = a , ou=x ;dc=y ').map((r) => r.map((a) => `${a.type}=${a.value}`).join('+'))).toEqual(['uid=a', 'ou=x', 'dc=y']);
    expect(parseDn('2.5.4.3=x,OID.0.9.2342.19200300.100.1.25=com')[1]).toEqual([{ type: '0.9.2342.19200300.100.1.25', value: 'com' }]);
    expect(parseDn('cn=#04024869')[0]).toEqual([{ type: 'cn', value: '#04024869', ber: true }]);
  });

  it('the empty string is the root DN', () => {
    expect(parseDn('')).toEqual([]);
    expect(parseDn('   ')).toEqual([]);
  });

  it.each(['uid', 'uid=a,', ',dc=x', 'uid=a,,dc=x', '=a', 'u_id=a', 'cn=a"b', 'cn=a\\', 'cn=#0'])('rejects %j', (bad) => {
    expect(() => parseDn(bad)).toThrow(DnSyntaxError);
  });
});

describe('comparison', () => {
  it('case-insensitive types and values, spacing and AVA order ignored', () => {
    expect(dnEquals('UID=JDoe, OU=People,DC=Example,dc=COM', 'uid=jdoe,ou=people,dc=example,dc=com')).toBe(true);
    expect(dnEquals('cn=a+sn=b,dc=x', 'SN=B + CN=A,dc=x')).toBe(true);
    expect(dnEquals('cn=John  Smith,dc=x', 'cn=john smith,dc=x')).toBe(true);
    expect(dnEquals('cn=\\4A\\6F,dc=x', 'cn=Jo,dc=x')).toBe(true);
    expect(dnEquals('cn=a,dc=x', 'cn=b,dc=x')).toBe(false);
    expect(dnEquals('cn=a,dc=x', 'cn=a,dc=x,dc=y')).toBe(false);
  });

  it('isWithin: the base itself and below; not a sibling whose string merely ends the same', () => {
    const base = 'dc=example,dc=com';
    expect(isWithin('dc=example,dc=com', base)).toBe(true);
    expect(isWithin('uid=a, ou=People, DC=Example, DC=Com', base)).toBe(true);
    expect(isWithin('dc=com', base)).toBe(false);
    expect(isWithin('uid=a,dc=myexample,dc=com', base)).toBe(false);
    expect(isWithin('uid=a,dc=example,dc=com,dc=evil', base)).toBe(false);
    expect(isWithin('uid=x\\,dc=example,dc=com', 'dc=example,dc=com')).toBe(false); // one RDN with a comma in its value
    expect(isWithin('anything=1,dc=x', '')).toBe(true);
  });

  it('requireWithin: OPERATION_NOT_ALLOWED outside, BAD_REQUEST unparsable', () => {
    expect(requireWithin('uid=a,ou=p,dc=x', 'dc=x', 'dn')).toHaveLength(3);
    expect(() => requireWithin('uid=a,dc=y', 'dc=x', 'dn')).toThrow(expect.objectContaining({ code: 'OPERATION_NOT_ALLOWED' }) as ProtocolError);
    expect(() => requireWithin('nonsense', 'dc=x', 'dn')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }) as ProtocolError);
  });
});

describe('escaping', () => {
  it('hex-escapes specials so ldapts modifyDN cannot split inside a value', () => {
    expect(escapeDnValue('Núñez, José + Co \\ <x>;"="')).toBe('Núñez\\2C José \\2B Co \\5C \\3Cx\\3E\\3B\\22\\3D\\22');
    expect(escapeDnValue(' #lead')).toBe('\\20#lead');
    expect(escapeDnValue('#lead')).toBe('\\23lead');
    expect(escapeDnValue('trail ')).toBe('trail\\20');
    expect(escapeDnValue('a\\')).toBe('a\\5C');
    expect(/[^\\],/.test(escapeDnValue('x\\,y'))).toBe(false);
  });

  it('format(parse(dn)) round-trips to an equal DN', () => {
    for (const dn of ['cn=Smith\\, John+uid=js,ou=People,dc=example,dc=com', 'cn=\\ x\\ ,dc=y', 'cn=#04024869,dc=z', 'cn=back\\\\slash,dc=z']) {
      expect(dnEquals(formatDn(parseDn(dn)), dn)).toBe(true);
    }
  });
});

describe('DNs that are not UTF-8', () => {
  it('escapeDnBytes: each byte of every invalid sequence as \\XX, the rest as text', () => {
    expect(escapeDnBytes(utf8('cn=Zoë,dc=x'))).toBe('cn=Zoë,dc=x');
    expect(escapeDnBytes(utf8('cn=\ufeffA'))).toBe('cn=\ufeffA');
    expect(escapeDnBytes(Buffer.concat([utf8('cn=caf'), bytes(0xe9), utf8(',dc=x')]))).toBe('cn=caf\\E9,dc=x');
    expect(escapeDnBytes(Buffer.concat([utf8('cn='), bytes(0xed, 0xa0, 0x80), utf8('é')]))).toBe('cn=\\ED\\A0\\80é');
    expect(escapeDnBytes(bytes(0xf8, 0x88, 0x80, 0x80, 0x80))).toBe('\\F8\\88\\80\\80\\80');
    expect(escapeDnBytes(bytes(0xc0, 0xaf, 0xf0, 0x9f, 0x98, 0x80, 0xf0, 0x9f))).toBe('\\C0\\AF😀\\F0\\9F');
  });

  it('escapeDnBytes: an invalid byte the server escaped with a backslash keeps that one backslash', () => {
    // `a\<E9>` names byte E9; `a\\E9` would be a literal backslash and the text "E9".
    const escaped = escapeDnBytes(Buffer.concat([utf8('cn=a\\'), bytes(0xe9)]));
    expect(escaped).toBe('cn=a\\E9');
    expect(parseDn(escaped)[0]?.[0]?.bytes).toEqual(Buffer.from([0x61, 0xe9]));
    // An escaped backslash before it stays a literal backslash.
    expect(escapeDnBytes(Buffer.concat([utf8('cn=a\\\\'), bytes(0xe9)]))).toBe('cn=a\\\\\\E9');
  });

  it('escapeDnBytes is the reference escaping, and parses back to the same bytes (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom('a', 'Z', 'é', '😀', ' ', '\ufeff').map(utf8),
      fc.constantFrom(bytes(0xe9), bytes(0xff), bytes(0x80), bytes(0xed, 0xa0, 0x80), bytes(0xf8, 0x88, 0x80, 0x80, 0x80), bytes(0xf0, 0x9f), bytes(0xc0, 0xaf)),
    );
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 8 }), (pieces) => {
        const value = Buffer.concat([utf8('x'), ...pieces, utf8('x')]);
        const dn = Buffer.concat([utf8('cn='), value, utf8(',ou=people,dc=example,dc=com')]);
        const escaped = escapeDnBytes(dn);
        expect(escaped).toBe(referenceEscape(dn));
        const [rdn] = parseDn(escaped);
        const ava = rdn?.[0];
        expect(ava?.bytes ?? utf8(ava?.value ?? '')).toEqual(value);
        expect(isWithin(escaped, 'dc=example,dc=com')).toBe(true);
        expect(dnEquals(formatDn(parseDn(escaped)), escaped)).toBe(true);
      }),
      { numRuns: 500, seed: 0x10e3 },
    );
  });

  it('parseDn keeps bytes that are not UTF-8; a hex-escaped comma is a value, not a separator', () => {
    expect(parseDn('cn=\\ED\\A0\\80,dc=x')[0]).toEqual([{ type: 'cn', value: '\ufffd\ufffd\ufffd', bytes: bytes(0xed, 0xa0, 0x80) }]);
    expect(parseDn('cn=a\\2Cdc=example\\2Cdc=com')).toEqual([[{ type: 'cn', value: 'a,dc=example,dc=com' }]]);
    expect(isWithin('cn=a\\2Cdc=example\\2Cdc=com', 'dc=example,dc=com')).toBe(false);
    expect(isWithin('cn=x,ou=\\2C,dc=example,dc=com', 'dc=example,dc=com')).toBe(true);
  });

  it('scope and equality compare such bytes as bytes, never as U+FFFD', () => {
    expect(isWithin('cn=a,ou=\\FF,dc=x', 'ou=\\EF\\BF\\BD,dc=x')).toBe(false);
    expect(isWithin('cn=a,ou=\\FF,dc=x', 'ou=\ufffd,dc=x')).toBe(false);
    expect(isWithin('cn=a,ou=\\ff,dc=x', 'OU=\\FF,dc=x')).toBe(true);
    expect(isWithin('cn=a,ou=A\\FF,dc=x', 'ou=a\\FF,dc=x')).toBe(true); // ASCII case only
    expect(dnEquals('cn=\\FF,dc=x', 'cn=\\EF\\BF\\BD,dc=x')).toBe(false);
    expect(dnEquals('cn=\\FF,dc=x', 'CN=\\ff,dc=x')).toBe(true);
  });

  it('formatDn writes such bytes back as hex pairs', () => {
    expect(formatDn(parseDn('cn=\\ED\\A0\\80 x\\2C,ou=caf\\E9,dc=x'))).toBe('cn=\\ED\\A0\\80 x\\2C,ou=caf\\E9,dc=x');
    expect(formatDn(parseDn('cn=\\20\\FF\\20,dc=x'))).toBe('cn=\\20\\FF\\20,dc=x');
  });

  it('a lone UTF-16 surrogate in a DN string is refused (it has no UTF-8 form)', () => {
    expect(() => parseDn('cn=\ud800,dc=x')).toThrow(DnSyntaxError);
    expect(() => parseDn('cn=\\\udc00,dc=x')).toThrow(DnSyntaxError);
    expect(parseDn('cn=😀,dc=x')[0]).toEqual([{ type: 'cn', value: '😀' }]);
  });
});
