/**
 * The classic agent's `application.yaml`, verbatim (test/fixtures/classic, from issue 16; only
 * the port substituted), run by the built agent CLI against a hub listening on `/idm` and
 * `/idm-admin` over TLS. The agent trusts the hub's test CA through NODE_EXTRA_CA_CERTS, as the
 * classic file's trust store lines stay commented out. Both URLs register as two sessions of one
 * agent and stay registered across keep-alive rounds with nothing replaced (no close 4002);
 * searches succeed over either session. `check --offline` accepts the file with one warning.
 *
 * The hub runs in this process, so the test watches its registry events and the sessions' sockets.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SUBPROTOCOL } from '../../src/protocol/index.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashPassword, loadHubConfig } from '../../src/config/index.js';
import type { AgentLink } from '../../src/hub/agent-link.js';
import { pongsOf } from '../helpers/keep-alive-pongs.js';
import { HubClient } from '../../src/hub/client.js';
import { Hub } from '../../src/hub/hub.js';
import type { RegistryEvent } from '../../src/hub/registry.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { AGENT_BIN, ROOT, runCli, startDaemon, type Daemon } from '../helpers/cli.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';

const CLASSIC = join(import.meta.dirname, '../fixtures/classic/application.yaml');
const API_TOKEN = 'classic-api-token-0123456789';
/** The hub pings every 2 s; a session has lived "several keep-alive intervals" after this many answered pings. */
const KEEP_ALIVE_ROUNDS = 3;

let dir: string;
let pki: TestPki;
let hub: Hub;
let hubLogs: LogCapture;
let port: number;
const events: RegistryEvent[] = [];

/** The classic file with only the port changed (it names localhost:18443). */
function classicFile(name: string, appended = ''): string {
  const text = readFileSync(CLASSIC, 'utf8').replaceAll('localhost:18443', `localhost:${port}`);
  const file = join(dir, name);
  writeFileSync(file, text + appended);
  return file;
}

/** The agent process as the classic install starts it; the hub's CA comes from the environment. */
function runAgent(file: string): Daemon {
  return startDaemon(AGENT_BIN, ['run', '--config', file], { NODE_EXTRA_CA_CERTS: pki.ca.file });
}

const registered = (agentId: string): AgentLink[] => hub.registry.sessionsOf('1', agentId);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'datasync-classic-'));
  pki = makeTestPki(join(dir, 'pki'));
  const [admin, token] = await Promise.all([hashPassword('admin'), hashPassword(API_TOKEN)]);
  const hubFile = join(dir, 'hub.yaml');
  writeFileSync(
    hubFile,
    `listen: { host: 127.0.0.1, port: 0, paths: [/idm, /idm-admin] }
tls: { cert: ${pki.server.certFile}, key: ${pki.server.keyFile} }
keepAliveInterval: 2000
keepAliveTimeout: 10000
tenants:
  "1":
    apiTokens: ['${token}']
    agents:
      - userName: admin
        passwordHash: ${admin}
`,
  );
  hubLogs = captureLogs('debug');
  hub = new Hub(loadHubConfig(hubFile, {}), hubLogs.logger);
  hub.registry.events$.subscribe((e) => events.push(e));
  port = (await hub.listen()).port;
});

