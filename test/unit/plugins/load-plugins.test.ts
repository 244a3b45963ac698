/**
 * `plugins:` loading (src/plugins/load-plugins.ts): a plugin found by relative file path, by
 * package directory, by package name from the agent's installation; every way it can go wrong
 * reported as `FILE:LINE:COL: plugins.N: …`; loading twice is a no-op; and a plugin's secret
 * settings are redacted by a logger created after it was loaded.
 */
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { adapterTypes, dataSourceOrigin } from '../../../src/adapter-kit/registry.js';
import { ConfigError } from '../../../src/config/problems.js';
import { DataSourceConfigCodec } from '../../../src/config/data-source-registry.js';
import { createLogger, redactPaths } from '../../../src/log/logger.js';
import { loadPlugins } from '../../../src/plugins/load-plugins.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'plugins', 'loader');
/** The configuration file the plugins are listed in (never read: the text is passed). */
const CONFIG = join(FIXTURES, 'application.yaml');

const yaml = (...plugins: string[]): string => `logging: { level: info }\nplugins:\n${plugins.map((p) => `  - ${p}\n`).join('')}`;

/** The problem lines of a ConfigError thrown by loading `text`. */
async function problemsOf(text: string): Promise<string[]> {
  const err: unknown = await loadPlugins(text, CONFIG, {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`);
  return err.message.split('\n').slice(1);
}

const decodes = (settings: Record<string, unknown>): boolean => isRight(DataSourceConfigCodec.validate(settings, [{ key: '', type: DataSourceConfigCodec, actual: settings }]));

describe('loadPlugins: finding and registering', () => {
  it('a plugin by relative file path: its type is registered from its module, and decodes', async () => {
    expect(decodes({ type: 'fixture-file' })).toBe(false);
    const loaded = await loadPlugins(yaml('./file-source.ts'), CONFIG, {});
    expect(loaded).toEqual([{ spec: './file-source.ts', url: `file://${join(FIXTURES, 'file-source.ts')}`, types: ['fixture-file'] }]);
    expect(adapterTypes()).toContain('fixture-file');
    expect(dataSourceOrigin('fixture-file')).toBe(`file://${join(FIXTURES, 'file-source.ts')}`);
    expect(decodes({ type: 'fixture-file' })).toBe(true);
  });

  it('a plugin by package directory: the entry its package.json exports; named exports and lists', async () => {
    const loaded = await loadPlugins(yaml('./dir-source'), CONFIG, {});
    expect(loaded).toEqual([{ spec: './dir-source', url: `file://${join(FIXTURES, 'dir-source', 'lib', 'entry.ts')}`, types: ['fixture-dir-one', 'fixture-dir-two'] }]);
    expect(decodes({ type: 'fixture-dir-two' })).toBe(true);
  });

  it('the same plugin twice, and the same configuration loaded twice: a no-op', async () => {
    const twice = yaml('./file-source.ts', './file-source.ts');
    const first = await loadPlugins(twice, CONFIG, {});
    const again = await loadPlugins(twice, CONFIG, {});
    expect(first.map((p) => p.types)).toEqual([['fixture-file'], ['fixture-file']]);
    expect(again).toEqual(first);
  });

  it('a file: URL, percent-encoded (a directory name with a space)', async () => {
    const url = pathToFileURL(join(FIXTURES, 'dir with space', 'spaced-source.ts')).href;
    expect(url).toContain('dir%20with%20space');
    const loaded = await loadPlugins(yaml(JSON.stringify(url)), CONFIG, {});
    expect(loaded).toEqual([{ spec: url, url, types: ['fixture-spaced'] }]);
  });

  it('a path from the environment (${VAR}) is interpolated before it is resolved', async () => {
    const loaded = await loadPlugins(yaml('${PLUGIN_DIR}/file-source.ts'), CONFIG, { PLUGIN_DIR: FIXTURES });
    expect(loaded[0]?.types).toEqual(['fixture-file']);
  });
});

