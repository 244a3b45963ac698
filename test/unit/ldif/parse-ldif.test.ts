/** RFC 2849 content records: folding, comments, base64, URLs, and errors that name file:line. */
import { describe, expect, it } from 'vitest';
import { LdifError, LdifParser, parseLdif, type LdifDocument } from '../../../src/adapters/ldif/parse-ldif.js';

function values(doc: LdifDocument, record: number, name: string): unknown[] {
  return (doc.records[record]?.attributes ?? []).filter((a) => a.name === name).map((a) => a.value);
}

function error(input: string | Buffer, file = 'people.ldif'): LdifError {
  try {
    parseLdif(input, file);
  } catch (err) {
    if (err instanceof LdifError) return err;
    throw err;
  }
  throw new Error('expected an LdifError');
}

describe('parseLdif', () => {
  it('version, records separated by blank lines, attribute lines in order with their line numbers', () => {
    const doc = parseLdif('version: 1\n\ndn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\n\ndn: ou=x,dc=example,dc=com\nou: x\n', 'a.ldif');
    expect(doc.version).toBe(1);
    expect(doc.records.map((r) => [r.dn, r.line])).toEqual([
      ['dc=example,dc=com', 3],
      ['ou=x,dc=example,dc=com', 8],
    ]);
    expect(doc.records[0]?.attributes).toEqual([
      { name: 'objectClass', value: 'domain', line: 4 },
      { name: 'dc', value: 'example', line: 5 },
    ]);
  });

  it('version may be followed directly by the first record; it is optional', () => {
    expect(parseLdif('version: 1\ndn: dc=x\ndc: x\n', 'a').records).toHaveLength(1);
    expect(parseLdif('dn: dc=x\ndc: x', 'a').version).toBeUndefined();
  });

  it('unfolds continuation lines (one leading space removed) and keeps the start line', () => {
    const doc = parseLdif('dn: cn=Zoë Ång\n ström,dc=x\ndescription: one two\n  three\n four\n', 'f');
    expect(doc.records[0]?.dn).toBe('cn=Zoë Ångström,dc=x');
    // Exactly one space is removed: the second space before "three" is part of the value.
    expect(doc.records[0]?.attributes[0]).toEqual({ name: 'description', value: 'one two threefour', line: 3 });
  });

  it('a fold may fall inside a UTF-8 character (RFC 2849 folds octets)', () => {
    const line = Buffer.from('cn: Zoë', 'utf8');
    const folded = Buffer.concat([Buffer.from('dn: dc=x\n'), line.subarray(0, line.length - 1), Buffer.from('\n '), line.subarray(line.length - 1), Buffer.from('\n')]);
    expect(values(parseLdif(folded, 'f'), 0, 'cn')).toEqual(['Zoë']);
  });

  it('skips comments anywhere, including their folded continuation lines', () => {
    const doc = parseLdif('# a comment\n  that is folded\ndn: dc=x\n# inside a record\ndc: x\n#last\n', 'f');
    expect(doc.records).toHaveLength(1);
    expect(doc.records[0]?.attributes).toEqual([{ name: 'dc', value: 'x', line: 5 }]);
  });

  it('CRLF line ends, a UTF-8 BOM, FILL spaces after the colon, empty values', () => {
    const doc = parseLdif(Buffer.from('\uFEFFdn: dc=x\r\ncn:    spaced   \r\ndescription:\r\n', 'utf8'), 'f');
    expect(doc.records[0]?.dn).toBe('dc=x');
    expect(values(doc, 0, 'cn')).toEqual(['spaced   ']);
    expect(values(doc, 0, 'description')).toEqual(['']);
  });

  it('base64 values: UTF-8 text becomes a string, other bytes stay a Buffer, binary types stay a Buffer', () => {
    const text = Buffer.from('Zoë Ångström').toString('base64');
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    const doc = parseLdif(`dn:: ${Buffer.from('cn=Zoë,dc=x').toString('base64')}\ncn:: ${text}\ndescription:: ${bytes.toString('base64')}\njpegPhoto:: ${Buffer.from('abc').toString('base64')}\n`, 'f');
    expect(doc.records[0]?.dn).toBe('cn=Zoë,dc=x');
    expect(values(doc, 0, 'cn')).toEqual(['Zoë Ångström']);
    const [desc] = values(doc, 0, 'description');
    expect(Buffer.isBuffer(desc) && desc.equals(bytes)).toBe(true);
    const [photo] = values(doc, 0, 'jpegPhoto');
    expect(Buffer.isBuffer(photo) && photo.toString() === 'abc').toBe(true);
  });

  it('base64 may be folded; options (;lang-de, ;binary) stay on the name', () => {
    const doc = parseLdif('dn: dc=x\ncn;lang-de:: Wm/D\n qw==\nuserCertificate;binary:: AAEC\n', 'f');
    expect(values(doc, 0, 'cn;lang-de')).toEqual(['Zoë']);
    expect(Buffer.isBuffer(values(doc, 0, 'userCertificate;binary')[0])).toBe(true);
  });

  it('a BOM starts the file only once: one at the start of a value, inline or base64, is data', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const file = Buffer.concat([bom, Buffer.from('dn: dc=x\ncn: '), bom, Buffer.from(`Anna\ncn:: ${Buffer.concat([bom, Buffer.from('Bob')]).toString('base64')}\ndescription: a\n `), bom, Buffer.from('b\n')]);
    const doc = parseLdif(file, 'f');
    expect(doc.records[0]?.dn).toBe('dc=x');
    expect(values(doc, 0, 'cn')).toEqual(['\uFEFFAnna', '\uFEFFBob']);
    // A continuation line starting (after its space) with a BOM keeps it too.
    expect(values(doc, 0, 'description')).toEqual(['a\uFEFFb']);
    expect(values(parseLdif('\uFEFFdn: dc=x\ncn: \uFEFF\n', 'f'), 0, 'cn')).toEqual(['\uFEFF']);
    // Only one BOM is an encoding mark: a second one at the start is not an attribute line.
    expect(() => parseLdif(Buffer.concat([bom, bom, Buffer.from('dn: dc=x\n')]), 'f')).toThrow(LdifError);
  });

  it('dn:: may hold any bytes: a name that is not UTF-8 keeps them, its dn is the \\XX form', () => {
    const name = Buffer.concat([Buffer.from('cn=Caf'), Buffer.from([0xe9]), Buffer.from(',dc=x')]);
    const doc = parseLdif(`dn:: ${name.toString('base64')}\ncn:: ${Buffer.from('Caf\xe9', 'latin1').toString('base64')}\n`, 'f');
    const r = doc.records[0];
    expect(r?.dn).toBe('cn=Caf\\E9,dc=x');
    expect(r?.dnBytes?.equals(name)).toBe(true);
    expect(r?.rdns[0]?.[0]?.bytes?.equals(Buffer.from('Caf\xe9', 'latin1'))).toBe(true);
    // Written as text with escapes, the same name.
    const escaped = parseLdif('dn: cn=Caf\\e9,dc=x\n', 'f').records[0];
    expect(escaped?.dn).toBe('cn=Caf\\E9,dc=x');
    expect(escaped?.dnBytes?.equals(name)).toBe(true);
    // Escapes that spell UTF-8 are text: the DN stays as written.
    const text = parseLdif('dn: cn=Caf\\c3\\a9,dc=x\n', 'f').records[0];
    expect([text?.dn, text?.dnBytes]).toEqual(['cn=Caf\\c3\\a9,dc=x', undefined]);
  });

  it('NUL, control characters, every script and long values survive base64 exactly', () => {
    const hostile = ['\u0000', 'a\u0000b', '\u0001\u001f\u007f\u0085', ' lead', 'trail ', ':colon', '<less', 'line\nbreak\r\n', 'Ελληνικά Кириллица العربية עברית हिन्दी 中文 日本語 한국어 ไทย 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧 e\u0301 \u200f', 'x'.repeat(100_000)];
    const ldif = `dn: dc=x\n${hostile.map((v) => `description:: ${Buffer.from(v).toString('base64')}`).join('\n')}\n`;
    expect(values(parseLdif(ldif, 'f'), 0, 'description')).toEqual(hostile);
  });

  it('file:// URL values are returned for the loader to read', () => {
    const doc = parseLdif('dn: dc=x\njpegPhoto:< file:///tmp/photo.jpg\n', 'f');
    expect(values(doc, 0, 'jpegPhoto')).toEqual([{ url: 'file:///tmp/photo.jpg' }]);
  });

  it('a line of only spaces separates records like a blank line', () => {
    expect(parseLdif('dn: dc=a\ndc: a\n   \ndn: dc=b\ndc: b\n', 'f').records.map((r) => r.dn)).toEqual(['dc=a', 'dc=b']);
  });

  it('an empty file has no records', () => {
    expect(parseLdif('', 'f').records).toEqual([]);
    expect(parseLdif('# only a comment\n\n', 'f').records).toEqual([]);
  });
});

