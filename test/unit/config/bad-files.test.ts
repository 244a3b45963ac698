import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, decodeAgentConfig, formatProblem, loadAgentConfig, loadHubConfig } from '../../../src/config/index.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/config');

/** Every problem of a file, formatted, with the file's base name instead of its full path. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => formatProblem({ ...p, file: basename(p.file) }));
  }
  throw new Error('expected a ConfigError');
}

// Each file under bad/ and the exact problems it must produce, in order (sorted by line).
const AGENT_CASES: Array<[file: string, problems: string[]]> = [
  ['syntax-error.yaml', [
    'syntax-error.yaml:3:3: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]],
  ['duplicate-key.yaml', [
    "duplicate-key.yaml:6:1: reconnectDelay: duplicate key 'reconnectDelay' (first defined at line 4)",
  ]],
  ['unknown-key.yaml', [
    "unknown-key.yaml:4:1: reconectDelay: unknown key 'reconectDelay', did you mean 'reconnectDelay'?",
  ]],
  ['wrong-type.yaml', [
    'wrong-type.yaml:4:20: keepAliveInterval: expected duration in ms (integer 0..2147483647), got "soon"',
  ]],
  ['missing-env.yaml', [
    "missing-env.yaml:5:13: agent.password: environment variable 'DATASYNC_TEST_UNSET_PASSWORD' is not set (give a default with ${DATASYNC_TEST_UNSET_PASSWORD:-value})",
  ]],
  ['missing-required-key.yaml', [
    "missing-required-key.yaml:3:3: agent: missing required key 'tenantId'",
  ]],
  ['bad-url-scheme.yaml', [
    'bad-url-scheme.yaml:4:7: agent.urls.1: expected ws://, wss://, http:// or https:// URL, got "ftp://idm-admin.example.com/agent"',
  ]],
  ['unknown-data-source-type.yaml', [
    `unknown-data-source-type.yaml:6:11: dataSources.corp.type: expected data source type ldap | ldif | scim | sql, got "ldpa" (did you mean 'ldap'?)`,
  ]],
  ['max-reconnect-below-base.yaml', [
    'max-reconnect-below-base.yaml:5:20: maxReconnectDelay: expected >= reconnectDelay (30000), got 10000',
  ]],
  ['three-mistakes.yaml', [
    'three-mistakes.yaml:3:10: logging.level: expected "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent", got "verbose"',
    "three-mistakes.yaml:7:1: keepAliveIntervall: unknown key 'keepAliveIntervall', did you mean 'keepAliveInterval'?",
    'three-mistakes.yaml:13:15: dataSources.corp-ldap.pageSize: expected positive integer, got -1',
  ]],
  ['secret-wrong-type.yaml', [
    'secret-wrong-type.yaml:5:13: agent.password: expected string, got <redacted array>',
  ]],
  ['credentials-unpaired.yaml', [
    "credentials-unpaired.yaml:2:3: agent: missing required key 'password' (userName is set)",
    "credentials-unpaired.yaml:2:3: agent: missing required key 'keyStore' (keyStorePassword is set)",
  ]],
  ['ldap-problems.yaml', [
    "ldap-problems.yaml:6:5: dataSources.corp-ldap: missing required key 'bindDN' (bindPassword is set)",
    "ldap-problems.yaml:8:11: dataSources.corp-ldap.urls: expected either 'url' or 'urls', got both",
    "ldap-problems.yaml:9:5: dataSources.corp-ldap.bindDn: unknown key 'bindDn', did you mean 'bindDN'?",
    'ldap-problems.yaml:12:15: dataSources.corp-ldap.startTLS: expected false with ldaps:// (already TLS), got true',
    'ldap-problems.yaml:13:24: dataSources.corp-ldap.operations.1: expected "test" | "attributes" | "schema" | "resourceTypes" | "get" | "search" | "export", got "delete"',
  ]],
  ['empty.yaml', ['empty.yaml:1:1: expected agent configuration mapping, got null']],
];

const HUB_CASES: Array<[file: string, problems: string[]]> = [
  ['plain-password.yaml', [
    "plain-password.yaml:5:23: tenants.1.agents.0.passwordHash: expected scrypt password hash (scrypt$N$r$p$salt$hash), got <redacted string>; make one with 'datasync-hub hash-password'",
  ]],
  ['certificate-without-client-ca.yaml', [
    'certificate-without-client-ca.yaml:7:9: tenants.1.agents.0: expected tls.clientCa to be set for certificate credentials, got no tls.clientCa',
  ]],
  ['no-tenants.yaml', [
    'no-tenants.yaml:2:9: listen.port: expected port (integer 0..65535), got 70000',
    "no-tenants.yaml:3:3: listen.hots: unknown key 'hots', did you mean 'host'?",
    'no-tenants.yaml:4:10: tenants: expected mapping of tenant ids to tenants (at least one), got {}',
  ]],
  ['ambiguous-credential.yaml', [
    'ambiguous-credential.yaml:5:9: tenants.acme.agents.0: expected exactly one of userName + passwordHash, certificateSubject or certificateSan, got keys certificateSubject, certificateSan',
    'ambiguous-credential.yaml:7:9: tenants.acme.agents.1: expected exactly one of userName + passwordHash, certificateSubject or certificateSan, got no keys',
    "ambiguous-credential.yaml:8:17: tenants.acme.apiTokens.0: expected scrypt password hash (scrypt$N$r$p$salt$hash), got <redacted string>; make one with 'datasync-hub hash-password'",
    "ambiguous-credential.yaml:10:3: timeouts.serach: unknown key 'serach', did you mean 'search'?",
  ]],
];

describe('bad agent configuration files', () => {
  it.each(AGENT_CASES)('%s', (file, expected) => {
    expect(problemsOf(() => loadAgentConfig(join(FIXTURES, 'bad', file), {}))).toEqual(expected);
  });
});

describe('bad hub configuration files', () => {
  it.each(HUB_CASES)('%s', (file, expected) => {
    expect(problemsOf(() => loadHubConfig(join(FIXTURES, 'bad-hub', file), {}))).toEqual(expected);
  });
});

describe('ConfigError', () => {
  it('carries name, code, the problems and one line per problem', () => {
    const file = join(FIXTURES, 'bad', 'three-mistakes.yaml');
    let error: unknown;
    try {
      loadAgentConfig(file, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.name).toBe('ConfigError');
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.problems.map((p) => p.line)).toEqual([3, 7, 13]);
    const lines = e.message.split('\n');
    expect(lines[0]).toBe(`invalid configuration ${file} (3 problems):`);
    expect(lines.slice(1)).toEqual(e.problems.map(formatProblem));
  });

  it('reports an unreadable file as a problem', () => {
    const problems = problemsOf(() => loadAgentConfig(join(FIXTURES, 'does-not-exist.yaml'), {}));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^does-not-exist\.yaml:1:1: cannot read configuration file: ENOENT/);
  });

  it('reports syntax, duplicate and env problems of one file together, sorted by line', () => {
    const text = ['agent:', '  password: ${NOPE}', '  password: x', 'x: [1', ''].join('\n');
    const problems = problemsOf(() => decodeAgentConfig(text, 'mixed.yaml', {}));
    expect(problems.map((p) => p.split(': ')[0])).toEqual(['mixed.yaml:2:13', 'mixed.yaml:3:3', 'mixed.yaml:5:1']);
    expect(problems[1]).toContain("duplicate key 'password'");
    expect(problems[2]).toContain('YAML syntax error');
  });
});
