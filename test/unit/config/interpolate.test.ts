import { describe, expect, it } from 'vitest';
import { decodeHubConfig, interpolateString, parseYamlSource, positionOf } from '../../../src/config/index.js';

describe('interpolateString', () => {
  const env = { HOST: 'hub.example', EMPTY: '', PORT: '8443' };
  it.each([
    ['wss://${HOST}:${PORT}/agent', 'wss://hub.example:8443/agent'],
    ['${MISSING:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${EMPTY}', ''],
    ['${HOST:-x}', 'hub.example'],
    ['${MISSING:-}', ''],
    ['${MISSING:-a:-b}', 'a:-b'],
    ['$${HOST}', '${HOST}'],
    ['cost: $5 and $HOST', 'cost: $5 and $HOST'],
  ])('%s → %s', (text, expected) => {
    expect(interpolateString(text, env)).toEqual({ value: expected, problems: [] });
  });

  it('names a missing variable', () => {
    expect(interpolateString('a ${NOPE} b', env)).toEqual({
      value: 'a  b',
      problems: ["environment variable 'NOPE' is not set (give a default with ${NOPE:-value})"],
    });
  });

  it('reports malformed references', () => {
    expect(interpolateString('${1BAD}', env).problems).toEqual([
      "invalid reference '${1BAD}': expected ${NAME} or ${NAME:-default}",
    ]);
    expect(interpolateString('x ${HOST', env).problems).toEqual([
      "unterminated reference '${HOST': expected ${NAME} or ${NAME:-default}",
    ]);
  });

  it('does not interpolate values it substituted', () => {
    expect(interpolateString('${A}', { A: '${B}', B: 'no' }).value).toBe('${B}');
  });
});

describe('interpolation in a document', () => {
  it('substitutes values only, after parsing, so a secret cannot inject YAML', () => {
    const text = 'tenants:\n  "${T:-1}":\n    agents: []\n    apiTokens: ["${TOKEN}"]\n';
    const env = { TOKEN: 'x"]\n    evil: [' };
    expect(() => decodeHubConfig(text, 'hub.yaml', env)).toThrow(
      'hub.yaml:4:17: tenants.${T:-1}.apiTokens.0: expected scrypt password hash (scrypt$N$r$p$salt$hash), got <redacted string>',
    );
  });
});

describe('positionOf', () => {
  const src = parseYamlSource('a:\n  b: [x, {c: 1}]\n  d:\n e: 2\n', 'f.yaml');
  it.each([
    [['a', 'b', '1', 'c'], undefined, { line: 2, col: 14 }],
    [['a', 'b', '1', 'c'], 'key', { line: 2, col: 11 }],
    [['a', 'b', '0'], undefined, { line: 2, col: 7 }],
    // an empty value points at its key; a missing key at the nearest parent that exists
    [['a', 'd'], undefined, { line: 3, col: 3 }],
    [['a', 'b', '7'], undefined, { line: 2, col: 6 }],
    [['zzz', 'y'], undefined, { line: 1, col: 1 }],
  ] as const)('%j (%s) → %j', (path, at, pos) => {
    expect(positionOf(src, path, at)).toEqual(pos);
  });
});
