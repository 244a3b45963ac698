/**
 * Authentication under attack: with a cold cache, attackers send 200 upgrade attempts per
 * second with the legitimate agent's own user name and wrong passwords (a new one each time)
 * from other loopback addresses (127.0.0.2 and up). The legitimate agent, from 127.0.0.1,
 * registers while the flood runs, waiting behind at most the hash checks already running (its
 * address has no failures, so its check goes before the attackers' queued ones); the attackers
 * get 429 (penalty window) or 503 (hash queue full), each with Retry-After. Figures are printed
 * (`FIGURE auth-flood: …`), not asserted as wall-clock bounds.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filter, firstValueFrom } from 'rxjs';
import { basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub } from '../helpers/relay-env.js';
import { sampleOr0 } from '../helpers/metrics.js';

const ATTACKERS = 20;
const PER_SECOND = 200;
const MAX_CONCURRENT_HASHES = 2;

let env: Env;
let hub: RunningHub;

beforeAll(async () => {
  env = makeEnv();
  hub = await startHub(env, {
    tls: false,
    extra: `authentication: { maxConcurrentHashes: ${MAX_CONCURRENT_HASHES}, maxQueuedHashes: 16 }`,
  });
});

afterAll(async () => {
  await hub?.close();
  env?.cleanup();
});

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
}

/** One agent upgrade with wrong credentials from `localAddress`; resolves with the HTTP answer. */
function badUpgrade(port: number, localAddress: string, password: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/agent',
      localAddress,
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        'sec-websocket-protocol': 'datasync.v1',
        authorization: `Basic ${Buffer.from(`agent:${password}`).toString('base64')}`,
      },
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] });
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, retryAfter: undefined });
    });
    req.on('error', () => resolve({ status: -1, retryAfter: undefined }));
    req.end();
  });
}

describe('authentication flood', () => {
  it('the legitimate agent registers during 200 bad attempts/s from other addresses; the attackers get 429/503 with Retry-After', async () => {
    const gate = hub.hub.credentialChecks.gate;
    let legitStartedAt = 0;
    const legitStart = firstValueFrom(gate.events$.pipe(filter((e) => e.type === 'started' && e.source === '127.0.0.1'))).then((e) => {
      legitStartedAt = performance.now();
      return e;
    });
    const answers: Answer[] = [];
    let sent = 0;
    let flooding = true;
    const started = performance.now();
    const flood = (async () => {
      const inFlight = new Set<Promise<void>>();
      while (flooding) {
        const due = Math.floor(((performance.now() - started) / 1000) * PER_SECOND);
        for (; sent < due; sent++) {
          const p = badUpgrade(hub.port, `127.0.0.${2 + (sent % ATTACKERS)}`, `wrong-${sent}`).then((a) => {
            answers.push(a);
            inFlight.delete(p);
          });
          inFlight.add(p);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(inFlight);
    })();

    // The flood has warmed up: every attacker address has failed and some were refused.
    await expect.poll(() => hub.hub.credentialChecks.penalties.size(), { timeout: 30_000 }).toBeGreaterThanOrEqual(ATTACKERS);
    const hashesBefore = gate.finishedCount();

    const t0 = performance.now();
    const agent = startAgent(env, basicAgentYaml(env, [hub.url]));
    try {
      const registered = await agent.statuses.next(isState('registered'), 30_000);
      const registrationMs = registered.at - t0;
      const waitedFor = await legitStart;
      const answersAtRegistration = answers.length;
      // The flood is still running: answers keep arriving after the registration.
      await expect.poll(() => answers.length, { timeout: 30_000 }).toBeGreaterThan(answersAtRegistration + 20);
      // Penalty windows open once an address is past its free failures.
      await expect.poll(() => answers.filter((a) => a.status === 429).length, { timeout: 30_000 }).toBeGreaterThan(0);
      flooding = false;
      await flood;

      // The first attempt registered: no refusal in between.
      expect(agent.statuses.all.filter((s) => s.status.state === 'disconnected' || s.status.state === 'rejected')).toEqual([]);
      expect(hub.hub.registry.agents('1')).toHaveLength(1);
      // Its check went before the queued attackers': it waited for at most the ones running.
      expect(waitedFor.type === 'started' && waitedFor.waitedBehind).toBeLessThanOrEqual(MAX_CONCURRENT_HASHES);

      const by = (s: number): number => answers.filter((a) => a.status === s).length;
      const refused = answers.filter((a) => a.status === 429 || a.status === 503);
      expect(answers.filter((a) => ![401, 429, 503, -1].includes(a.status))).toEqual([]);
      expect(by(429)).toBeGreaterThan(0);
      expect(refused.every((a) => a.retryAfter !== undefined && Number(a.retryAfter) >= 1)).toBe(true);
      // Far fewer hashes than attempts: refused attempts cost none.
      const hashes = gate.finishedCount();
      expect(hashes).toBeLessThan(answers.length);

      const metrics = await hub.hub.metrics.registry.metrics();
      expect(sampleOr0(metrics, 'datasync_hub_connections_refused_total', { reason: 'auth_penalty' })).toBe(by(429));
      // On a loaded machine the flood can outrun the hub: connections beyond the pending caps, or
      // not answered within the upgrade timeout, are cut without an answer (-1 here). Each such cut
      // is one the hub counted as refused before authentication.
      const cut = ['pending_total', 'pending_per_address', 'headers_timeout', 'upgrade_timeout']
        .map((reason) => sampleOr0(metrics, 'datasync_hub_connections_refused_total', { reason }))
        .reduce((a, b) => a + b, 0);
      expect(by(-1)).toBeLessThanOrEqual(cut);
      expect(sampleOr0(metrics, 'datasync_hub_auth_checks_total', { via: 'agent', outcome: 'ok' })).toBe(1);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `FIGURE auth-flood: ${answers.length} bad attempts in ${seconds.toFixed(1)} s (${(answers.length / seconds).toFixed(0)}/s) from ${ATTACKERS} addresses; ` +
          `401 ×${by(401)}, 429 ×${by(429)}, 503 ×${by(503)}, cut ×${by(-1)}; scrypt runs ${hashes} (${hashesBefore} before the agent started); ` +
          `legitimate agent registered after ${registrationMs.toFixed(0)} ms (its check started at ${(legitStartedAt - t0).toFixed(0)} ms), its check waited behind ${waitedFor.type === 'started' ? waitedFor.waitedBehind : '?'} scrypt runs`,
      );
    } finally {
      flooding = false;
      agent.stop();
      await flood;
    }
  });
});
