/**
 * resource-batch.ts: a ListResponse body's `Resources` taken from its bytes as one JsonBatch.
 * Property tests (fast-check, fixed seed) over generated resources written compactly, indented
 * and with random whitespace between every token: the items are byte-identical to what the
 * adapter sent before (`JSON.stringify` of the parsed resource) and parse to the same values;
 * the bodies the bytes cannot serve (not UTF-8, too deep, a scan that disagrees) take the old
 * path; the head of a batch is a view.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUtf8 } from 'node:buffer';
import { batchHead, resourcesBatch, resourceSpans } from '../../../src/adapters/scim/resource-batch.js';
import { JsonBatch } from '../../../src/adapter-kit/json-batch.js';

const SEED = { seed: 20_250_111, numRuns: 300 };
const WS = [' ', '\t', '\n', '\r'];

/** JSON text of `v` with whitespace runs (chosen by `pick`) between all tokens. */
function spaced(v: unknown, pick: () => string): string {
  const w = pick;
  if (Array.isArray(v)) return `[${w()}${v.map((x) => `${w()}${spaced(x, pick)}${w()}`).join(',')}${w()}]`;
  if (v !== null && typeof v === 'object') {
    return `{${w()}${Object.entries(v).map(([k, x]) => `${w()}${JSON.stringify(k)}${w()}:${w()}${spaced(x, pick)}${w()}`).join(',')}${w()}}`;
  }
  return JSON.stringify(v);
}

function whitespacePicker(seed: number): () => string {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 1_103_515_245 + 12_345) >>> 0;
    const n = s % 3;
    return Array.from({ length: n }, (_, k) => WS[(s >>> (8 + 2 * k)) % 4]!).join('');
  };
}

/** What the adapter did for every body: parse it, decode `Resources`. */
const parsedResources = (body: Buffer): unknown[] => (JSON.parse(body.toString('utf8')) as { Resources?: unknown[] }).Resources ?? [];
const before = (resources: readonly unknown[]): string[] => resources.map((r) => JSON.stringify(r));

const resource = fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue(), { maxKeys: 6 }).map((o) => ({ id: 'x', ...o }));
const listOf = (resources: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
  totalResults: resources.length,
  ...extra,
  Resources: resources,
  itemsPerPage: resources.length,
});

