/**
 * The get path's fast checks against the full ones they stand in for: `parsePlainDn` against
 * `parseDnFull`, the cached `scopeOf` + `isWithinScope` against the scope check as written
 * before (every RDN keyed with map/sort/join), and the hand-checked get parameters against the
 * io-ts codec — on random DNs with escapes, multi-valued RDNs, non-ASCII, `#hex`, odd spacing
 * and case differences.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWithinScope, parseDn, parseDnFull, parsePlainDn, scopeOf, type Rdn } from '../../../src/adapters/directory/dn.js';
import { decodeGetParams, decodeOrThrow, GetParams, plainGetParams } from '../../../src/adapters/directory/params.js';

/** The scope key as first written (before the fast path): the reference. */
function referenceScopeKey(rdn: Rdn): string {
  return rdn
    .map((ava) => {
      const type = ava.type.toLowerCase();
      if (ava.bytes !== undefined) {
        const lower = Buffer.from(ava.bytes).map((b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b));
        return `${type}=bytes:${Buffer.from(lower).toString('hex')}`;
      }
      return `${type}=${ava.ber ? 'ber:' : 'str:'}${ava.value.replace(/[A-Z]+/g, (s) => s.toLowerCase())}`;
    })
    .sort()
    .join('+');
}

function referenceIsWithin(dn: string, base: string): boolean {
  const d = parseDnFull(dn);
  const b = parseDnFull(base);
  if (b.length > d.length) return false;
  const offset = d.length - b.length;
  return b.every((rdn, k) => referenceScopeKey(rdn) === referenceScopeKey(d[offset + k] ?? []));
}

const outcome = <T>(f: () => T): { ok: true; value: T } | { ok: false; error: string } => {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
};

const spaces = fc.constantFrom('', '', '', ' ', '  ');
const type = fc.constantFrom('cn', 'CN', 'uid', 'Uid', 'ou', 'dc', 'DC', 'sn', 'OID.2.5.4.3', 'oid.0.9.2342.19200300.100.1.25', '2.5.4.3', 'u_id', '', '1x', 'a-b');
const valueChar = fc.constantFrom(
  'a', 'b', 'Z', 'J', 'x', 'k', 'K', '0', '9', ' ', '-', '.', '=', '_', '@', '\'', // plain
  'é', 'É', 'ß', '😀', '\u212a', 'ǅ', '\ufeff', '\t', '\u00a0', // beyond ASCII or control
  ',', '+', ';', '"', '<', '>', '#', // specials (unescaped: separators or errors)
  '\\,', '\\+', '\\\\', '\\ ', '\\#', '\\"', '\\4A', '\\6a', '\\C3\\A9', '\\E9', '\\ED\\A0\\80', '\\ff', '\\', '\\G', // escapes
);
const value = fc.oneof(
  { weight: 5, arbitrary: fc.array(valueChar, { maxLength: 8 }).map((cs) => cs.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('#04024869', '#0', '#', '#zz', 'people', 'People', 'PEOPLE', 'example', 'Example', 'com') },
);
const ava = fc.tuple(spaces, type, spaces, spaces, value, spaces).map(([a, t, b, c, v, d]) => `${a}${t}${b}=${c}${v}${d}`);
const rdn = fc.array(ava, { minLength: 1, maxLength: 3 }).map((avas) => avas.join('+'));
const dnString = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.array(rdn, { maxLength: 5 }), fc.constantFrom(',', ',', ';', ', ')).map(([rdns, sep]) => rdns.join(sep)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '  ', 'uid', 'uid=a,', ',dc=x', 'uid=a,,dc=x', '=a', 'cn=a+', 'cn=a+ ', 'cn=,dc=x', 'cn= a b  ,dc=x') },
);

