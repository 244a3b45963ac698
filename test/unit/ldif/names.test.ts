/** Names held byte for byte: invalid UTF-8 found byte by byte, `\XX` forms, exact bytes back. */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDn } from '../../../src/adapters/directory/dn.js';
import { escapeDnBytes, invalidBytes, nameOf, rawDnBytes } from '../../../src/adapters/ldif/names.js';

const b = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

/** Byte strings rich in UTF-8 edge cases: lead bytes, continuations, surrogates, overlongs, 5-byte forms. */
const hostileBytes = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 255 }).map((x) => [x]),
    fc.constantFrom([0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf], [0xe9], [0xff], [0xef, 0xbb, 0xbf], [0xf0, 0x9f, 0x98, 0x80], [0xc3, 0xa9], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]),
    fc.string({ unit: 'binary', maxLength: 4 }).map((s) => [...Buffer.from(s, 'utf8')]),
  ),
  { maxLength: 12 },
);

describe('invalidBytes', () => {
  it('agrees with isUtf8 (Unicode Table 3-7) on every byte string', () => {
    fc.assert(
      fc.property(hostileBytes, (parts) => {
        const bytes = Buffer.from(parts.flat());
        const invalid = invalidBytes(bytes);
        expect(invalid.includes(true)).toBe(!isUtf8(bytes));
        // The bytes not marked are exactly the well-formed characters, in order.
        const kept = Buffer.from([...bytes].filter((_, i) => invalid[i] !== true));
        expect(isUtf8(kept)).toBe(true);
      }),
      { seed: 20261205, numRuns: 2000 },
    );
  });

  it('marks each byte of an invalid sequence: surrogates, 5-byte forms, overlongs, truncated', () => {
    expect(invalidBytes(b([0xed, 0xa0, 0x80]))).toEqual([true, true, true]);
    expect(invalidBytes(b([0xf8, 0x88, 0x80, 0x80, 0x80]))).toEqual([true, true, true, true, true]);
    expect(invalidBytes(b([0xc0, 0xaf]))).toEqual([true, true]);
    expect(invalidBytes(b([0xe2, 0x82], 'A'))).toEqual([true, true, false]);
    expect(invalidBytes(b([0xe2, 0xe2, 0x82, 0xac]))).toEqual([true, false, false, false]);
  });
});

describe('escapeDnBytes and rawDnBytes', () => {
  it('a UTF-8 name is its text; others get \\XX for each invalid byte and nothing else', () => {
    expect(escapeDnBytes(b('cn=Zoë,dc=x'))).toBe('cn=Zoë,dc=x');
    expect(escapeDnBytes(b('cn=Caf', [0xe9], ',dc=x'))).toBe('cn=Caf\\E9,dc=x');
    expect(escapeDnBytes(b('cn=', [0xed, 0xa0, 0x80], 'é\\2C,dc=x'))).toBe('cn=\\ED\\A0\\80é\\2C,dc=x');
    // An escaping backslash before an invalid byte: `\E9` already stands for the byte.
    expect(escapeDnBytes(b('cn=a\\', [0xe9], ',dc=x'))).toBe('cn=a\\E9,dc=x');
    // An escaped backslash before one keeps both backslashes.
    expect(escapeDnBytes(b('cn=a\\\\', [0xe9], ',dc=x'))).toBe('cn=a\\\\\\E9,dc=x');
  });

  it('rawDnBytes turns escapes of invalid sequences into those bytes, keeps every other escape', () => {
    expect(rawDnBytes('cn=Caf\\e9,dc=x')).toEqual(b('cn=Caf', [0xe9], ',dc=x'));
    expect(rawDnBytes('cn=\\5C\\E9\\2C\\c3\\a9,dc=x')).toEqual(b('cn=\\5C', [0xe9], '\\2C\\c3\\a9,dc=x'));
    expect(rawDnBytes('cn=Caf\\c3\\a9,dc=x')).toBeUndefined();
    // `\\E9` is an escaped backslash and the text E9.
    expect(rawDnBytes('cn=a\\\\E9,dc=x')).toBeUndefined();
    expect(rawDnBytes('cn=a\\\\\\E9,dc=x')).toEqual(b('cn=a\\\\', [0xe9], ',dc=x'));
  });

  it('round trip: bytes → dn → bytes, and the dn parses to values holding exactly those bytes', () => {
    const valueBytes = hostileBytes.map((parts) => Buffer.from(parts.flat().filter((x) => x !== 0x5c)));
    fc.assert(
      fc.property(valueBytes, (value) => {
        // The value as a DN would carry it: specials and edges escaped, every other byte raw.
        const escaped = Buffer.concat([...value].map((x, i) => (',+"<>;=\0'.includes(String.fromCharCode(x)) || (i === 0 && (x === 0x20 || x === 0x23)) || (i === value.length - 1 && x === 0x20) ? Buffer.from(`\\${x.toString(16).padStart(2, '0')}`) : Buffer.from([x]))));
        const raw = Buffer.concat([b('cn='), escaped, b(',dc=x')]);
        const name = nameOf(raw);
        if (isUtf8(raw)) {
          expect(name).toEqual({ dn: raw.toString('utf8') });
        } else {
          expect(name.binary).toEqual(raw);
          expect(nameOf(name.dn)).toEqual(name);
        }
        const [rdn] = parseDn(name.dn);
        const ava = rdn?.[0];
        if (value.length > 0) expect(ava?.bytes ?? Buffer.from(ava?.value ?? '', 'utf8')).toEqual(value);
      }),
      { seed: 20261205, numRuns: 2000 },
    );
  });
});
