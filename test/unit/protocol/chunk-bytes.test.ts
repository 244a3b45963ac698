/**
 * `readChunkFrame` against its reference, `decodeFrame` (JSON.parse + the io-ts codec): a frame
 * it takes must be one `decodeFrame` accepts as the same chunk (id, seq, item values), and a
 * chunk `decodeFrame` accepts must be taken (unless nested past the scanner's depth) — on the
 * hostile-frame generators of the hostile suite and on chunk frames built to probe the top-level
 * rules (duplicate keys, escaped keys, `__proto__`, extra keys, number spellings, whitespace).
 * The NDJSON lines of agent-built chunks must be byte for byte what the hub wrote before
 * (`JSON.stringify` of each parsed item), and a line never holds a raw newline.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NdjsonWriter } from '../../../src/hub/http/ndjson.js';
import { decodeFrame, encodeChunk, MAX_JSON_DEPTH, readChunkFrame } from '../../../src/protocol/index.js';
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
  const scanned = buf.length <= MAX_FRAME_BYTES ? readChunkFrame(buf) : undefined;
  const decoded = decodeFrame(buf, MAX_FRAME_BYTES);
  const what = buf.toString('utf8').slice(0, 300);
  if (scanned) {
    expect(decoded.ok, what).toBe(true);
    if (!decoded.ok || decoded.frame.type !== 'chunk') throw new Error(`scanner took a frame decodeFrame reads as ${decoded.ok ? decoded.frame.type : 'invalid'}: ${what}`);
    expect(scanned.id, what).toBe(decoded.frame.id);
    expect(Object.is(scanned.seq, decoded.frame.seq), what).toBe(true);
    expect(scanned.items.count, what).toBe(decoded.frame.items.length);
    expect(scanned.items.values(), what).toEqual(decoded.frame.items);
    const lines = scanned.items.ndjson().toString('utf8');
    const parts = lines.split('\n');
    expect(parts.pop(), what).toBe('');
    expect(parts, what).toHaveLength(decoded.frame.items.length);
    expect(parts.map((l) => JSON.parse(l) as unknown), what).toEqual(decoded.frame.items);
    return true;
  }
  if (decoded.ok && decoded.frame.type === 'chunk' && buf.length <= MAX_FRAME_BYTES && depthOf(buf.toString('utf8')) <= MAX_JSON_DEPTH) {
    throw new Error(`scanner refused a chunk decodeFrame accepts: ${what}`);
  }
  return false;
}

const ws = fc.constantFrom('', '', '', ' ', '\n', '\t ', '\r\n  ');
const item = fc.oneof(
  fc.jsonValue({ noUnicodeString: false }).map((v) => JSON.stringify(v)),
  fc.tuple(fc.jsonValue(), fc.constantFrom(1, '\t', ' \n ')).map(([v, s]) => JSON.stringify(v, null, s)),
  fc.constantFrom('1e400', '-0', '1.0', '9007199254740993', '{"a":1,"a":2}', '{"__proto__":{"polluted":true}}', '"\\u2028\\n"', '"\\ud800"', '"a\nb"', '[1,]', '{"a" 1}', 'tru'),
);
const member = fc.oneof(
  fc.constantFrom('"chunk"', '"\\u0063hunk"', '"end"', '1', 'null', '"chunk "').map((v) => ['"type"', v] as const),
  fc.constantFrom('"r1"', '"\\u0072\\u0031"', '""', `"${'x'.repeat(129)}"`, '"a b"', '1', '"é"').map((v) => ['"id"', v] as const),
  fc.constantFrom('0', '1', '-0', '1.0', '1e2', '-1', '1.5', '1e400', '"1"', 'null', '01').map((v) => ['"seq"', v] as const),
  fc.tuple(fc.array(item, { maxLength: 5 }), ws).map(([items, s]) => ['"items"', `[${s}${items.join(`${s},${s}`)}${s}]`] as const),
  fc.constantFrom('{}', '"x"', 'null').map((v) => ['"items"', v] as const),
  fc.constantFrom('"\\u0074ype"', '"ty\\u0070e"', '"__proto__"', '"extra"', '"Items"', '"i\\u0064"').chain((k) => item.map((v) => [k, v] as const)),
);
/** A chunk frame most of the time: the four fields first, then probing members (duplicates, escapes, extras). */
const chunkish = fc
  .tuple(fc.array(member, { maxLength: 4 }), fc.boolean(), ws, fc.array(item, { maxLength: 4 }))
  .map(([extra, first, s, items]) => {
    const base: Array<readonly [string, string]> = [['"type"', '"chunk"'], ['"id"', '"r1"'], ['"seq"', '0'], ['"items"', `[${items.join(',')}]`]];
    const members = first ? [...extra, ...base] : [...base, ...extra];
    return `${s}{${s}${members.map(([k, v]) => `${k}${s}:${s}${v}`).join(`${s},${s}`)}${s}}${s}`;
  });

