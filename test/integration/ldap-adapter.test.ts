/**
 * The LDAP adapter against a real OpenLDAP slapd (2,500 generated people): every operation,
 * paging driven by pulls and observed in slapd's own `stats` log (one SRCH line per page
 * request), size limits, binary values, writes, and failures (bad credentials, unreachable and
 * failing-over URLs, slapd stopped mid-stream, cancelled streams, BUSY).
 */
import { readFileSync } from 'node:fs';
import { isLeft } from 'fp-ts/lib/Either.js';
import { firstValueFrom, lastValueFrom, of, Subject, toArray, type Observable } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExportResult, OperationContext, Page, SearchSource } from '../../src/adapter-kit/adapter.js';
import { isJsonBatch } from '../../src/adapter-kit/json-batch.js';
import { createLdapAdapter, type LdapAdapter, type LdapAdapterOptions, type LdapEntry } from '../../src/adapters/ldap/index.js';
import { LdapDataSourceConfig } from '../../src/adapters/ldap/config.js';
import type { AttributeInfo, LdapSchema } from '../../src/adapters/ldap/schema.js';
import type { TestResult } from '../../src/adapters/ldap/test.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { captureLogs } from '../helpers/log-capture.js';
import { freePort, printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';
import { GROUPS_DN, PEOPLE_DN, person, photoOf } from '../fixtures/ldap/generate.js';

const ENTRIES = 2500;
let slapd: Slapd;
let closedPortUrl: string;
const logs = captureLogs('debug');
printSlapdLogOnFailure(() => slapd);

beforeAll(async () => {
  slapd = await startSlapd({ entries: ENTRIES });
  closedPortUrl = `ldap://127.0.0.1:${await freePort()}`;
});
afterAll(async () => {
  await slapd?.dispose();
});

const adapters: LdapAdapter[] = [];
afterEach(async () => {
  for (const a of adapters.splice(0)) await a.close();
});

function config(over: Record<string, unknown> = {}): LdapDataSourceConfig {
  const r = LdapDataSourceConfig.decode({
    type: 'ldap',
    url: slapd.url,
    bindDN: slapd.adminDN,
    bindPassword: slapd.adminPassword,
    baseDN: slapd.baseDN,
    pageSize: 500,
    timeoutMs: 5000,
    ...over,
  });
  if (isLeft(r)) throw new Error(`bad test config: ${JSON.stringify(over)}`);
  return r.right;
}

/** Search worker threads of the adapters made (undefined: the config's default). */
let searchWorkers: number | undefined;

function adapter(over: Record<string, unknown> = {}, options: LdapAdapterOptions = {}): LdapAdapter {
  const a = createLdapAdapter('corp', config(over), logs.logger, searchWorkers === undefined ? options : { searchWorkers, ...options });
  adapters.push(a);
  return a;
}

const ctx: OperationContext = { requestId: 'req-1', dataSource: 'corp', log: logs.logger };

async function failure(p: Promise<unknown>): Promise<ProtocolError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a failure');
}

/** One page; its `JsonBatch` (`itemFormat: 'json-batch'`, in-thread or from a worker) parsed back into entries. */
async function pull(s: SearchSource): Promise<Page<LdapEntry>> {
  expect(s.itemFormat).toBe('json-batch');
  const page = await firstValueFrom<{ items: unknown; last: boolean; truncated?: boolean }>(s.pull());
  if (!isJsonBatch(page.items)) throw new Error('expected a JsonBatch page');
  const batch = page.items;
  // The batch's layout: items comma-separated, each one JSON value.
  expect(batch.bytes.toString('utf8')).toBe(batch.texts().join(','));
  const { items: _, ...rest } = page;
  return { ...rest, items: batch.texts().map((text) => JSON.parse(text) as LdapEntry) };
}

