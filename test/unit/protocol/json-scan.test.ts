/**
 * The validating JSON scanner against its reference, `JSON.parse`: every text it accepts must
 * parse, and every text that parses must be accepted (within the depth limit) — on generated
 * JSON, on JSON written with whitespace, on random token soup and on mutations of valid JSON.
 * `compactJson` must give a text that parses to the same value and holds no whitespace outside
 * strings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactJson, JsonScanner, MAX_JSON_DEPTH, SCAN_INVALID, SCAN_TOO_DEEP } from '../../../src/protocol/index.js';

const SEED = 20_240_611;
const scanner = new JsonScanner();

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Nesting depth of a JSON text (brackets outside strings). */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth -= 1;
  }
  return max;
}

/** The scanner's verdict must be JSON.parse's, for texts within the depth limit. */
function agrees(text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  const ok = scanner.isJson(bytes);
  if (depthOf(text) <= MAX_JSON_DEPTH) expect(ok, text).toBe(parses(text));
  else if (ok) expect(parses(text), text).toBe(true);
}

const TOKENS = ['{', '}', '[', ']', ',', ':', ' ', '\n', '\t', '"', '\\', '\\u', '\\n', '\\x', 'a', '0', '1', '-', '+', '.', 'e', 'E', 'true', 'false', 'null', 'tru', 'nul', '\u0001', '\u00e9', '"k"', '"v"', '1e400', '01', '-0', '.5', '\\"', '\\\\', '\\ud800', 'ABCD', '\r', '\u2028'];

const jsonWithSpace = fc.tuple(fc.jsonValue(), fc.constantFrom(0, 1, 2, '\t', ' \n ')).map(([v, space]) => JSON.stringify(v, null, space));

function mutate(text: string, at: number, edit: number, by: string): string {
  const i = text.length === 0 ? 0 : at % (text.length + 1);
  if (edit === 0) return text.slice(0, i) + text.slice(i + 1);
  if (edit === 1) return text.slice(0, i) + by + text.slice(i);
  return text.slice(0, i) + by + text.slice(i + 1);
}

describe('JsonScanner.isJson agrees with JSON.parse', () => {
  it('on generated JSON, compact and with whitespace (incl. unicode strings)', () => {
    fc.assert(fc.property(fc.oneof(fc.json(), jsonWithSpace, fc.jsonValue({ noUnicodeString: false }).map((v) => JSON.stringify(v))), agrees), { seed: SEED, numRuns: 3000 });
  });

  it('on random token soup', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map((t) => t.join('')), agrees), { seed: SEED, numRuns: 20_000 });
  });

  it('on single-character mutations of valid JSON', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), jsonWithSpace), fc.nat(), fc.integer({ min: 0, max: 2 }), fc.constantFrom(...TOKENS), (text, at, edit, by) => agrees(mutate(text, at, edit, by))),
      { seed: SEED, numRuns: 20_000 },
    );
  });

  it('on hand-picked edge cases', () => {
    const cases = [
      '', ' ', '1', '-0', '-', '01', '1.', '.1', '1e', '1e+', '1E-5', '1e400', '-1e-400', '9007199254740993', '0x10', 'NaN', 'Infinity', '+1',
      '""', '"\\u00e9"', '"\\u00G9"', '"\\ud800"', '"\\/"', '"\\a"', '"\u0000"', '"\u001f"', '"\u007f"', '"a\nb"', '"\u2028"',
      '[]', '[,]', '[1,]', '[1 2]', '{}', '{,}', '{"a"}', '{"a":}', '{"a":1,}', '{"a":1 "b":2}', '{1:2}', '{"a":1}}', '[[]]]', 'true', 'truex', 'nulll', 'tRue',
      ' {"a" : [ 1 , { "b" : null } ] } ', '\t\n\r[]\r\n', '\u00a0[]', '[1]\u0000', '{"__proto__":{"polluted":true}}', '{"a":1,"a":2}',
    ];
    for (const text of cases) agrees(text);
  });
});

describe('JsonScanner.value', () => {
  it('returns the offset just past one value and ignores what follows', () => {
    const b = Buffer.from('{"a":[1,{"b":"]"}]} tail');
    expect(scanner.value(b, 0)).toBe(19);
    expect(scanner.value(Buffer.from('"x\\"y",'), 0)).toBe(6);
    expect(scanner.value(Buffer.from('123]'), 0)).toBe(3);
  });

  it('refuses nesting past the limit as SCAN_TOO_DEEP, not as invalid', () => {
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    const deep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    expect(scanner.value(Buffer.from(ok), 0)).toBe(ok.length);
    expect(scanner.value(Buffer.from(deep), 0)).toBe(SCAN_TOO_DEEP);
    // Depth counts containers already open around the value.
    expect(scanner.value(Buffer.from(ok), 0, 1)).toBe(SCAN_TOO_DEEP);
    expect(scanner.value(Buffer.from('{"a":'.repeat(100_000)), 0)).toBe(SCAN_TOO_DEEP);
    expect(scanner.value(Buffer.from('[1,'), 0)).toBe(SCAN_INVALID);
  });
});

describe('compactJson', () => {
  it('drops whitespace outside strings only: an indented JSON.stringify text becomes the compact one', () => {
    fc.assert(
      fc.property(fc.jsonValue({ noUnicodeString: false }), fc.constantFrom(1, 2, '\t', ' \n '), (value, space) => {
        const src = Buffer.from(JSON.stringify(value, null, space));
        const dst = Buffer.alloc(src.length);
        const out = dst.toString('utf8', 0, compactJson(src, 0, src.length, dst, 0));
        expect(out).toBe(JSON.stringify(value));
        expect(out.includes('\n')).toBe(false);
      }),
      { seed: SEED, numRuns: 2000 },
    );
    const spaced = Buffer.from('{ "a b" : [ 1 ,\n "x\\" \\n y" ] }');
    const dst = Buffer.alloc(spaced.length);
    expect(dst.toString('utf8', 0, compactJson(spaced, 0, spaced.length, dst, 0))).toBe('{"a b":[1,"x\\" \\n y"]}');
  });
});