describe('readChunkFrame takes exactly the chunks decodeFrame accepts, with the same values', () => {
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

  it('on chunk frames probing the top-level rules', () => {
    let taken = 0;
    fc.assert(
      fc.property(chunkish, (text) => {
        if (agrees(text)) taken += 1;
      }),
      { seed: SEED, numRuns: 5000 },
    );
    expect(taken).toBeGreaterThan(500);
  }, 60_000);

  it('hand-picked: duplicate keys (the last wins), escaped names, prototype keys, number spellings', () => {
    const cases: Array<[string, boolean]> = [
      ['{"type":"chunk","id":"r1","seq":0,"items":[]}', true],
      ['{"type":"chunk","id":"r1","seq":0,"items":[1],"items":[2,3]}', true],
      ['{"type":"chunk","id":"r1","seq":0,"items":[1],"items":{}}', false],
      ['{"type":"end","id":"r1","seq":0,"items":[1],"type":"chunk"}', true],
      ['{"type":"chunk","id":"r1","seq":0,"items":[1],"type":"end"}', false],
      ['{"\\u0074ype":"\\u0063hunk","i\\u0064":"\\u0072\\u0031","seq":0,"items":[1]}', true],
      ['{"__proto__":{"type":"chunk"},"type":"chunk","id":"r1","seq":0,"items":[{"__proto__":{"x":1}}]}', true],
      ['{"type":"chunk","id":"r1","seq":-0,"items":[]}', true],
      ['{"type":"chunk","id":"r1","seq":1.0,"items":[]}', true],
      ['{"type":"chunk","id":"r1","seq":1e400,"items":[]}', false],
      ['{"type":"chunk","id":"r1","seq":1.5,"items":[]}', false],
      ['{"type":"chunk","id":"r 1","seq":0,"items":[]}', false],
      ['{"type":"chunk","id":"r1","seq":0}', false],
      ['{"type":"chunk","id":"r1","seq":0,"items":[1,]}', false],
      ['{"type":"chunk","id":"r1","seq":0,"items":[1]} x', false],
      ['[{"type":"chunk","id":"r1","seq":0,"items":[1]}]', false],
    ];
    for (const [text, taken] of cases) expect(agrees(text), text).toBe(taken);
    expect(agrees(Buffer.concat([Buffer.from('{"type":"chunk","id":"r1","seq":0,"items":["'), Buffer.from([0xc3, 0x28]), Buffer.from('"]}')]))).toBe(false);
  });
});

describe('ChunkItems.ndjson', () => {
  it('agent-built chunks: byte for byte the lines the hub wrote by parsing and re-serialising', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ noUnicodeString: false }), { maxLength: 20 }), fc.nat(1000), (values, seq) => {
        const frame = Buffer.from(encodeChunk('r1', seq, values.map((v) => JSON.stringify(v))).encoded);
        const decoded = decodeFrame(frame);
        if (!decoded.ok || decoded.frame.type !== 'chunk') throw new Error('not a chunk');
        const scanned = readChunkFrame(Buffer.from(frame));
        expect(scanned?.items.ndjson().toString('utf8')).toBe(NdjsonWriter.lines(decoded.frame.items));
        // The lines were written into the frame's own bytes; the values still read the same.
        expect(scanned?.items.values()).toEqual(decoded.frame.items);
        expect(scanned?.items.ndjson().toString('utf8')).toBe(NdjsonWriter.lines(decoded.frame.items));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('whitespace and newlines between tokens are compacted: one line per item, never a raw newline inside', () => {
    const frame = Buffer.from('{"type":"chunk","id":"r1","seq":0,"items":[\n{"a":\n1,\r\n"b" : [ 2 , "x\\ny" ]}\n,\n2 , "\\n" ,{}]}');
    const lines = readChunkFrame(frame)?.items.ndjson().toString('utf8');
    expect(lines).toBe('{"a":1,"b":[2,"x\\ny"]}\n2\n"\\n"\n{}\n');
  });

  it('an item nested past the scanner depth is left to decodeFrame', () => {
    const deep = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(readChunkFrame(Buffer.from(`{"type":"chunk","id":"r1","seq":0,"items":[${deep}]}`))).toBeUndefined();
    const ok = '['.repeat(MAX_JSON_DEPTH - 2) + ']'.repeat(MAX_JSON_DEPTH - 2);
    expect(readChunkFrame(Buffer.from(`{"type":"chunk","id":"r1","seq":0,"items":[${ok}]}`))?.items.count).toBe(1);
  });
});
