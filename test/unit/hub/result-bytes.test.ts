/**
 * `readResultFrame` against its reference, `decodeFrame` (JSON.parse + the io-ts codec): a frame
 * it takes must be one `decodeFrame` accepts as the same result (id, data value), and a result
 * `decodeFrame` accepts with a `data` key must be taken (unless nested past the scanner's depth)
 * — on the hostile suite's generators and on result frames built to probe the top-level rules
 * (duplicate keys, escaped keys, `__proto__`, extra keys, number spellings, whitespace). The
 * HTTP answer body of agent-built data must be byte for byte what the hub wrote before
 * (`JSON.stringify({dataSource, requestId, data})` of the parsed data).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerBody } from '../../../src/hub/http/operation-routes.js';
import { decodeFrame, looksLikeResult, MAX_JSON_DEPTH, readResultFrame, ResultData } from '../../../src/protocol/index.js';
import { anyHostileFrame, deepFrame, frameTemplates, materialise } from '../../hostile/helpers.js';

const SEED = 20_240_611;
const MAX_FRAME_BYTES = 64 * 1024;

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

/** The scanner and decodeFrame agree on `data`; returns whether the scanner took it. */
function agrees(data: string | Buffer): boolean {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const scanned = buf.length <= MAX_FRAME_BYTES ? readResultFrame(buf) : undefined;
  const decoded = decodeFrame(buf, MAX_FRAME_BYTES);
  const what = buf.toString('utf8').slice(0, 300);
  if (scanned) {
    if (!decoded.ok || decoded.frame.type !== 'result') throw new Error(`scanner took a frame decodeFrame reads as ${decoded.ok ? decoded.frame.type : 'invalid'}: ${what}`);
    expect(scanned.id, what).toBe(decoded.frame.id);
    expect(scanned.data.value(), what).toEqual(decoded.frame.data);
    // The bytes are one line of JSON that parses to the same value.
    const json = scanned.data.json();
    if (!Buffer.isBuffer(json)) throw new Error('scanned data is not bytes');
    expect(json.includes(0x0a), what).toBe(false);
    expect(JSON.parse(json.toString('utf8')), what).toEqual(decoded.frame.data);
    return true;
  }
  // io-ts accepts a result without `data` (t.unknown): the scanner leaves those to decodeFrame.
  const hasData = decoded.ok && decoded.frame.type === 'result' && Object.hasOwn(JSON.parse(buf.toString('utf8')) as object, 'data');
  if (hasData && buf.length <= MAX_FRAME_BYTES && depthOf(buf.toString('utf8')) <= MAX_JSON_DEPTH) {
    throw new Error(`scanner refused a result decodeFrame accepts: ${what}`);
  }
  return false;
}

const ws = fc.constantFrom('', '', '', ' ', '\n', '\t ', '\r\n  ');
const value = fc.oneof(
  fc.jsonValue({ noUnicodeString: false }).map((v) => JSON.stringify(v)),
  fc.tuple(fc.jsonValue(), fc.constantFrom(1, '\t', ' \n ')).map(([v, s]) => JSON.stringify(v, null, s)),
  fc.constantFrom('1e400', '-0', '1.0', '9007199254740993', '{"a":1,"a":2}', '{"__proto__":{"polluted":true}}', '"\\u2028\\n"', '"\\ud800"', '"a\nb"', '[1,]', '{"a" 1}', 'tru'),
);
const member = fc.oneof(
  fc.constantFrom('"result"', '"\\u0072esult"', '"chunk"', '1', 'null', '"result "').map((v) => ['"type"', v] as const),
  fc.constantFrom('"r1"', '"\\u0072\\u0031"', '""', `"${'x'.repeat(129)}"`, '"a b"', '1', '"é"').map((v) => ['"id"', v] as const),
  value.map((v) => ['"data"', v] as const),
  fc.constantFrom('"\\u0074ype"', '"d\\u0061ta"', '"__proto__"', '"extra"', '"Data"', '"i\\u0064"').chain((k) => value.map((v) => [k, v] as const)),
);
/** A result frame most of the time: the three fields first, then probing members (duplicates, escapes, extras). */
const resultish = fc
  .tuple(fc.array(member, { maxLength: 4 }), fc.boolean(), ws, value, fc.boolean())
  .map(([extra, first, s, data, withData]) => {
    const base: Array<readonly [string, string]> = [['"type"', '"result"'], ['"id"', '"r1"'], ...(withData ? [['"data"', data] as const] : [])];
    const members = first ? [...extra, ...base] : [...base, ...extra];
    return `${s}{${s}${members.map(([k, v]) => `${k}${s}:${s}${v}`).join(`${s},${s}`)}${s}}${s}`;
  });