describe('parseLdif errors name file:line', () => {
  it.each([
    ['a record without dn:', 'version: 1\n\ncn: x\n', 3, "a record must start with 'dn:', got 'cn:'"],
    ['a line that is not attr: value', 'dn: dc=x\nthis is not ldif\n', 2, "expected 'attribute: value'"],
    ['bad base64', 'dn: dc=x\n\ndn: dc=y\ncn:: not base64!\n', 4, "cn: value after '::' is not valid base64"],
    ['a continuation with nothing to continue', '\n continued\n', 2, 'continuation line'],
    ['a change record', 'dn: dc=x\nchangetype: modify\n', 2, 'change records'],
    ['a control line', 'dn: dc=x\ncontrol: 1.2.3\n', 2, 'change records'],
    ['a malformed DN', '\n\ndn: uid=a,,dc=x\ncn: a\n', 3, 'invalid DN'],
    ['two dn: lines in one record', 'dn: dc=x\ndn: dc=y\n', 2, "a second 'dn:'"],
    ['an unsupported version', 'version: 2\n', 1, 'unsupported LDIF version "2"'],
    ['a URL that is not file://', 'dn: dc=x\njpegPhoto:< http://example.com/p.jpg\n', 2, 'only file:// URLs'],
    ['a dn:: whose bytes are not a DN', `dn:: ${Buffer.from([0xff, 0xfe]).toString('base64')}\n`, 1, 'invalid DN "\\\\FF\\\\FE"'],
    ['a dn:< URL', 'dn:< file:///tmp/name\n', 1, 'dn: cannot be a URL'],
  ])('%s', (_what, input, line, message) => {
    const e = error(input);
    expect(e.file).toBe('people.ldif');
    expect(e.line).toBe(line);
    expect(e.message).toMatch(new RegExp(`^people\\.ldif:${line}: `));
    expect(e.message).toContain(message);
  });

  it('a line that is not valid UTF-8 (read as bytes)', () => {
    const input = Buffer.concat([Buffer.from('dn: dc=x\ndc: x\ncn: '), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
    const e = error(input, '/data/dir.ldif');
    expect(e.message).toMatch(/^\/data\/dir\.ldif:3: not valid UTF-8/);
  });

  it('the line of a folded line is where it starts', () => {
    expect(error('dn: dc=x\ncn:: QUJD\n RA=!\n').line).toBe(2);
  });
});

describe('LdifParser (pushed in chunks)', () => {
  it('gives the same records and errors whatever the chunk size (lines, folds, CRLF, BOM and UTF-8 characters cut anywhere)', () => {
    const text = Buffer.from('\uFEFFversion: 1\r\n\r\ndn: cn=Zoë Ång\r\n ström,dc=x\r\ncn:: WsO2w6s=\r\n# note\r\n  folded\r\ndescription: a\r\n  b\r\n\r\ndn: dc=x\r\ndc: x', 'utf8');
    const whole = parseLdif(text, 'f');
    for (let size = 1; size <= 9; size++) {
      const parser = new LdifParser('f');
      const records = [];
      for (let at = 0; at < text.length; at += size) records.push(...parser.push(text.subarray(at, at + size)));
      records.push(...parser.end());
      expect(records, `chunks of ${size}`).toEqual(whole.records);
      expect(parser.version).toBe(1);
    }
    const bad = Buffer.from('dn: dc=x\ndc: x\n\ndn: dc=y\nbroken line\n', 'utf8');
    const parser = new LdifParser('f');
    expect(() => {
      for (let at = 0; at < bad.length; at += 3) parser.push(bad.subarray(at, at + 3));
      parser.end();
    }).toThrow('f:5: expected');
  });
});