afterAll(async () => {
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the classic application.yaml', () => {
  it('check --offline accepts it verbatim: exit 0, the URLs as dialled, one logging.config warning', async () => {
    const r = await runCli(AGENT_BIN, ['check', '--offline', '--config', CLASSIC]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('wss://localhost:18443/idm\n');
    expect(r.stdout).toContain('wss://localhost:18443/idm-admin\n');
    const warnings = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('logging.config'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/log4j2\.xml" is not read.*logging\.level, logging\.file and logging\.format/);
  });

  it('check (live) reaches both classic URLs on the hub: both hub rows OK, exit 0', async () => {
    const r = await runCli(AGENT_BIN, ['check', '--config', classicFile('check.yaml')], undefined, { NODE_EXTRA_CA_CERTS: pki.ca.file });
    const hubRows = r.stdout.split('\n').filter((l) => /^hub\s+wss:/.test(l));
    expect(hubRows).toHaveLength(2);
    expect(hubRows.every((l) => /\sOK\s/.test(l) && l.includes('HTTP 101'))).toBe(true);
    expect(r.code).toBe(0);
  });

  it('an upgrade on a path not listed is 404 naming the agent endpoints', async () => {
    const ws = new WebSocket(`wss://localhost:${port}/agent`, SUBPROTOCOL, { ca: readFileSync(pki.ca.file) });
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
    });
    expect(refused.status).toBe(404);
    expect(JSON.parse(refused.body)).toMatchObject({ message: 'no agent endpoint at /agent (agent endpoints: /idm, /idm-admin)' });
  });

  it('registers both URLs as two sessions that stay up across keep-alive rounds, never replaced', async () => {
    const agent = runAgent(classicFile('application.yaml'));
    try {
      const started = await agent.waitForLog((r) => r['msg'] === 'agent starting', 30_000);
      const agentId = String(started['agentId']);
      await vi.waitFor(() => expect(registered(agentId)).toHaveLength(2), { timeout: 30_000, interval: 50 });
      const links = registered(agentId);
      expect(links.map((l) => l.sessionKey).sort()).toEqual(['0', '1']);

      const answered = await Promise.all(links.map((l) => pongsOf(l, KEEP_ALIVE_ROUNDS)));
      expect(answered).toEqual([KEEP_ALIVE_ROUNDS, KEEP_ALIVE_ROUNDS]);
      expect(registered(agentId)).toEqual(links);
      const mine = events.filter((e) => e.agentId === agentId);
      expect(mine.map((e) => `${e.type}:${e.link.sessionKey}`).sort()).toEqual(['registered:0', 'registered:1']);
      // The agent saw no close 4002 and logged the classic file's one warning.
      expect(agent.logs.filter((r) => JSON.stringify(r).includes('4002'))).toEqual([]);
      const warned = agent.logs.filter((r) => r['level'] === 40 && String(r['msg']).startsWith('logging.config'));
      expect(warned).toHaveLength(1);
      // Both sessions dialled the classic URLs (as wss) to the paths the hub listens on.
      const dialled = agent.logs.filter((r) => r['msg'] === 'registered with hub').map((r) => r['url']);
      expect(new Set(dialled)).toEqual(new Set([`wss://localhost:${port}/idm`, `wss://localhost:${port}/idm-admin`]));
    } finally {
      expect(await agent.stop('SIGTERM')).toBe(0);
    }
    expect(events.filter((e) => e.type === 'replaced')).toEqual([]);
  });

  it('with a data source appended to a copy, searches succeed over either session', async () => {
    // The classic file has no data source; a copy gets one (LDIF, in memory), nothing else changes.
    const ldif = join(ROOT, 'config/demo/directory.ldif');
    const agent = runAgent(classicFile('with-source.yaml', `\ndataSources:\n  directory:\n    type: ldif\n    files: ${ldif}\n    baseDN: dc=demo,dc=example\n`));
    const client = new HubClient({ url: `https://127.0.0.1:${port}`, token: API_TOKEN, ca: readFileSync(pki.ca.file) });
    try {
      const started = await agent.waitForLog((r) => r['msg'] === 'agent starting', 30_000);
      const agentId = String(started['agentId']);
      await vi.waitFor(() => expect(registered(agentId)).toHaveLength(2), { timeout: 30_000, interval: 50 });
      const links = registered(agentId);
      const served = links.map((l) => vi.spyOn(l, 'stream$'));
      const counts: number[] = [];
      for (let i = 0; i < 4; i++) {
        const search = client.search('directory', { filter: '(objectClass=inetOrgPerson)' });
        let n = 0;
        for await (const _ of search) n += 1;
        counts.push(n);
      }
      expect(counts.every((n) => n > 0 && n === counts[0])).toBe(true);
      // Each session carried searches: requests spread over the agent's sessions.
      expect(served.map((s) => s.mock.calls.length)).toEqual([2, 2]);
      const agents = (await client.agents()) as Array<{ id: string; sessions: Array<{ sessionKey: string }> }>;
      expect(agents.map((a) => [a.id, a.sessions.map((s) => s.sessionKey).sort()])).toEqual([[agentId, ['0', '1']]]);
    } finally {
      await client.close();
      expect(await agent.stop('SIGTERM')).toBe(0);
    }
    expect(events.filter((e) => e.type === 'replaced')).toEqual([]);
  });
});