/** Printable ASCII DNs without escapes: what the fast path must take. */
const plainValue = fc.array(fc.constantFrom('a', 'B', 'z', '0', ' ', '-', '.', '=', '@', '_'), { minLength: 1, maxLength: 8 }).map((cs) => cs.join(''));
const plainDn = fc
  .array(fc.array(fc.tuple(fc.constantFrom('cn', 'UID', 'ou', 'dc', '2.5.4.3', 'OID.2.5.4.3'), spaces, plainValue).map(([t, s, v]) => `${t}${s}=${s}${v}`), { minLength: 1, maxLength: 3 }).map((a) => a.join('+')), {
    minLength: 1,
    maxLength: 5,
  })
  .map((rdns) => rdns.join(','));

const bases = ['ou=k,dc=x', 'ou=\u212a,dc=x', 'dc=example,dc=com', 'ou=People,dc=example,dc=com', 'DC=Example, DC=COM', '', 'cn=a+uid=b,dc=x', 'cn=\\C3\\A9,dc=x', 'cn=\\E9,dc=x', 'ou=peop\\4Ce,dc=example,dc=com'];
const baseDn = fc.oneof(fc.constantFrom(...bases), dnString.filter((s) => outcome(() => parseDnFull(s)).ok));

describe('parsePlainDn: the fast path of parseDn', () => {
  it('gives the full parser RDNs or declines, on any string — and never accepts what the full parser refuses', () => {
    fc.assert(
      fc.property(dnString, (dn) => {
        const fast = parsePlainDn(dn);
        const full = outcome(() => parseDnFull(dn));
        if (fast !== undefined) expect(full).toEqual({ ok: true, value: fast });
        expect(outcome(() => parseDn(dn))).toEqual(full);
      }),
      { numRuns: 5000 },
    );
  });

  it('takes every valid plain DN (printable ASCII, no escapes)', () => {
    fc.assert(
      fc.property(plainDn, (dn) => {
        expect(parsePlainDn(dn)).toEqual(parseDnFull(dn));
        expect(parsePlainDn(dn)).toBeDefined();
      }),
      { numRuns: 2000 },
    );
    expect(parsePlainDn(' uid = jdoe , ou=People;dc=example,dc=com ')).toEqual(parseDnFull(' uid = jdoe , ou=People;dc=example,dc=com '));
    expect(parsePlainDn('')).toEqual([]);
  });

  it('declines escapes, #hex, non-ASCII and syntax errors (the full parser decides and words the error)', () => {
    for (const dn of ['cn=a\\,b,dc=x', 'cn=#0402,dc=x', 'cn=é,dc=x', 'cn=a\tb', 'uid=a,', 'uid=a,,dc=x', '=a', 'cn=a+', 'u_id=a', 'cn=a"b']) {
      expect(parsePlainDn(dn), dn).toBeUndefined();
    }
  });
});

