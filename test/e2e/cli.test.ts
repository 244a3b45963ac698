/**
 * The CLIs as an operator meets them: `check` on good and broken files, `--help`/`--version`,
 * `hash-password`, and a real hub + agent pair started as processes and stopped with SIGTERM.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/config/index.js';
import { AGENT_BIN, HUB_BIN, ROOT, runCli, startDaemon } from '../helpers/cli.js';
import { makeTestPki } from '../helpers/certs.js';

const dir = mkdtempSync(join(tmpdir(), 'datasync-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('datasync-agent check', () => {
  // --offline: the example points at hosts that do not exist; the live checks are in check.test.ts.
  it('accepts the shipped example configuration and summarises it (--offline, exit 0)', async () => {
    const r = await runCli(AGENT_BIN, ['check', '--offline', '--config', 'config/application.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/config\/application\.yaml: OK/);
    expect(r.stdout).toMatch(/wss:\/\//);
  });

  it('prints every mistake with FILE:LINE:COL and exits 2', async () => {
    const file = join(ROOT, 'test', 'fixtures', 'config', 'bad', 'three-mistakes.yaml');
    const r = await runCli(AGENT_BIN, ['check', '--config', file]);
    expect(r.code).toBe(2);
    const problems = r.stderr.split('\n').filter((l) => l.startsWith(`${file}:`));
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/three-mistakes\.yaml:3:10: logging\.level: expected/);
    expect(problems[1]).toMatch(/three-mistakes\.yaml:7:1: keepAliveIntervall: unknown key.*did you mean 'keepAliveInterval'/);
    expect(problems[2]).toMatch(/three-mistakes\.yaml:13:15: dataSources\.corp-ldap\.pageSize: expected positive integer, got -1/);
  });

  it('reports an unreadable file and a bad flag with exit 2', async () => {
    expect((await runCli(AGENT_BIN, ['check', '--config', join(dir, 'absent.yaml')])).code).toBe(2);
    const bad = await runCli(AGENT_BIN, ['--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Usage: datasync-agent/);
  });

  it('--version and --help', async () => {
    const v = await runCli(AGENT_BIN, ['--version']);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = await runCli(HUB_BIN, ['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/hash-password/);
  });
});

describe('datasync-hub', () => {
  it('check of the shipped hub.yaml: its TLS files do not exist in the repo (exit 2, each at its line); with them in place, OK', async () => {
    const missing = await runCli(HUB_BIN, ['check', '--config', 'config/hub.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/config\/hub\.yaml:\d+:\d+: tls\.cert: cannot read .*certs\/hub\.pem: no such file \(ENOENT\)/);

    const copy = join(dir, 'shipped-hub');
    const pki = makeTestPki(join(copy, 'pki'));
    mkdirSync(join(copy, 'certs'), { recursive: true });
    copyFileSync(join(ROOT, 'config', 'hub.yaml'), join(copy, 'hub.yaml'));
    copyFileSync(pki.server.certFile, join(copy, 'certs', 'hub.pem'));
    copyFileSync(pki.server.keyFile, join(copy, 'certs', 'hub-key.pem'));
    copyFileSync(pki.ca.file, join(copy, 'certs', 'agents-ca.pem'));
    const r = await runCli(HUB_BIN, ['check', '--config', join(copy, 'hub.yaml')]);
    expect(r.code).toBe(0);
    // The test PKI's certificates live 30 days: only expiry warnings may be printed.
    expect(r.stderr.split('\n').filter((l) => l !== '' && !/: warning: /.test(l))).toEqual([]);
  });

  it('hash-password prints a verifiable scrypt hash', async () => {
    const r = await runCli(HUB_BIN, ['hash-password'], 'sw0rdfish\n');
    expect(r.code).toBe(0);
    const hash = r.stdout.trim();
    expect(hash).toMatch(/^scrypt\$/);
    expect(await verifyPassword('sw0rdfish', hash)).toBe(true);
    expect(await verifyPassword('sw0rdfish!', hash)).toBe(false);
  });

  it('runs a hub and an agent as processes: registration, then clean SIGTERM exits', async () => {
    const hashed = await runCli(HUB_BIN, ['hash-password'], 'e2e-secret-pw');
    const hubYaml = join(dir, 'hub.yaml');
    writeFileSync(
      hubYaml,
      `logging: { level: debug }
listen: { host: 127.0.0.1, port: 0, path: /agent }
tenants:
  acme:
    agents:
      - userName: site-a
        passwordHash: ${hashed.stdout.trim()}
`,
    );
    const hub = startDaemon(HUB_BIN, ['--config', hubYaml]);
    const listening = await hub.waitForLog((r) => r['msg'] === 'hub listening');
    const port = listening['port'] as number;

    const agentYaml = join(dir, 'agent.yaml');
    writeFileSync(
      agentYaml,
      `logging: { level: debug }
agent:
  id: e2e-agent
  urls: [ws://127.0.0.1:${port}/agent]
  tenantId: acme
  userName: site-a
  password: \${E2E_PASSWORD}
reconnectDelay: 200
`,
    );
    const agent = startDaemon(AGENT_BIN, ['--config', agentYaml], { E2E_PASSWORD: 'e2e-secret-pw' });
    await agent.waitForLog((r) => r['msg'] === 'registered with hub');
    await hub.waitForLog((r) => r['msg'] === 'agent registered' && r['agentId'] === 'e2e-agent');

    expect(await agent.stop('SIGTERM')).toBe(0);
    await hub.waitForLog((r) => r['msg'] === 'agent disconnected');
    expect(await hub.stop('SIGTERM')).toBe(0);
    const all = JSON.stringify([...agent.logs, ...hub.logs]);
    expect(all).not.toContain('e2e-secret-pw');
  });
});
