/**
 * defineDataSource and the open config types: a definition is checked and branded, a plugin's
 * definition from another copy of the package is recognised by its brand, and the dispatcher
 * decodes the keys every data source has (`operations`, `isolation`) before the type's codec.
 */
import * as t from 'io-ts';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { DATA_SOURCE_BRAND, defineDataSource, isDataSourceDefinition } from '../../../src/adapter-kit/define.js';
import { createAdapter, registerDataSource } from '../../../src/adapter-kit/registry.js';
import { DataSourceConfigCodec, type DataSourceConfigBase } from '../../../src/config/data-source-registry.js';
import { NonEmptyString, strictObject, withDefault, PositiveInt } from '../../../src/config/codecs.js';
import { reportErrors } from '../../../src/support/io-ts-report.js';
import { createLogger } from '../../../src/log/logger.js';

interface MemoConfig extends DataSourceConfigBase {
  readonly type: 'memo-kit-test';
  readonly note: string;
  readonly size: number;
}

const memo = defineDataSource<MemoConfig>({
  type: 'memo-kit-test',
  config: strictObject({ type: t.literal('memo-kit-test'), note: NonEmptyString, size: withDefault(PositiveInt, 3 as PositiveInt) }, {}, { name: 'memo mapping' }),
  secretKeys: ['note'],
  describeTarget: (c) => `memo of ${c.size}`,
  create: (_name, config) => ({
    type: config.type,
    supports: ['test'],
    test: () => of({ ok: true, size: config.size }),
    close: () => Promise.resolve(),
  }),
});

const decode = (u: unknown): ReturnType<typeof DataSourceConfigCodec.decode> => DataSourceConfigCodec.validate(u, [{ key: '', type: DataSourceConfigCodec, actual: u }]);
const problems = (u: unknown): string[] => {
  const r = decode(u);
  return isLeft(r) ? reportErrors(r.left).map((p) => `${p.path.join('.')}: ${p.message}`) : [];
};

describe('defineDataSource', () => {
  it('brands the definition; another copy of the package is recognised by the same brand', () => {
    expect(isDataSourceDefinition(memo)).toBe(true);
    expect(isDataSourceDefinition({ ...memo })).toBe(true);
    const { [DATA_SOURCE_BRAND]: _brand, ...unbranded } = memo;
    expect(isDataSourceDefinition(unbranded)).toBe(false);
    expect(Object.isFrozen(memo)).toBe(true);
  });

  it('refuses a definition with every problem named', () => {
    expect(() => defineDataSource({ type: 'Bad Type', config: {} as never, create: 1 as never, secretKeys: [''] })).toThrow(
      /type: expected a lower-case name.*config: expected an io-ts decoder.*create: expected a function.*secretKeys: expected a list/,
    );
  });

  it('registered: decodes its settings, with the common keys decoded by the agent; the adapter is created', () => {
    registerDataSource(memo, 'test:define');
    registerDataSource(memo, 'test:define'); // the same origin again: a no-op
    expect(() => registerDataSource(memo, 'test:elsewhere')).toThrow("data source type 'memo-kit-test' is already defined by test:define");
    const r = decode({ type: 'memo-kit-test', note: 'hi', isolation: 'worker', operations: ['test'] });
    expect(isRight(r) && r.right).toEqual({ type: 'memo-kit-test', note: 'hi', size: 3, isolation: 'worker', operations: ['test'] });
    const defaults = decode({ type: 'memo-kit-test', note: 'hi' });
    expect(isRight(defaults) && defaults.right.operations).toEqual(['test', 'attributes', 'schema', 'get', 'search']);
    if (!isRight(r)) throw new Error('not decoded');
    const adapter = createAdapter('m', r.right, createLogger({ level: 'silent' }));
    expect(adapter.supports).toEqual(['test']);
  });

  it('every problem of an entry at once: common keys and the type\'s own, with paths', () => {
    registerDataSource(memo, 'test:define');
    expect(problems({ type: 'memo-kit-test', note: '', isolation: 'process', operations: ['delete'], colour: 'red' })).toEqual([
      'operations.0: expected "test" | "attributes" | "schema" | "resourceTypes" | "get" | "search" | "export", got "delete"',
      "isolation: expected 'none' | 'worker', got \"process\"",
      "colour: unknown key 'colour'",
      // `note` is one of the type's secretKeys: its value is never shown.
      'note: expected non-empty string, got <redacted string>',
    ]);
  });

  it('an unknown type says how a plugin type is made known', () => {
    expect(problems({ type: 'zzz-unknown' })).toEqual([
      expect.stringMatching(/^type: expected data source type .*ldap.*, got "zzz-unknown" \(a plugin's type needs its module listed under 'plugins'\)$/),
    ]);
  });
});