async function drain(s: SearchSource): Promise<Array<Page<LdapEntry>>> {
  const pages: Array<Page<LdapEntry>> = [];
  for (;;) {
    const p = await pull(s);
    pages.push(p);
    if (p.last) break;
  }
  s.close();
  return pages;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Page requests slapd has logged since `from` for searches with `filter`. */
const srchCount = (from: number, filter: string): number => slapd.log(from).split('\n').filter((l) => l.includes(' SRCH base=') && l.includes(`filter="${filter}"`)).length;

/** Polls `check` until it holds; the deadline only turns "never" into a failure (loaded machines). */
async function until(check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

let markers = 0;
/**
 * A marker in slapd's log: a `get` of a DN that does not exist, through an adapter of its own
 * (the tested adapter's connection counts stay untouched), awaited until slapd logged its search.
 * A page request the tested adapter made before it is in the log by then — what a "no more page
 * requests" check awaits instead of a sleep.
 */
async function slapdMarker(): Promise<void> {
  const dn = `uid=marker-${++markers},${PEOPLE_DN}`;
  const from = slapd.logSize();
  await firstValueFrom(adapter().get!({ dn }, ctx)).then(
    () => undefined,
    () => undefined,
  );
  await until(() => slapd.log(from).includes(`SRCH base="${dn}"`));
}

describe('test', () => {
  it('binds and reports the root DSE', async () => {
    const r = (await firstValueFrom(adapter().test(ctx))) as TestResult;
    expect(r).toMatchObject({ ok: true, url: slapd.url, boundAs: slapd.adminDN, supportedLDAPVersion: ['3'], subschemaSubentry: 'cn=Subschema' });
    expect(r.namingContexts).toEqual([slapd.baseDN]);
    expect(r.supportedControls).toContain('1.2.840.113556.1.4.319'); // RFC 2696 paged results
    expect(r.supportedExtensions).toContain('1.3.6.1.4.1.1466.20037'); // StartTLS
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('bad password → UPSTREAM_AUTH_FAILED, the password in no message', async () => {
    const e = await failure(firstValueFrom(adapter({ bindPassword: 'wrong-pass-123' }).test(ctx)));
    expect(e.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(e.retryable).toBe(false);
    expect(e.context.details).toMatchObject({ ldapResultCode: 49 });
    expect(e.message).toContain(slapd.url);
    expect(e.message).not.toContain('wrong-pass-123');
    expect(logs.text()).not.toContain('wrong-pass-123');
  });

  it('unreachable port → UPSTREAM_UNAVAILABLE (retryable)', async () => {
    const e = await failure(firstValueFrom(adapter({ url: closedPortUrl }).test(ctx)));
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('fails over to the next URL when urls[0] is down', async () => {
    const r = (await firstValueFrom(adapter({ url: undefined, urls: [closedPortUrl, slapd.url] }).test(ctx))) as TestResult;
    expect(r.url).toBe(slapd.url);
  });

  it('ldaps:// with the CA; an untrusted server certificate is not retryable', async () => {
    const r = (await firstValueFrom(adapter({ url: slapd.ldapsUrl, tls: { ca: slapd.caFile } }).test(ctx))) as TestResult;
    expect(r.url).toBe(slapd.ldapsUrl);
    const e = await failure(firstValueFrom(adapter({ url: slapd.ldapsUrl }).test(ctx)));
    expect(e).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: false });
    expect(e.message).toMatch(/TLS/);
  });

  it('StartTLS on ldap://, and insecureSkipVerify logs a warning', async () => {
    const r = (await firstValueFrom(adapter({ startTLS: true, tls: { ca: slapd.caFile } }).test(ctx))) as TestResult;
    expect(r.ok).toBe(true);
    const before = logs.lines.length;
    const r2 = (await firstValueFrom(adapter({ url: slapd.ldapsUrl, tls: { insecureSkipVerify: true } }).test(ctx))) as TestResult;
    expect(r2.ok).toBe(true);
    expect(logs.lines.slice(before).join('\n')).toContain('TLS certificate verification is OFF');
  });

  it('anonymous (no bindDN)', async () => {
    const r = (await firstValueFrom(adapter({ bindDN: undefined, bindPassword: undefined }).test(ctx))) as TestResult;
    expect(r).toMatchObject({ ok: true, boundAs: 'anonymous' });
  });
});

describe('schema and attributes', () => {
  it('schema: object classes and attribute types parsed from cn=Subschema', async () => {
    const s = (await firstValueFrom(adapter().schema!(ctx))) as LdapSchema;
    expect(s.skipped).toBe(0);
    const inetOrgPerson = s.objectClasses.find((o) => o.names.includes('inetOrgPerson'));
    expect(inetOrgPerson).toMatchObject({ oid: '2.16.840.1.113730.3.2.2', kind: 'STRUCTURAL', sup: ['organizationalPerson'] });
    expect(inetOrgPerson?.may).toEqual(expect.arrayContaining(['uid', 'mail', 'jpegPhoto']));
    expect(s.objectClasses.find((o) => o.names.includes('top'))).toMatchObject({ kind: 'ABSTRACT', must: ['objectClass'] });
    expect(s.attributeTypes.find((a) => a.names.includes('uid'))).toMatchObject({ oid: '0.9.2342.19200300.100.1.1', names: ['uid', 'userid'], equality: 'caseIgnoreMatch', syntaxLength: 256 });
    expect(s.ldapSyntaxes.length).toBeGreaterThan(20);
    expect(s.matchingRules.find((m) => m.names.includes('caseIgnoreMatch'))).toBeDefined();
  });

  it('attributes: sorted, SUP inheritance resolved, binary flagged', async () => {
    const { attributes } = (await firstValueFrom(adapter().attributes!(ctx))) as { attributes: AttributeInfo[] };
    const names = attributes.map((a) => a.name.toLowerCase());
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    const by = (n: string): AttributeInfo | undefined => attributes.find((a) => a.name === n);
    expect(by('uid')).toMatchObject({ aliases: ['userid'], syntax: '1.3.6.1.4.1.1466.115.121.1.15', syntaxName: 'Directory String', singleValue: false, operational: false });
    // cn has no SYNTAX of its own: it inherits name's.
    expect(by('cn')).toMatchObject({ sup: 'name', syntax: '1.3.6.1.4.1.1466.115.121.1.15', equality: 'caseIgnoreMatch' });
    expect(by('jpegPhoto')).toMatchObject({ binary: true, syntaxName: 'JPEG' });
    expect(by('createTimestamp')).toMatchObject({ operational: true, noUserModification: true, usage: 'directoryOperation' });
  });
});

describe('get', () => {
  it('returns one normalised entry; UTF-8 and multi-valued attributes', async () => {
    const e = (await firstValueFrom(adapter().get!({ dn: person(2).dn }, ctx))) as LdapEntry;
    expect(e.dn).toBe(person(2).dn);
    expect(e.attributes).toMatchObject({ uid: ['user00002'], cn: ['José Núñez'], mail: person(2).mail, telephoneNumber: person(2).telephoneNumber });
    expect(e.attributes['objectClass']).toEqual(['top', 'person', 'organizationalPerson', 'inetOrgPerson']);
  });

  it('binary jpegPhoto comes back base64 under jpegPhoto;binary (also when asked in another case)', async () => {
    const a = adapter();
    const e = (await firstValueFrom(a.get!({ dn: person(10).dn, attributes: ['uid', 'jpegPhoto'] }, ctx))) as LdapEntry;
    expect(e.attributes).toEqual({ uid: ['user00010'], 'jpegPhoto;binary': [photoOf(10).toString('base64')] });
    const e2 = (await firstValueFrom(a.get!({ dn: person(20).dn, attributes: ['JPEGPHOTO'] }, ctx))) as LdapEntry;
    const [key] = Object.keys(e2.attributes);
    expect(key?.toLowerCase()).toBe('jpegphoto;binary');
    expect(Buffer.from(e2.attributes[key!]![0]!, 'base64')).toEqual(photoOf(20));
  });

  it('drops requested attributes the entry does not have', async () => {
    const e = (await firstValueFrom(adapter().get!({ dn: person(1).dn, attributes: ['uid', 'description', 'jpegPhoto'] }, ctx))) as LdapEntry;
    expect(e.attributes).toEqual({ uid: ['user00001'] });
  });

  it('DN comparison ignores case and spaces; NOT_FOUND; outside base; bad params', async () => {
    const a = adapter({ baseDN: PEOPLE_DN });
    const e = (await firstValueFrom(a.get!({ dn: 'UID=user00001, OU=People,DC=Example, dc=com' }, ctx))) as LdapEntry;
    expect(e.attributes['uid']).toEqual(['user00001']);
    expect((await failure(firstValueFrom(a.get!({ dn: `uid=nobody,${PEOPLE_DN}` }, ctx)))).code).toBe('NOT_FOUND');
    const outside = await failure(firstValueFrom(a.get!({ dn: `cn=group01,${GROUPS_DN}` }, ctx)));
    expect(outside.code).toBe('OPERATION_NOT_ALLOWED');
    expect(outside.message).toContain('outside');
    const bad = await failure(firstValueFrom(a.get!({ dn: 'not a dn', attributez: [] }, ctx)));
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/dn: .*invalid DN/);
    expect(bad.message).toContain("unknown key 'attributez'");
  });
});

for (const workers of [1, 0]) {
  describe(`search (searchWorkers: ${workers})`, () => {
    beforeAll(() => {
      searchWorkers = workers;
    });
    afterAll(() => {
      searchWorkers = undefined;
    });

    const people = { base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)', attributes: ['uid'] };

    it(`pulls ${ENTRIES} entries in pages of 500: 5 full pages + an empty last one, 5 page requests`, async () => {
      const from = slapd.logSize();
      const pages = await drain(adapter().search!({ ...people, filter: '(&(objectClass=inetOrgPerson)(uid=user*))' }, ctx));
      expect(pages.map((p) => p.items.length)).toEqual([500, 500, 500, 500, 500, 0]);
      expect(pages.map((p) => p.last)).toEqual([false, false, false, false, false, true]);
      expect(pages.some((p) => p.truncated === true)).toBe(false);
      const uids = new Set(pages.flatMap((p) => p.items.map((e) => e.attributes['uid']?.[0])));
      expect(uids.size).toBe(ENTRIES);
      await until(() => srchCount(from, '(&(objectClass=inetOrgPerson)(uid=user*))') === 5);
    });

    it('a short page is known to be the last without another request', async () => {
      const pages = await drain(adapter().search!({ base: slapd.baseDN, filter: '(uid=user0000*)', attributes: ['uid'] }, ctx));
      expect(pages.map((p) => [p.items.length, p.last])).toEqual([[9, true]]);
    });

    it('no pull, no page request: the server is asked for the next page only when pulled', async () => {
      const filter = '(&(objectClass=inetOrgPerson)(uid=user0*))';
      const a = adapter();
      const from = slapd.logSize();
      const s = a.search!({ ...people, filter, pageSize: 100 }, ctx);
      expect((await pull(s)).items).toHaveLength(100);
      await slapdMarker();
      expect(srchCount(from, filter)).toBe(1);
      expect(a.stats.streams).toBe(1);
      await pull(s);
      await until(() => srchCount(from, filter) === 2);
      await slapdMarker();
      expect(srchCount(from, filter)).toBe(2);
      s.close();
      await until(() => a.stats.openConnections === 0);
      expect(a.stats.streams).toBe(0);
    });

    it('UTF-8 values in equality and substring filters', async () => {
      const expected = (pred: (i: number) => boolean): number => Array.from({ length: ENTRIES }, (_, k) => k + 1).filter(pred).length;
      const count = async (filter: string): Promise<number> => (await drain(adapter().search!({ base: PEOPLE_DN, filter, attributes: ['1.1'] }, ctx))).reduce((n, p) => n + p.items.length, 0);
      expect(await count('(cn=Zoë Ågren)')).toBe(expected((i) => person(i).cn === 'Zoë Ågren'));
      expect(await count('(sn=Núñ*)')).toBe(expected((i) => person(i).sn.startsWith('Núñ')));
      expect(await count('givenName=Łukasz')).toBe(expected((i) => person(i).givenName === 'Łukasz'));
    });

    it('malformed filter, bad params, base outside baseDN', async () => {
      const a = adapter({ baseDN: PEOPLE_DN });
      const e1 = await failure(pull(a.search!({ filter: '(cn=foo' }, ctx)));
      expect(e1.code).toBe('BAD_REQUEST');
      expect(e1.message).toContain('invalid filter "(cn=foo"');
      expect((await failure(pull(a.search!({ filter: '(&(cn=a)(sn=b)' }, ctx)))).code).toBe('BAD_REQUEST');
      const e2 = await failure(pull(a.search!({ scope: 'deep', pageSize: 0, sizeLimit: -1, foo: 1 }, ctx)));
      expect(e2.code).toBe('BAD_REQUEST');
      for (const word of ['scope', 'pageSize', 'sizeLimit', "unknown key 'foo'"]) expect(e2.message).toContain(word);
      const e3 = await failure(pull(a.search!({ base: slapd.baseDN }, ctx)));
      expect(e3.code).toBe('OPERATION_NOT_ALLOWED');
      const e4 = await failure(pull(adapter().search!({ base: `ou=nowhere,${slapd.baseDN}` }, ctx)));
      expect(e4.code).toBe('NOT_FOUND');
      expect(a.stats.streams).toBe(0);
    });

    it('sizeLimit: truncation is reported, an exact fit is not', async () => {
      const a = adapter();
      const p10 = await drain(a.search!({ ...people, sizeLimit: 10 }, ctx));
      expect(p10.map((p) => [p.items.length, p.last, p.truncated])).toEqual([[10, true, true]]);
      const p1200 = await drain(a.search!({ ...people, sizeLimit: 1200 }, ctx));
      expect(p1200.map((p) => [p.items.length, p.truncated ?? false])).toEqual([[500, false], [500, false], [200, true]]);
      const exact = await drain(a.search!({ ...people, sizeLimit: ENTRIES }, ctx));
      expect(exact.reduce((n, p) => n + p.items.length, 0)).toBe(ENTRIES);
      expect(exact.some((p) => p.truncated === true)).toBe(false);
    });

    it("the server's own size limit (limits … size=1000) ends the stream truncated, never silently", async () => {
      const a = adapter({ bindDN: slapd.limitedDN, bindPassword: slapd.readerPassword });
      const pages = await drain(a.search!(people, ctx));
      const total = pages.reduce((n, p) => n + p.items.length, 0);
      expect(total).toBeLessThanOrEqual(slapd.limitedSize);
      expect(pages.at(-1)).toMatchObject({ last: true, truncated: true });
    });

    it("scope 'base' and 'one'", async () => {
      const a = adapter();
      const base = await drain(a.search!({ base: PEOPLE_DN, scope: 'base', attributes: ['ou'] }, ctx));
      expect(base.flatMap((p) => p.items)).toEqual([{ dn: PEOPLE_DN, attributes: { ou: ['people'] } }]);
      const one = await drain(a.search!({ base: slapd.baseDN, scope: 'one', attributes: ['1.1'] }, ctx));
      expect(one.flatMap((p) => p.items.map((e) => e.dn)).sort()).toEqual([GROUPS_DN, PEOPLE_DN, `ou=service,${slapd.baseDN}`]);
    });

    it('pageSize is capped by the configured pageSize', async () => {
      const s = adapter({ pageSize: 100 }).search!({ ...people, pageSize: 1000 }, ctx);
      expect((await pull(s)).items).toHaveLength(100);
      s.close();
    });

    it('binary attributes in search results', async () => {
      const pages = await drain(adapter().search!({ base: PEOPLE_DN, filter: '(|(uid=user00030)(uid=user00031))', attributes: ['uid', 'jpegPhoto'] }, ctx));
      const byUid = new Map(pages.flatMap((p) => p.items).map((e) => [e.attributes['uid']?.[0], e.attributes]));
      expect(byUid.get('user00030')?.['jpegPhoto;binary']).toEqual([photoOf(30).toString('base64')]);
      expect(byUid.get('user00031')).toEqual({ uid: ['user00031'] });
    });

    describe('resources and failures', () => {
      it('close() mid-stream releases the dedicated connection; a later pull is CANCELLED', async () => {
        const a = adapter();
        const s = a.search!({ base: PEOPLE_DN, pageSize: 100 }, ctx);
        await pull(s);
        expect(a.stats).toMatchObject({ streams: 1, openConnections: 1 });
        s.close();
        s.close();
        await until(() => a.stats.openConnections === 0);
        expect(a.stats.streams).toBe(0);
        expect((await failure(pull(s))).code).toBe('CANCELLED');
      });

      it('close() while a page request is in flight', async () => {
        const a = adapter();
        const s = a.search!({ base: PEOPLE_DN, pageSize: 500 }, ctx);
        const sub = (s.pull() as Observable<unknown>).subscribe({ error: () => undefined });
        await until(() => a.stats.streams === 1);
        sub.unsubscribe();
        s.close();
        await until(() => a.stats.openConnections === 0 && a.stats.streams === 0);
      });

      it('more streams than maxStreams → BUSY; a released slot is reusable', async () => {
        const a = adapter({}, { maxStreams: 1 });
        const s1 = a.search!({ base: PEOPLE_DN, pageSize: 10 }, ctx);
        await pull(s1);
        const e = await failure(pull(a.search!({ base: PEOPLE_DN }, ctx)));
        expect(e).toMatchObject({ code: 'BUSY', retryable: true });
        s1.close();
        const s2 = a.search!({ base: PEOPLE_DN, pageSize: 10 }, ctx);
        expect((await pull(s2)).items).toHaveLength(10);
        s2.close();
      });

      it('slapd stopped mid-stream → the next pull fails with UPSTREAM_UNAVAILABLE; the adapter recovers', async () => {
        const a = adapter();
        const s = a.search!({ base: PEOPLE_DN, pageSize: 100 }, ctx);
        await pull(s);
        await firstValueFrom(a.get!({ dn: person(1).dn }, ctx));
        await slapd.stop();
        try {
          const e = await failure(pull(s));
          expect(e).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
          expect(a.stats.streams).toBe(0);
          const g = await failure(firstValueFrom(a.get!({ dn: person(1).dn }, ctx)));
          expect(g.code).toBe('UPSTREAM_UNAVAILABLE');
        } finally {
          await slapd.start();
        }
        const e = (await firstValueFrom(a.get!({ dn: person(1).dn }, ctx))) as LdapEntry;
        expect(e.attributes['uid']).toEqual(['user00001']);
      });

      it('slapd killed (SIGKILL) during a stream', async () => {
        const a = adapter();
        const s = a.search!({ base: PEOPLE_DN, pageSize: 100 }, ctx);
        await pull(s);
        await slapd.kill();
        try {
          expect((await failure(pull(s))).code).toBe('UPSTREAM_UNAVAILABLE');
        } finally {
          await slapd.start();
        }
      });
    });
  });
}

describe('export', () => {
  const dn = (uid: string): string => `uid=${uid},${PEOPLE_DN}`;
  const newPerson = (uid: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    objectClass: ['inetOrgPerson'],
    uid,
    cn: 'Ørjan Ødegård',
    sn: 'Ødegård',
    mail: [`${uid}@example.com`, `${uid}@example.org`],
    ...extra,
  });
  const run = async (a: LdapAdapter, records: unknown[]) => lastValueFrom(a.export!(of(...records), ctx).pipe(toArray()));
  const read = (a: LdapAdapter, d: string) => firstValueFrom(a.get!({ dn: d }, ctx)) as Promise<LdapEntry>;

  it('add (with a binary value), modify, delete', async () => {
    const a = adapter();
    const photo = Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x80, 0xfe, 0xff, 0xd9]).toString('base64');
    // DER of the test CA certificate: OpenLDAP wants certificates with ;binary (RFC 4522) and
    // refuses ;binary on jpegPhoto, so the adapter sends the option only where it belongs.
    const certificate = readFileSync(slapd.caFile, 'utf8').replace(/-----[^-]+-----|\s/g, '');
    const results = await run(a, [
      { op: 'add', dn: dn('exp-1'), attributes: newPerson('exp-1', { 'jpegPhoto;binary': photo, 'userCertificate;binary': certificate, description: 'first' }) },
      {
        op: 'modify',
        dn: dn('exp-1'),
        changes: [
          { operation: 'replace', attribute: 'mail', values: ['only@example.com'] },
          { operation: 'add', attribute: 'telephoneNumber', values: ['+1 555 0100', '+1 555 0101'] },
          { operation: 'delete', attribute: 'description' },
        ],
      },
    ]);
    expect(results).toEqual([
      { index: 0, ok: true },
      { index: 1, ok: true },
    ]);
    const e = await read(a, dn('exp-1'));
    expect(e.attributes).toMatchObject({
      cn: ['Ørjan Ødegård'],
      mail: ['only@example.com'],
      telephoneNumber: ['+1 555 0100', '+1 555 0101'],
      'jpegPhoto;binary': [photo],
      'userCertificate;binary': [certificate],
    });
    expect(e.attributes['description']).toBeUndefined();
    expect(await run(a, [{ op: 'delete', dn: dn('exp-1') }])).toEqual([{ index: 0, ok: true }]);
    expect((await failure(read(a, dn('exp-1')))).code).toBe('NOT_FOUND');
  });

  it('rename in place, with newSuperior, with deleteOldRdn false, and with special characters', async () => {
    const a = adapter();
    const moved = `ou=moved,${slapd.baseDN}`;
    const group = `cn=Temp Group,${GROUPS_DN}`;
    const results = await run(a, [
      { op: 'add', dn: dn('ren-1'), attributes: newPerson('ren-1') },
      { op: 'rename', dn: dn('ren-1'), newRdn: 'uid=ren-2' },
      { op: 'add', dn: moved, attributes: { objectClass: 'organizationalUnit', ou: 'moved' } },
      { op: 'rename', dn: dn('ren-2'), newRdn: 'uid=ren-3', newSuperior: moved, deleteOldRdn: false },
      { op: 'add', dn: group, attributes: { objectClass: 'groupOfNames', cn: 'Temp Group', member: dn('ren-3') } },
      { op: 'rename', dn: group, newRdn: 'cn=Núñez\\, José \\+ Co \\\\ Partners' },
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, true]);
    expect((await failure(read(a, dn('ren-1')))).code).toBe('NOT_FOUND');
    const e = await read(a, `uid=ren-3,${moved}`);
    expect(e.attributes['uid']?.sort()).toEqual(['ren-2', 'ren-3']); // deleteOldRdn false kept ren-2
    const g = await read(a, `cn=Núñez\\2C José \\2B Co \\5C Partners,${GROUPS_DN}`);
    expect(g.attributes['cn']).toContain('Núñez, José + Co \\ Partners');
    await run(a, [
      { op: 'delete', dn: `cn=Núñez\\2C José \\2B Co \\5C Partners,${GROUPS_DN}` },
      { op: 'delete', dn: `uid=ren-3,${moved}` },
      { op: 'delete', dn: moved },
    ]);
  });

  it('upsert adds, then replaces only the given attributes', async () => {
    const a = adapter();
    const first = await run(a, [{ op: 'upsert', dn: dn('ups-1'), attributes: newPerson('ups-1', { title: 'Engineer' }) }]);
    expect(first).toEqual([{ index: 0, ok: true, data: { action: 'added' } }]);
    const second = await run(a, [{ op: 'upsert', dn: dn('ups-1'), attributes: { objectClass: ['inetOrgPerson'], uid: 'ups-1', cn: 'Renamed Person', sn: 'Person', mail: 'new@example.com' } }]);
    expect(second).toEqual([{ index: 0, ok: true, data: { action: 'replaced' } }]);
    const e = await read(a, dn('ups-1'));
    expect(e.attributes).toMatchObject({ cn: ['Renamed Person'], mail: ['new@example.com'], title: ['Engineer'] });
    await run(a, [{ op: 'delete', dn: dn('ups-1') }]);
  });

  it('a failing record does not stop the batch; one result per record, in order', async () => {
    const a = adapter();
    const results = await run(a, [
      { op: 'add', dn: dn('mid-1'), attributes: newPerson('mid-1') },
      { op: 'add', dn: dn('mid-1'), attributes: newPerson('mid-1') },
      { op: 'bogus', dn: dn('mid-1') },
      { op: 'delete', dn: dn('does-not-exist') },
      { op: 'add', dn: dn('mid-2'), attributes: { objectClass: 'inetOrgPerson', uid: 'mid-2', cn: 'No Surname' } },
      { op: 'add', dn: dn('mid-3'), attributes: newPerson('mid-3', { mail: 'zoë@example.com' }) },
      { op: 'modify', dn: dn('mid-1'), changes: [{ operation: 'add', attribute: 'mail', values: [] }] },
      { op: 'add', dn: 'uid=x,dc=elsewhere,dc=org', attributes: newPerson('x') },
      { op: 'rename', dn: dn('mid-1'), newRdn: 'uid=mid-9', newSuperior: 'dc=elsewhere,dc=org' },
      { op: 'add', dn: dn('mid-4'), attributes: newPerson('mid-4', { 'jpegPhoto;binary': 'not base64!' }) },
      { op: 'delete', dn: dn('mid-1') },
    ]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'ok',
      'ALREADY_EXISTS',
      'BAD_REQUEST',
      'NOT_FOUND',
      'CONSTRAINT_VIOLATION', // objectClassViolation: sn is required
      'BAD_REQUEST', // invalidAttributeSyntax: mail is IA5
      'BAD_REQUEST', // an add change without values
      'OPERATION_NOT_ALLOWED',
      'OPERATION_NOT_ALLOWED',
      'BAD_REQUEST',
      'ok',
    ]);
    const dup = results[1];
    expect(dup?.ok === false && dup.message).toContain('entryAlreadyExists');
    expect(a.stats.streams).toBe(0);
  });

  it('renaming the baseDN entry (any spelling) or out of it is refused before the server: no connection, no MODRDN', async () => {
    const a = adapter();
    const from = slapd.logSize();
    const modrdns = (): string[] => slapd.log(from).split('\n').filter((l) => l.includes(' MODRDN dn='));
    const records = new Subject<unknown>();
    const results: ExportResult[] = [];
    const done = new Promise<void>((resolve, reject) => a.export!(records, ctx).subscribe({ next: (r) => results.push(r), error: reject, complete: resolve }));
    const base = slapd.baseDN; // dc=example,dc=com
    records.next({ op: 'rename', dn: base, newRdn: 'ou=escaped' });
    records.next({ op: 'rename', dn: base.toUpperCase(), newRdn: 'dc=escaped' });
    records.next({ op: 'rename', dn: 'dc = \\65xample ,  dc=COM', newRdn: 'dc=escaped', newSuperior: PEOPLE_DN });
    records.next({ op: 'rename', dn: person(2).dn, newRdn: 'uid=escaped', newSuperior: 'dc=example,dc=comX' });
    await until(() => results.length === 4);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['OPERATION_NOT_ALLOWED', 'OPERATION_NOT_ALLOWED', 'OPERATION_NOT_ALLOWED', 'OPERATION_NOT_ALLOWED']);
    expect(results[0]?.ok === false && results[0].message).toContain('renaming it would move the whole data source');
    // The export holds its lease, but no record so far needed the server.
    expect(a.stats).toMatchObject({ streams: 1, openConnections: 0 });
    // A rename inside the base (new superior: the base, spelled otherwise) is written: its
    // MODRDN in slapd's log is the only one, so none came before it.
    records.next({ op: 'add', dn: dn('ren-base'), attributes: newPerson('ren-base') });
    records.next({ op: 'rename', dn: dn('ren-base'), newRdn: 'uid=ren-base', newSuperior: 'DC=Example, DC=Com' });
    records.complete();
    await done;
    expect(results.slice(4)).toEqual([
      { index: 4, ok: true },
      { index: 5, ok: true },
    ]);
    await until(() => modrdns().length > 0);
    expect(modrdns()).toHaveLength(1);
    expect(modrdns()[0]).toContain('dn="uid=ren-base,ou=people,dc=example,dc=com"');
    expect((await read(a, slapd.baseDN)).dn).toBe(slapd.baseDN);
    await run(a, [{ op: 'delete', dn: `uid=ren-base,${slapd.baseDN}` }]);
  });

  it("the directory's ACL refusing the service account → OPERATION_NOT_ALLOWED (insufficientAccessRights)", async () => {
    const a = adapter({ bindDN: slapd.readerDN, bindPassword: slapd.readerPassword });
    const [r] = await run(a, [{ op: 'delete', dn: person(5).dn }]);
    expect(r).toMatchObject({ ok: false, code: 'OPERATION_NOT_ALLOWED', retryable: false });
    expect(r?.ok === false && r.message).toContain('insufficientAccessRights (50)');
  });

  it('records are written as they arrive: a cold, sequential stream', async () => {
    const a = adapter();
    const records = new Subject<unknown>();
    const results: unknown[] = [];
    const out = a.export!(records, ctx);
    expect(a.stats.streams).toBe(0); // cold: nothing until subscribed
    const done = new Promise<void>((resolve, reject) => out.subscribe({ next: (r) => results.push(r), error: reject, complete: resolve }));
    records.next({ op: 'add', dn: dn('seq-1'), attributes: newPerson('seq-1') });
    await until(() => results.length === 1);
    expect((await read(a, dn('seq-1'))).attributes['uid']).toEqual(['seq-1']);
    records.next({ op: 'delete', dn: dn('seq-1') });
    records.complete();
    await done;
    expect(results).toEqual([
      { index: 0, ok: true },
      { index: 1, ok: true },
    ]);
    expect(a.stats.streams).toBe(0);
  });
});