describe('resourcesBatch', () => {
  it('compact bodies: the batch is a view of the body, byte-identical to JSON.stringify of each parsed resource', () => {
    fc.assert(
      fc.property(fc.array(resource, { minLength: 1, maxLength: 8 }), (resources) => {
        const body = Buffer.from(JSON.stringify(listOf(resources)));
        fc.pre(isUtf8(body)); // lone surrogates are escaped by JSON.stringify: always UTF-8
        const parsed = parsedResources(body);
        const { batch, path } = resourcesBatch(body, parsed);
        expect(path).toBe('in place');
        expect(batch.bytes.buffer).toBe(body.buffer);
        expect(batch.texts()).toEqual(before(parsed));
        expect(batch.bytes.toString('utf8')).toBe(batch.texts().join(','));
      }),
      SEED,
    );
  });

  it('indented bodies and random whitespace between every token: compacted, byte-identical to before, equal by value', () => {
    fc.assert(
      fc.property(fc.array(resource, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom<'indent' | 'tab' | 'random'>('indent', 'tab', 'random'), (resources, seed, style) => {
        const list = listOf(resources);
        const text = style === 'indent' ? JSON.stringify(list, null, 2) : style === 'tab' ? JSON.stringify(list, null, '\t') : spaced(list, whitespacePicker(seed));
        const body = Buffer.from(text);
        const parsed = parsedResources(body);
        const { batch } = resourcesBatch(body, parsed);
        expect(batch.texts()).toEqual(before(parsed));
        expect(batch.texts().map((t) => JSON.parse(t) as unknown)).toEqual(parsed);
        expect(batch.bytes.toString('utf8')).toBe(batch.texts().join(','));
        expect(batch.bytes.includes(0x0a)).toBe(false);
      }),
      SEED,
    );
  });

  it('spellings JSON.stringify would change pass through as sent; JSON.parse of an item gives the parsed resource', () => {
    const text =
      '{"totalResults":1,"Resources":[ {"id":"1","n":1.0,"e":1E2,"big":123456789012345678901234567890,"esc":"\\u0041\\/b","dup":1,"dup":2,' +
      '"2":"two","1":"one","__proto__":{"x":1}} ]}';
    const body = Buffer.from(text);
    const parsed = parsedResources(body);
    const { batch, path } = resourcesBatch(body, parsed);
    expect(path).toBe('in place'); // whitespace around the only element is not part of it
    expect(batch.text(0)).toBe('{"id":"1","n":1.0,"e":1E2,"big":123456789012345678901234567890,"esc":"\\u0041\\/b","dup":1,"dup":2,"2":"two","1":"one","__proto__":{"x":1}}');
    expect(JSON.parse(batch.text(0))).toEqual(parsed[0]);
    expect(JSON.stringify(JSON.parse(batch.text(0)))).toBe(JSON.stringify(parsed[0]));
  });

  it('whitespace inside strings is kept; only whitespace between tokens goes', () => {
    const body = Buffer.from('{ "Resources" : [\n  { "id" : "a b\\n\\t c" ,\n "v" : [ 1 , 2 ] }\n,\r\n{"id":"2"} ] , "totalResults" : 2 }');
    const parsed = parsedResources(body);
    const { batch, path } = resourcesBatch(body, parsed);
    expect(path).toBe('compacted');
    expect(batch.texts()).toEqual(['{"id":"a b\\n\\t c","v":[1,2]}', '{"id":"2"}']);
  });

  it('the last top-level Resources is taken, as JSON.parse keeps it — also spelt with escapes; nested ones are not', () => {
    const cases = [
      '{"Resources":[{"id":"old"}],"totalResults":1,"Resources":[{"id":"new"}]}',
      '{"Resources":5,"Resources":[{"id":"new"}],"totalResults":1}',
      '{"Resource\\u0073":[{"id":"new"}],"totalResults":1}',
      '{"meta":{"Resources":[{"id":"nested"}]},"Resources":[{"id":"new"}],"totalResults":1}',
    ];
    for (const text of cases) {
      const body = Buffer.from(text);
      const parsed = parsedResources(body);
      expect(parsed).toEqual([{ id: 'new' }]);
      const { batch, path } = resourcesBatch(body, parsed);
      expect(path).toBe('in place');
      expect(batch.texts()).toEqual(['{"id":"new"}']);
    }
  });

  it('a body that is not UTF-8 takes the old path: the values JSON.parse decoded (U+FFFD), serialised', () => {
    const body = Buffer.concat([Buffer.from('{"totalResults":1,"Resources":[{"id":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    const parsed = parsedResources(body);
    const { batch, path } = resourcesBatch(body, parsed);
    expect(path).toBe('values');
    expect(batch.texts()).toEqual(before(parsed));
    expect(JSON.parse(batch.text(0))).toEqual({ id: 'a\ufffd\ufffd' });
  });

  it('a resource nested deeper than the scanner follows takes the old path, unchanged', () => {
    let deep: unknown = 'leaf';
    for (let k = 0; k < 200; k++) deep = { d: deep };
    const body = Buffer.from(JSON.stringify(listOf([{ id: '1', deep }, { id: '2' }])));
    const parsed = parsedResources(body);
    const { batch, path } = resourcesBatch(body, parsed);
    expect(path).toBe('values');
    expect(batch.texts()).toEqual(before(parsed));
  });

  it('a scan that does not agree with the parsed resources (count, non-object) takes the old path', () => {
    const body = Buffer.from('{"totalResults":2,"Resources":[{"id":"1"},{"id":"2"}]}');
    expect(resourcesBatch(body, [{ id: '1' }]).path).toBe('values');
    const odd = Buffer.from('{"totalResults":2,"Resources":[{"id":"1"},7]}');
    expect(resourcesBatch(odd, [{ id: '1' }, 7]).path).toBe('values');
  });

  it('no resources → the empty batch', () => {
    expect(resourcesBatch(Buffer.from('{"totalResults":0}'), []).batch.count).toBe(0);
    expect(resourceSpans(Buffer.from('{"totalResults":0}'))).toBeUndefined();
    expect(resourceSpans(Buffer.from('{"totalResults":0,"Resources":[]}'))?.starts).toEqual([]);
  });
});

describe('batchHead', () => {
  it('the first n items as a view of the same bytes; all or none at the edges', () => {
    const batch = JsonBatch.fromTexts(['{"id":"1"}', '{"id":"22"}', '{"id":"333"}']);
    const head = batchHead(batch, 2);
    expect(head.texts()).toEqual(['{"id":"1"}', '{"id":"22"}']);
    expect(head.bytes.toString()).toBe('{"id":"1"},{"id":"22"}');
    expect(head.bytes.buffer).toBe(batch.bytes.buffer);
    expect(batchHead(batch, 3)).toBe(batch);
    expect(batchHead(batch, 5)).toBe(batch);
    expect(batchHead(batch, 0).count).toBe(0);
  });
});