describe('loadPlugins: problems at their line', () => {
  it('a missing file', async () => {
    expect(await problemsOf(yaml('./file-source.ts', './not-there.js'))).toEqual([
      `${CONFIG}:4:5: plugins.1: cannot find plugin './not-there.js' (no such file: ${join(FIXTURES, 'not-there.js')})`,
    ]);
  });

  it('a package name is resolved from the agent installation: found (exports no data source) or not found', async () => {
    // `yaml` is a dependency of the agent: found in its node_modules, but it is no plugin.
    const problems = await problemsOf(yaml('yaml', '"@datasync-test/no-such-plugin"'));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe(`${CONFIG}:3:5: plugins.0: plugin 'yaml' exports no data source (export what defineDataSource returns)`);
    expect(problems[1]).toMatch(
      new RegExp(`^${CONFIG.replaceAll('.', '\\.')}:4:5: plugins\\.1: cannot find plugin package '@datasync-test/no-such-plugin' from the agent's installation \\(install it next to datasync-agent\\): `),
    );
  });

  it('a plugin that throws while imported', async () => {
    expect(await problemsOf(yaml('./throws-at-import.ts'))).toEqual([
      `${CONFIG}:3:5: plugins.0: plugin './throws-at-import.ts' failed to load: Error: the fixture refuses to load`,
    ]);
  });

  it('a module that exports no definition', async () => {
    expect(await problemsOf(yaml('./no-definition.ts'))).toEqual([
      `${CONFIG}:3:5: plugins.0: plugin './no-definition.ts' exports no data source (export what defineDataSource returns)`,
    ]);
  });

  it('a type that clashes with a built-in (ldap): refused, the built-in stays', async () => {
    const problems = await problemsOf(yaml('./clashes-with-ldap.ts'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${CONFIG.replaceAll('.', '\\.')}:3:5: plugins\\.0: plugin './clashes-with-ldap\\.ts': data source type 'ldap' is already defined by file:.*/src/adapters/ldap/definition\\.[jt]s$`));
    expect(dataSourceOrigin('ldap')).toMatch(/\/src\/adapters\/ldap\/definition\.[jt]s$/);
  });

  it('every problem of the list at once, the good plugins loaded all the same', async () => {
    const problems = await problemsOf(yaml('./no-definition.ts', './dir-source', './nowhere', '17'));
    expect(problems.map((p) => p.replace(/: (plugin|cannot find|expected) .*/, ''))).toEqual([`${CONFIG}:3:5: plugins.0`, `${CONFIG}:5:5: plugins.2`, `${CONFIG}:6:5: plugins.3`]);
    expect(problems[2]).toMatch(/plugins\.3: expected a package name or a path to a module$/);
    expect(adapterTypes()).toContain('fixture-dir-one');
  });

  it('plugins that is not a list', async () => {
    expect(await problemsOf('plugins: ./file-source.ts\n')).toEqual([`${CONFIG}:1:10: plugins: expected a list of plugin modules (package names or paths)`]);
  });
});

describe("a plugin's secret settings", () => {
  it('are redacted in the lines of a logger created after loading', async () => {
    expect(redactPaths()).not.toContain('fixtureApiKey');
    await loadPlugins(yaml('./secret-source.ts'), CONFIG, {});
    expect(redactPaths()).toContain('fixtureApiKey');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ level: 'info' }, sink);
    log.info({ fixtureApiKey: 'top-secret-1', dataSource: { type: 'fixture-secret', fixtureApiKey: 'nested-secret-2' } }, 'settings');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? '') as { fixtureApiKey: unknown; dataSource: { fixtureApiKey: unknown; type: unknown } };
    expect(line.fixtureApiKey).toBe('[REDACTED]');
    expect(line.dataSource).toEqual({ type: 'fixture-secret', fixtureApiKey: '[REDACTED]' });
    expect(lines[0]).not.toMatch(/top-secret-1|nested-secret-2/);
  });
});
