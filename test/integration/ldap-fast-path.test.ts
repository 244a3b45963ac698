/**
 * An incompatible ldapts, simulated: before any LDAP client exists, `MessageParser`'s
 * `_getMessageFromProtocolOperation` is made a member ldapts no longer dispatches through — it
 * still exists and a hook can still be "set" on it (the old existence check passed), but the
 * assignment has no effect, as if a new version called another method. Before the self-test the
 * adapter's searches then returned no entries at all; now the self-test (`ldapts-internals.ts`)
 * turns the fast path off: one warning naming what failed and the ldapts version,
 * `datasync_agent_ldap_fast_path_enabled` 0, and `search`/`get` against a real slapd return the
 * right entries on the slow path (ldapts' own parser).
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import { MessageParser } from 'ldapts';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OperationContext, SearchSource } from '../../src/adapter-kit/adapter.js';
import { isJsonBatch } from '../../src/adapter-kit/json-batch.js';
import { createLdapAdapter, type LdapAdapter, type LdapEntry } from '../../src/adapters/ldap/index.js';
import { LdapDataSourceConfig } from '../../src/adapters/ldap/config.js';
import { ldaptsFastPath } from '../../src/adapters/ldap/ldapts-internals.js';
import { AgentMetrics } from '../../src/metrics/agent-metrics.js';
import { captureLogs } from '../helpers/log-capture.js';
import { sample } from '../helpers/metrics.js';
import { printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';
import { PEOPLE_DN, person } from '../fixtures/ldap/generate.js';

// The simulated incompatible ldapts: in place for the whole file (its module instances are its own).
const original: unknown = Reflect.get(MessageParser.prototype, '_getMessageFromProtocolOperation');
let assignments = 0;
Object.defineProperty(MessageParser.prototype, '_getMessageFromProtocolOperation', {
  configurable: true,
  get: () => original,
  set: () => {
    assignments++; // accepted, without effect
  },
});

const ENTRIES = 120;
let slapd: Slapd;
const logs = captureLogs('debug');
printSlapdLogOnFailure(() => slapd);

beforeAll(async () => {
  slapd = await startSlapd({ entries: ENTRIES });
});
afterAll(async () => {
  await slapd?.dispose();
});

const adapters: LdapAdapter[] = [];
afterEach(async () => {
  for (const a of adapters.splice(0)) await a.close();
});

function adapter(): LdapAdapter {
  const r = LdapDataSourceConfig.decode({
    type: 'ldap',
    url: slapd.url,
    bindDN: slapd.adminDN,
    bindPassword: slapd.adminPassword,
    baseDN: slapd.baseDN,
    pageSize: 50,
    timeoutMs: 10_000,
  });
  if (isLeft(r)) throw new Error('bad test config');
  const a = createLdapAdapter('corp', r.right, logs.logger, { searchWorkers: 0 });
  adapters.push(a);
  return a;
}

const ctx: OperationContext = { requestId: 'req-1', dataSource: 'corp', log: logs.logger };

async function drain(s: SearchSource): Promise<Array<{ entries: LdapEntry[]; last: boolean; truncated: boolean }>> {
  const pages: Array<{ entries: LdapEntry[]; last: boolean; truncated: boolean }> = [];
  for (;;) {
    const page = await firstValueFrom<{ items: unknown; last: boolean; truncated?: boolean }>(s.pull());
    if (!isJsonBatch(page.items)) throw new Error('expected a JsonBatch page');
    pages.push({ entries: page.items.texts().map((t) => JSON.parse(t) as LdapEntry), last: page.last, truncated: page.truncated === true });
    if (page.last) break;
  }
  s.close();
  return pages;
}

/** Person `i` as the adapter must return it with `attributes: ['uid', 'cn', 'mail', 'telephoneNumber', 'jpegPhoto']`. */
function expected(i: number): LdapEntry {
  const p = person(i);
  return {
    dn: p.dn,
    attributes: {
      uid: [p.uid],
      cn: [p.cn],
      mail: p.mail,
      telephoneNumber: p.telephoneNumber,
      ...(p.jpegPhoto === undefined ? {} : { 'jpegPhoto;binary': [p.jpegPhoto.toString('base64')] }),
    },
  };
}

const WARNING = /^LDAP fast path OFF: a search's entry sink received 0 entries, not 1 \(the hook did not run or did not find the request\) \(ldapts 8\.2\.0; 8\.2\.0 is tested\)/;

describe('ldapts whose message parser no longer calls the hooked member', () => {
  it('the fast path is off: one warning for every adapter made, the metric 0', async () => {
    adapter();
    adapter();
    expect(ldaptsFastPath()).toBe(false);
    expect(assignments).toBeGreaterThan(0); // the self-test did try to install the hook
    const warnings = logs.records().filter((r) => r['level'] === 40 && typeof r['msg'] === 'string' && r['msg'].startsWith('LDAP fast path OFF'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!['msg']).toMatch(WARNING);
    expect(warnings[0]).toMatchObject({ ldaptsVersion: '8.2.0', failure: expect.stringContaining('entry sink received 0 entries') as unknown });
    const metrics = new AgentMetrics({ urls: [], dataSources: ['corp'] });
    expect(sample(await metrics.registry.metrics(), 'datasync_agent_ldap_fast_path_enabled')).toBe(0);
  });

  it(`search returns every entry, exactly, in pages (${ENTRIES} people, pages of 50)`, async () => {
    const pages = await drain(
      adapter().search!({ base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)', attributes: ['uid', 'cn', 'mail', 'telephoneNumber', 'jpegPhoto'] }, ctx),
    );
    expect(pages.map((p) => p.entries.length)).toEqual([50, 50, 20]);
    expect(pages.map((p) => p.last)).toEqual([false, false, true]);
    const entries = pages.flatMap((p) => p.entries).sort((a, b) => a.dn.localeCompare(b.dn));
    expect(entries).toEqual(Array.from({ length: ENTRIES }, (_, k) => expected(k + 1)).sort((a, b) => a.dn.localeCompare(b.dn)));
  });

  it('search with a size limit is truncated, not short', async () => {
    const pages = await drain(adapter().search!({ base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)', attributes: ['uid'], sizeLimit: 7 }, ctx));
    expect(pages.flatMap((p) => p.entries)).toHaveLength(7);
    expect(pages.at(-1)).toMatchObject({ last: true, truncated: true });
  });

  it('get returns the entry', async () => {
    const e = (await firstValueFrom(adapter().get!({ dn: person(10).dn, attributes: ['uid', 'cn', 'mail', 'telephoneNumber', 'jpegPhoto'] }, ctx))) as LdapEntry;
    expect(e).toEqual(expected(10));
    const all = (await firstValueFrom(adapter().get!({ dn: person(3).dn }, ctx))) as LdapEntry;
    expect(all.attributes['objectClass']).toEqual(['top', 'person', 'organizationalPerson', 'inetOrgPerson']);
    expect(all.attributes['sn']).toEqual([person(3).sn]);
  });
});