describe('scopeOf + isWithinScope: the base parsed once', () => {
  it('agrees with the scope check keyed RDN by RDN, on random DNs and bases', () => {
    fc.assert(
      fc.property(dnString, baseDn, (dn, base) => {
        const full = outcome(() => parseDnFull(dn));
        if (!full.ok) return;
        expect(isWithinScope(parseDn(dn), scopeOf(base))).toBe(referenceIsWithin(dn, base));
      }),
      { numRuns: 5000 },
    );
  });

  it('DNs built under a base by case changes and spacing are inside; look-alikes beyond ASCII are not', () => {
    const base = 'ou=People,dc=example,dc=com';
    fc.assert(
      fc.property(plainValue, fc.boolean(), (v, upper) => {
        const spelled = upper ? base.toUpperCase().replace(/,/g, ' , ') : base.toLowerCase();
        expect(isWithinScope(parseDn(`uid=${v.trim() || 'x'},${spelled}`), scopeOf(base))).toBe(true);
      }),
    );
    for (const outside of ['uid=a,ou=People,dc=example,dc=comX', 'uid=a,ou=Peop\u02e1e,dc=example,dc=com', 'uid=a,ou=People\t,dc=example,dc=com', 'uid=a,ou=PEOPLE\u212a,dc=example,dc=com', 'dc=com']) {
      expect(isWithinScope(parseDn(outside), scopeOf(base)), outside).toBe(false);
    }
    // Case mappings beyond ASCII (KELVIN SIGN → k, İ → i̇) are not applied on either side.
    expect(isWithinScope(parseDn('uid=a,ou=PEOPLE\u212a,dc=example,dc=com'), scopeOf('ou=peoplek,dc=example,dc=com'))).toBe(false);
    expect(isWithinScope(parseDn('uid=a,ou=peoplek,dc=example,dc=com'), scopeOf('ou=PEOPLE\u212a,dc=example,dc=com'))).toBe(false);
    expect(isWithinScope(parseDn('uid=a,ou=\u0130,dc=x'), scopeOf('ou=i\u0307,dc=x'))).toBe(false);
    expect(isWithinScope(parseDn('uid=a,ou=\u00c9,dc=x'), scopeOf('ou=\u00e9,dc=x'))).toBe(false);
    // The cache returns the same prepared base and survives many bases.
    expect(scopeOf(base)).toBe(scopeOf(base));
    for (let k = 0; k < 300; k++) scopeOf(`cn=${k},dc=x`);
    expect(isWithinScope(parseDn('cn=7,dc=x'), scopeOf('cn=7,dc=x'))).toBe(true);
    expect(() => scopeOf('not a dn')).toThrow();
  });
});

describe('decodeGetParams: the hand check and the codec', () => {
  const params = fc.oneof(
    fc.record({ dn: dnString }),
    fc.record({ dn: dnString, attributes: fc.array(fc.constantFrom('cn', 'mail', '*', '+', '1.1', '2.5.4.3;binary', 'bad name', '', 'cn;lang-en'), { maxLength: 3 }) }),
    fc.record({ dn: fc.oneof(dnString, fc.integer(), fc.constant(null)), attributes: fc.oneof(fc.constant('cn'), fc.constant([1]), fc.constant(null)) }, { requiredKeys: [] }),
    fc.record({ dn: dnString, 'dn;binary': fc.constantFrom('Y249YSxkYz14', '!!', 'Y249') }, { requiredKeys: ['dn;binary'] }),
    fc.record({ dn: dnString, extra: fc.string() }),
    fc.constantFrom(null, 'dn', [], 42),
  );

  it('takes the usual shape exactly as the codec decodes it, and otherwise throws the codec\u2019s error', () => {
    fc.assert(
      fc.property(params, (p) => {
        const codec = outcome(() => decodeOrThrow(GetParams, p, 'get parameters'));
        const plain = plainGetParams(p);
        if (plain !== undefined) {
          const { rdns, ...rest } = plain;
          expect(codec).toEqual({ ok: true, value: rest });
          expect(rdns).toEqual(parseDnFull(rest.dn));
        }
        const decoded = outcome(() => decodeGetParams(p));
        if (codec.ok) expect(decoded).toEqual({ ok: true, value: { ...codec.value, rdns: parseDnFull(codec.value.dn) } });
        else expect(decoded).toEqual(codec);
      }),
      { numRuns: 3000 },
    );
  });

  it('the usual shape does not reach the codec', () => {
    expect(plainGetParams({ dn: 'uid=a,dc=example,dc=com' })).toBeDefined();
    expect(plainGetParams({ dn: 'uid=a,dc=example,dc=com', attributes: ['cn', 'mail;binary'] })).toBeDefined();
    expect(plainGetParams({ dn: 'cn=Z\\C3\\B6e,dc=x' })).toBeDefined();
    expect(plainGetParams({ dn: 'uid=a', extra: 1 })).toBeUndefined();
    expect(plainGetParams({ 'dn;binary': 'Y249YSxkYz14' })).toBeUndefined();
  });
});
