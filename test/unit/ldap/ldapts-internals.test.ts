/**
 * The self-test of the private ldapts members (`ldapts-internals.ts`): it passes with the pinned
 * ldapts, its test vector is one ldapts alone gets wrong (so a bypassed hook cannot pass it), and
 * each way a changed ldapts could break the fast path — a member gone, a hook ldapts no longer
 * calls, the request no longer handed over, a hook that throws, a decoder that reads elsewhere —
 * turns the fast path off with a failure that names it.
 */
import { Client, MessageParser, SearchEntry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { entryJson } from '../../../src/adapters/ldap/entry.js';
import { ldaptsFastPath, ldaptsSelfTest, ldaptsVersion, reportLdaptsSelfTest, runLdaptsSelfTest, SELF_TEST_ENTRY_JSON, selfTestMessage } from '../../../src/adapters/ldap/ldapts-internals.js';
import { AgentMetrics } from '../../../src/metrics/agent-metrics.js';
import { captureLogs } from '../../helpers/log-capture.js';
import { sample } from '../../helpers/metrics.js';

const newClient = (): Client => new Client({ url: 'ldap://127.0.0.1' });

/** A client whose message parser was changed by `patch` (only this instance). */
function patchedParser(patch: (parser: MessageParser) => void): () => Client {
  return () => {
    const client = newClient();
    patch(Reflect.get(client, 'messageParser') as MessageParser);
    return client;
  };
}

const ORIGINAL: unknown = Reflect.get(MessageParser.prototype, '_getMessageFromProtocolOperation');

describe('with the pinned ldapts', () => {
  it('passes: the fast path and the modifyDN internals are on', () => {
    const r = runLdaptsSelfTest();
    expect(r).toEqual({ ldaptsVersion: '8.2.0', fastPath: { ok: true }, modifyDn: { ok: true } });
    expect(ldaptsVersion()).toBe('8.2.0');
    expect(ldaptsFastPath()).toBe(true);
    expect(ldaptsSelfTest()).toBe(ldaptsSelfTest()); // memoised
  });

  it('datasync_agent_ldap_fast_path_enabled is 1', async () => {
    const m = new AgentMetrics({ urls: [], dataSources: [] });
    expect(sample(await m.registry.metrics(), 'datasync_agent_ldap_fast_path_enabled')).toBe(1);
  });

  it('logs no warning', () => {
    const logs = captureLogs();
    reportLdaptsSelfTest(logs.logger);
    expect(logs.records().filter((r) => r['level'] === 40)).toEqual([]);
  });

  it("uses a vector ldapts' own parser gets wrong (a bypassed hook cannot pass)", () => {
    const parser = new MessageParser();
    const entries: string[] = [];
    parser.on('message', (m) => {
      if (m instanceof SearchEntry) entries.push(entryJson(m.toObject([], [])));
    });
    parser.read(selfTestMessage(), new Map());
    expect(entries).toHaveLength(1);
    expect(entries[0]).not.toBe(SELF_TEST_ENTRY_JSON);
    const lossy = JSON.parse(entries[0]!) as { attributes: Record<string, string[]> };
    expect(lossy.attributes['cn']).toEqual(['Zoë']); // the BOM dropped
    expect(lossy.attributes['description']).toEqual(['second run']); // the first run dropped
  });
});

describe('a changed ldapts turns the fast path off, naming what failed', () => {
  const cases: Array<[string, () => Client, RegExp]> = [
    [
      'Client.messageParser gone',
      () => {
        const c = newClient();
        Reflect.set(c, 'messageParser', undefined);
        return c;
      },
      /Client\.messageParser is missing/,
    ],
    ['_getMessageFromProtocolOperation gone', patchedParser((p) => Reflect.set(p, '_getMessageFromProtocolOperation', undefined)), /_getMessageFromProtocolOperation is missing/],
    [
      'the hook installs but ldapts no longer calls it',
      patchedParser((p) => Object.defineProperty(p, '_getMessageFromProtocolOperation', { get: () => ORIGINAL, set: () => undefined })),
      /entry sink received 0 entries/,
    ],
    [
      'the parser no longer hands the hook the request',
      patchedParser((p) => {
        const read = p.read.bind(p);
        p.read = (data) => read(data, new Map());
      }),
      /entry sink received 0 entries/,
    ],
    [
      'the reader is not at the entry when the hook runs',
      patchedParser((p) => {
        const hooked = (): void => {
          const hook = Reflect.get(p, '_getMessageFromProtocolOperation') as (...a: unknown[]) => unknown;
          Reflect.set(p, '_getMessageFromProtocolOperation', function (this: unknown, id: unknown, op: unknown, reader: { offset: number }, request: unknown) {
            reader.offset += 2; // e.g. a version that reads the DN's header before dispatching
            return Reflect.apply(hook, this, [id, op, reader, request]);
          });
        };
        // After the decoder installs itself (the self-test's Reflect.set): wrap what it installed.
        let installed: unknown = ORIGINAL;
        Object.defineProperty(p, '_getMessageFromProtocolOperation', {
          configurable: true,
          get: () => installed,
          set: (v: unknown) => {
            installed = v;
            Object.defineProperty(p, '_getMessageFromProtocolOperation', { value: v, writable: true, configurable: true });
            hooked();
          },
        });
      }),
      /the message parser reported an error/,
    ],
  ];

  for (const [what, makeClient, failure] of cases) {
    it(what, () => {
      const r = runLdaptsSelfTest(makeClient);
      expect(r.fastPath.ok).toBe(false);
      expect(r.fastPath.failure).toMatch(failure);
      expect(r.ldaptsVersion).toBe('8.2.0');
    });
  }

  it("ldapts' Message.parse throws (a changed signature)", () => {
    const parse = Reflect.get(SearchEntry.prototype, 'parse') as unknown;
    Reflect.set(SearchEntry.prototype, 'parse', () => {
      throw new Error('changed signature');
    });
    try {
      const r = runLdaptsSelfTest();
      expect(r.fastPath).toEqual({ ok: false, failure: 'the message parser reported an error: changed signature' });
    } finally {
      Reflect.set(SearchEntry.prototype, 'parse', parse);
    }
    expect(runLdaptsSelfTest().fastPath).toEqual({ ok: true });
  });

  it('Client._nextMessageId gone: rename internals off, the fast path still on', () => {
    const r = runLdaptsSelfTest(() => {
      const c = newClient();
      Reflect.set(c, '_nextMessageId', undefined);
      return c;
    });
    expect(r.fastPath).toEqual({ ok: true });
    expect(r.modifyDn).toEqual({ ok: false, failure: 'Client._nextMessageId is missing' });
  });
});