describe('resources and failures', () => {
  it('short operations share pooled connections', async () => {
    const a = adapter();
    await Promise.all(Array.from({ length: 10 }, (_, k) => firstValueFrom(a.get!({ dn: person(k + 1).dn }, ctx))));
    expect(a.stats.shared).toBeGreaterThanOrEqual(1);
    expect(a.stats.shared).toBeLessThanOrEqual(4);
    expect(a.stats.sharedInFlight).toBe(0);
  });

  it('export: a record after a lost connection fails retryable, the next one reconnects', async () => {
    const a = adapter();
    const records = new Subject<unknown>();
    const results: ExportResult[] = [];
    const done = new Promise<void>((resolve, reject) => a.export!(records, ctx).subscribe({ next: (r) => results.push(r), error: reject, complete: resolve }));
    const add = (uid: string) => ({ op: 'add', dn: `uid=${uid},${PEOPLE_DN}`, attributes: { objectClass: 'inetOrgPerson', uid, cn: uid, sn: uid } });
    records.next(add('rc-1'));
    await until(() => results.length === 1);
    await slapd.stop();
    try {
      records.next(add('rc-2'));
      await until(() => results.length === 2);
    } finally {
      await slapd.start();
    }
    records.next(add('rc-3'));
    records.next({ op: 'delete', dn: `uid=rc-1,${PEOPLE_DN}` });
    records.next({ op: 'delete', dn: `uid=rc-3,${PEOPLE_DN}` });
    records.complete();
    await done;
    expect(results.map((r) => (r.ok ? 'ok' : `${r.code}${r.retryable ? ' (retryable)' : ''}`))).toEqual(['ok', 'UPSTREAM_UNAVAILABLE (retryable)', 'ok', 'ok', 'ok']);
    expect(a.stats.streams).toBe(0);
    await until(() => a.stats.openConnections === 0);
  });

});