describe('readResultFrame takes exactly the results decodeFrame accepts, with the same data', () => {
  it('on the hostile suite generators (mutated, raw text, numbers, bad UTF-8, prototype keys, duplicate keys, deep, oversize)', () => {
    let taken = 0;
    fc.assert(
      fc.property(anyHostileFrame(frameTemplates('mem'), MAX_FRAME_BYTES), (hf) => {
        if (!hf.binary && agrees(materialise(hf, 'r1'))) taken += 1;
      }),
      { seed: SEED, numRuns: 5000 },
    );
    fc.assert(fc.property(deepFrame(), (hf) => void agrees(materialise(hf, 'r1'))), { seed: SEED, numRuns: 60 });
    expect(taken).toBeGreaterThan(20);
  }, 60_000);

  it('on result frames probing the top-level rules', () => {
    let taken = 0;
    fc.assert(
      fc.property(resultish, (text) => {
        if (agrees(text)) taken += 1;
      }),
      { seed: SEED, numRuns: 5000 },
    );
    expect(taken).toBeGreaterThan(500);
  }, 60_000);

  it('hand-picked: duplicate keys (the last wins), escaped names, prototype keys, a result without data', () => {
    const cases: Array<[string, boolean]> = [
      ['{"type":"result","id":"r1","data":{"dn":"x"}}', true],
      ['{"type":"result","id":"r1","data":1,"data":[2,3]}', true],
      ['{"type":"chunk","id":"r1","data":1,"type":"result"}', true],
      ['{"type":"result","id":"r1","data":1,"type":"chunk"}', false],
      ['{"\\u0074ype":"\\u0072esult","i\\u0064":"\\u0072\\u0031","d\\u0061ta":null}', true],
      ['{"__proto__":{"type":"result"},"type":"result","id":"r1","data":{"__proto__":{"x":1}}}', true],
      ['{"type":"result","id":"r 1","data":1}', false],
      ['{"type":"result","id":"r1"}', false],
      ['{"type":"result","id":"r1","data":[1,]}', false],
      ['{"type":"result","id":"r1","data":1} x', false],
      ['[{"type":"result","id":"r1","data":1}]', false],
    ];
    for (const [text, taken] of cases) expect(agrees(text), text).toBe(taken);
    expect(agrees(Buffer.concat([Buffer.from('{"type":"result","id":"r1","data":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]))).toBe(false);
  });

  it('data nested past the scanner depth is left to decodeFrame', () => {
    const deep = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(readResultFrame(Buffer.from(`{"type":"result","id":"r1","data":${deep}}`))).toBeUndefined();
    const ok = '['.repeat(MAX_JSON_DEPTH - 1) + ']'.repeat(MAX_JSON_DEPTH - 1);
    expect(readResultFrame(Buffer.from(`{"type":"result","id":"r1","data":${ok}}`))?.id).toBe('r1');
  });

  it('looksLikeResult: the start every agent writes, nothing else', () => {
    expect(looksLikeResult(Buffer.from(JSON.stringify({ type: 'result', id: 'r1', data: 1 })))).toBe(true);
    expect(looksLikeResult(Buffer.from(JSON.stringify({ type: 'chunk', id: 'r1', seq: 0, items: [] })))).toBe(false);
    expect(looksLikeResult(Buffer.from('{"type":"result",'))).toBe(false);
  });
});

describe('the HTTP answer body', () => {
  it('agent-built data: byte for byte JSON.stringify({dataSource, requestId, data}) of the parsed data', () => {
    fc.assert(
      fc.property(fc.jsonValue({ noUnicodeString: false }), fc.string(), fc.string(), (data, dataSource, requestId) => {
        const frame = Buffer.from(JSON.stringify({ type: 'result', id: 'r1', data }));
        const decoded = decodeFrame(frame);
        if (!decoded.ok || decoded.frame.type !== 'result') throw new Error('not a result');
        const before = JSON.stringify({ dataSource, requestId, data: decoded.frame.data });
        const scanned = readResultFrame(frame);
        expect(scanned).toBeDefined();
        expect(answerBody(dataSource, requestId, scanned!.data).toString('utf8')).toBe(before);
        expect(answerBody(dataSource, requestId, ResultData.ofValue(decoded.frame.data)).toString('utf8')).toBe(before);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('whitespace in the data is compacted: the body is one line', () => {
    const scanned = readResultFrame(Buffer.from('{"type":"result","id":"r1","data":\n{"a":\n1,\r\n"b" : [ 2 , "x\\ny" ]}\n}'));
    expect(answerBody('ds', 'q1', scanned!.data).toString('utf8')).toBe('{"dataSource":"ds","requestId":"q1","data":{"a":1,"b":[2,"x\\ny"]}}');
  });

  it('a result whose data is undefined leaves data out, as JSON.stringify did', () => {
    expect(answerBody('ds', 'q1', ResultData.ofValue(undefined)).toString('utf8')).toBe('{"dataSource":"ds","requestId":"q1"}');
  });

  it('data too deep for JSON.stringify is the agent fault: BAD_FRAME', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect(() => answerBody('ds', 'q1', ResultData.ofValue(deep))).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
  });
});