describe('search worker threads', () => {
  const people = { base: PEOPLE_DN, filter: '(objectClass=inetOrgPerson)', attributes: ['uid'] };
  const total = async (s: SearchSource): Promise<number> => (await drain(s)).reduce((n, p) => n + p.items.length, 0);

  it('workers start on the first search, are reused, serve streams at once, and stop with the adapter', async () => {
    const a = adapter({}, { searchWorkers: 2 });
    expect(a.searchThreads).toBeDefined();
    expect(a.stats.searchWorkers).toBe(0);
    const s = a.search!(people, ctx);
    expect(s.itemFormat).toBe('json-batch');
    expect(await total(s)).toBe(ENTRIES);
    expect(await total(a.search!(people, ctx))).toBe(ENTRIES);
    expect(a.stats.searchWorkers).toBe(1);
    expect(await Promise.all([1, 2, 3].map(() => total(a.search!({ ...people, pageSize: 100 }, ctx))))).toEqual([ENTRIES, ENTRIES, ENTRIES]);
    expect(a.stats.searchWorkers).toBe(2);
    await until(() => a.stats.openConnections === 0);
    const exits = a.searchThreads!.workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
    await a.close();
    expect(await Promise.all(exits)).toEqual([0, 0]); // shut down cleanly (unbind), not terminated
  });

  it('an idle worker unbinds and exits after idleMs; the next search starts a new one', async () => {
    const a = adapter({}, { searchWorkers: 1, searchWorkerIdleMs: 300 });
    expect(await total(a.search!({ ...people, filter: '(uid=user0000*)' }, ctx))).toBe(9);
    const worker = a.searchThreads!.workers[0]!;
    const code = await new Promise((resolve) => worker.once('exit', resolve));
    expect(code).toBe(0); // shut down (unbind), not terminated
    expect(a.stats).toMatchObject({ searchWorkers: 0, openConnections: 0 });
    expect(await total(a.search!({ ...people, filter: '(uid=user0000*)' }, ctx))).toBe(9);
    expect(a.stats.searchWorkers).toBe(1);
  });

  it('close(): the worker stops requesting pages and closes the connection; the worker is reused', async () => {
    const filter = '(&(objectClass=inetOrgPerson)(uid=user01*))';
    const a = adapter({}, { searchWorkers: 1 });
    const from = slapd.logSize();
    const s = a.search!({ ...people, filter, pageSize: 100 }, ctx);
    await pull(s);
    await pull(s);
    expect(a.stats).toMatchObject({ streams: 1, openConnections: 1, searchWorkers: 1 });
    const worker = a.searchThreads!.workers[0];
    s.close();
    await until(() => a.stats.openConnections === 0);
    expect(a.stats.streams).toBe(0);
    await slapdMarker();
    expect(srchCount(from, filter)).toBe(2);
    expect(await total(a.search!({ ...people, filter: '(uid=user0000*)' }, ctx))).toBe(9);
    expect(a.searchThreads!.workers).toEqual([worker]);
  });

  it('a worker that dies mid-stream fails its streams with INTERNAL (retryable), not a hang; the next stream gets a new worker', async () => {
    const a = adapter({}, { searchWorkers: 1 });
    const s1 = a.search!({ ...people, pageSize: 100 }, ctx);
    const s2 = a.search!({ ...people, pageSize: 100 }, { ...ctx, requestId: 'req-2' });
    await pull(s1);
    await pull(s2);
    const worker = a.searchThreads!.workers[0]!;
    // A message the worker does not understand is a bug: it throws and the thread dies, here
    // while s2's next page is being fetched.
    const inFlight = failure(pull(s2));
    worker.postMessage({ type: 'no-such-message' });
    const e2 = await inFlight;
    expect(e2).toMatchObject({ code: 'INTERNAL', retryable: true, context: { requestId: 'req-2', dataSource: 'corp' } });
    expect(e2.message).toContain('worker thread stopped');
    const e1 = await failure(pull(s1));
    expect(e1).toMatchObject({ code: 'INTERNAL', retryable: true, context: { requestId: 'req-1' } });
    expect(a.stats).toMatchObject({ streams: 0, openConnections: 0, searchWorkers: 0 });
    expect(logs.text()).toContain('no-such-message');
    expect(await total(a.search!(people, ctx))).toBe(ENTRIES);
    expect(a.searchThreads!.workers).toHaveLength(1);
    expect(a.searchThreads!.workers[0]).not.toBe(worker);
  });

  it('a worker terminated from outside: the pull in flight fails with INTERNAL', async () => {
    const a = adapter({}, { searchWorkers: 1 });
    const s = a.search!({ ...people, pageSize: 100 }, ctx);
    await pull(s);
    const inFlight = failure(pull(s));
    await a.searchThreads!.workers[0]!.terminate();
    expect(await inFlight).toMatchObject({ code: 'INTERNAL', retryable: true });
  });

  it('a worker that cannot start: the stream and later ones run in the main thread', async () => {
    const a = adapter({}, { searchWorkers: 1, searchWorkerScript: new URL('data:text/javascript,throw new Error("no worker here")') });
    const s = a.search!(people, ctx);
    expect(await total(s)).toBe(ENTRIES);
    expect(logs.text()).toContain('searches run in the main thread from now on');
    expect(a.searchThreads?.usable).toBe(false);
    expect(await total(a.search!(people, ctx))).toBe(ENTRIES);
    expect(a.stats.searchWorkers).toBe(0);
  });

  it("the worker's log records reach the data source's logger (failover warning), the password in none", async () => {
    const a = adapter({ url: undefined, urls: [closedPortUrl, slapd.url] }, { searchWorkers: 1 });
    const before = logs.lines.length;
    expect((await pull(a.search!({ ...people, pageSize: 10 }, ctx))).items).toHaveLength(10);
    const records = logs.records().slice(before);
    expect(records.find((r) => r['msg'] === 'LDAP server unreachable, trying the next URL')).toMatchObject({ level: 40, url: closedPortUrl });
    expect(logs.text()).not.toContain(slapd.adminPassword);
  });

  it('searchWorkers: 0 runs searches in the main thread', async () => {
    const a = adapter({ searchWorkers: 0 });
    expect(a.searchThreads).toBeUndefined();
    expect(await total(a.search!(people, ctx))).toBe(ENTRIES);
    expect(a.stats.searchWorkers).toBe(0);
  });
});
