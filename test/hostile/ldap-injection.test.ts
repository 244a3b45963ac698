/**
 * Part 4 — LDAP filters and DNs from hostile callers, through the real pipeline (hub → agent →
 * LDAP adapter) to a real slapd. Property: every string used as a search filter, search base,
 * `get` DN or export DN is either refused (BAD_REQUEST / OPERATION_NOT_ALLOWED) before any
 * upstream call — slapd's own log shows no operation for it — or parsed and sent as what it
 * parses to (one SRCH with the same filter structure; one DEL per accepted record), never
 * spliced into a bigger filter. DNs are allowed only if *slapd* agrees they lie inside the data
 * source's baseDN: slapd is the oracle for case, space and Unicode tricks.
 *
 * Operations are counted between two barriers: a search by a separate client for a unique base
 * that the test waits to see in slapd's log, so every earlier line has been written.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { Client, FilterParser } from 'ldapts';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireWithin } from '../../src/adapters/directory/params.js';
import { ProtocolError } from '../../src/protocol/index.js';
import { basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub, type TestAgent } from '../helpers/relay-env.js';
import { printSlapdLogOnFailure, startSlapd, type Slapd } from '../helpers/slapd.js';
import { SEED, figure, formatCounts, hostileValue, increment, watchCrashes, type CrashWatch } from './helpers.js';

const BASE = 'dc=example,dc=com';
const PEOPLE = `ou=people,${BASE}`;
const PEOPLE_COUNT = 40;

let env: Env;
let slapd: Slapd;
let hub: RunningHub;
let agent: TestAgent;
let direct: Client;
let crashes: CrashWatch;

printSlapdLogOnFailure(() => slapd);

const stats = {
  tried: 0,
  refused: new Map<string, number>(),
  accepted: 0,
  falseRefusals: 0,
  scopeEscapes: [] as string[],
  byProperty: new Map<string, number>(),
};

beforeAll(async () => {
  crashes = watchCrashes();
  env = makeEnv();
  slapd = await startSlapd({ entries: PEOPLE_COUNT });
  hub = await startHub(env, { tls: false });
  const ds = (name: string, baseDN: string) => `  ${name}:
    type: ldap
    url: ${slapd.url}
    bindDN: ${slapd.adminDN}
    bindPassword: ${slapd.adminPassword}
    baseDN: "${baseDN}"
    pageSize: 500
    operations: [get, search, export]
`;
  agent = startAgent(env, basicAgentYaml(env, [hub.url]), `dataSources:\n${ds('corp', BASE)}${ds('people', PEOPLE)}`);
  await agent.statuses.next(isState('registered'));
  direct = new Client({ url: slapd.url });
  await direct.bind(slapd.adminDN, slapd.adminPassword);
}, 60_000);

afterAll(async () => {
  const refused = [...stats.refused.values()].reduce((a, b) => a + b, 0);
  figure('ldap-injection', [
    [stats.tried, 'filters/DNs tried'],
    `${refused.toLocaleString('en-US')} refused by the agent with no slapd operation ${formatCounts(stats.refused)}`,
    [stats.accepted, 'sent to slapd as parsed (filter structure checked in its log, scope confirmed by slapd)'],
    `scope escapes ${stats.scopeEscapes.length}`,
    [stats.falseRefusals, 'refusals of base spellings slapd would accept (safe side)'],
    `crashes ${crashes.errors.length}`,
  ]);
  console.log(`ldap-injection per property ${formatCounts(stats.byProperty)}`);
  await direct?.unbind().catch(() => undefined);
  agent?.stop();
  await hub?.close();
  await slapd?.dispose();
  crashes?.dispose();
  env?.cleanup();
});

// ---------------------------------------------------------------------------------------------
// Counting slapd operations

let barriers = 0;
let directConn: string | undefined;

/** Requests slapd logs when it receives them; each is answered by a RESULT line for the same conn/op. */
const REQUEST_LINE = / conn=(\d+) op=(\d+) (?:SRCH|BIND|ADD|MOD|DEL|MODRDN|CMP|EXT)\b/;
const RESULT_LINE = / conn=(\d+) op=(\d+) (?:SEARCH )?RESULT\b/;

/**
 * Waits until a search by the direct client shows in the log, and until every operation of
 * other connections logged since `since` has its RESULT line too: slapd logs a RESULT after
 * sending it, from the operation's own thread, so on a loaded machine an answer the agent already
 * has can be logged after our barrier's. Returns the log size at that point.
 */
async function barrier(since = 0): Promise<number> {
  const tag = `cn=barrier-${++barriers},${BASE}`;
  await direct.search(tag, { scope: 'base', attributes: ['1.1'] }).catch(() => undefined);
  const deadline = Date.now() + 5000;
  for (;;) {
    const log = slapd.log();
    const at = log.indexOf(`SRCH base="${tag}"`);
    if (at >= 0) {
      directConn ??= /conn=(\d+)/.exec(log.slice(log.lastIndexOf('\n', at)))?.[1];
      const result = log.indexOf('SEARCH RESULT', at);
      // Up to the last complete line: it holds the barrier's RESULT and any RESULT logged late.
      if (result >= 0 && (unanswered(Buffer.from(log, 'utf8').subarray(since).toString('utf8')) === 0 || Date.now() > deadline)) {
        return Buffer.byteLength(log.slice(0, log.lastIndexOf('\n') + 1));
      }
    }
    await new Promise((r) => setTimeout(r, 3));
  }
}

/**
 * Connections of the oracle's ldapsearch (bound as the reader): slapd may log their last RESULT
 * after a later barrier's on a loaded machine, so they are told apart by who bound, not by time.
 */
function oracleConns(): Set<string> {
  const reader = slapd.readerDN.toLowerCase();
  const conns = new Set<string>();
  for (const m of slapd.log().matchAll(/ conn=(\d+) op=\d+ BIND dn="([^"]*)"/g)) if (m[2]!.toLowerCase() === reader) conns.add(m[1]!);
  return conns;
}

/** Operations of other connections in `text` whose RESULT line is not (yet) in it. */
function unanswered(text: string): number {
  const open = new Set<string>();
  for (const line of text.split('\n')) {
    const req = REQUEST_LINE.exec(line);
    if (req && req[1] !== directConn) open.add(`${req[1]}/${req[2]}`);
    const res = RESULT_LINE.exec(line);
    if (res) open.delete(`${res[1]}/${res[2]}`);
  }
  return open.size;
}

/**
 * slapd operations (not the barrier client's) logged while `fn` ran: one RESULT line per
 * operation — also for one slapd refuses before logging its request (an invalid DN gets
 * `do_search: invalid dn` and `RESULT … err=34`, no `SRCH base=` line) — and the filters of
 * the searches among them.
 */
async function opsDuring<T>(fn: () => Promise<T>): Promise<{ value: T; ops: string[]; filters: string[] }> {
  const from = await barrier();
  const value = await fn();
  const to = await barrier(from);
  const lines = Buffer.from(slapd.log(from), 'utf8')
    .subarray(0, to - from)
    .toString('utf8')
    .split('\n')
    .filter((l) => !l.includes(`conn=${directConn} `) && !oracleConns().has(/ conn=(\d+) /.exec(l)?.[1] ?? ''));
  return {
    value,
    ops: lines.filter((l) => / op=\d+ (SEARCH )?RESULT tag=/.test(l)),
    filters: lines.flatMap((l) => / SRCH base=.* filter="(.*)"$/.exec(l)?.[1] ?? []),
  };
}

type Outcome = { ok: true; items: unknown[] } | { ok: false; code: string; message: string };

async function outcome(p: Promise<unknown[]>): Promise<Outcome> {
  try {
    return { ok: true, items: await p };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { ok: false, code: err.code, message: err.message };
  }
}

const search = (dataSource: string, params: Record<string, unknown>): Promise<Outcome> =>
  outcome(lastValueFrom(hub.hub.search$({ tenantId: '1', dataSource, params }).pipe(toArray())));
const get = (dataSource: string, dn: string): Promise<Outcome> => outcome(hub.hub.request({ tenantId: '1', dataSource, op: 'get', params: { dn } }).then((v) => [v]));

function refusedBeforeUpstream(o: Outcome, ops: string[], what: string, codes = ['BAD_REQUEST', 'OPERATION_NOT_ALLOWED']): void {
  if (o.ok) throw new Error(`${what}: expected a refusal`);
  expect(codes, `${what}: ${o.code} ${o.message}`).toContain(o.code);
  expect(ops, `${what}: refused, yet slapd saw operations`).toEqual([]);
}

/** Refused by the agent (no operation reached slapd), or sent (whatever slapd answered). */
function tally(property: string, o: Outcome, ops: string[]): void {
  stats.tried += 1;
  increment(stats.byProperty, property);
  if (ops.length > 0) stats.accepted += 1;
  else if (!o.ok) increment(stats.refused, o.code);
}

// ---------------------------------------------------------------------------------------------
// Filters

/** The structure of an RFC 4515 filter: `(&`, `(|`, `(!`, `(=` for an item, `)`. Values cannot hold raw parentheses. */
function skeleton(filter: string): string {
  let out = '';
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === '\\') i += 2;
    else if (c === '(') out += `(${'&|!'.includes(filter[i + 1] ?? '') ? filter[i + 1]! : '='}`;
    else if (c === ')') out += ')';
  }
  return out;
}

const INJECTIONS = ['*)(uid=*))(|(uid=*', '*)(objectClass=*', 'admin)(&)', 'x)(|(a=*)', '*))\u0000', ')(', '(', ')', '\\', '*', '\\2a', 'a\\29(b', '*)(|(objectClass=*))(&(uid=x', 'user00001)(userPassword=*'];

const filterValue = fc.oneof(fc.constantFrom(...INJECTIONS), fc.string({ unit: 'binary', maxLength: 20 }), fc.stringMatching(/^[a-z0-9*]{1,8}$/));
const attr = fc.constantFrom('uid', 'cn', 'mail', 'objectClass', 'sn', 'userPassword', 'nosuchattr', 'UID', '2.5.4.3', 'cn;lang-en');
const wellFormed: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(attr, fc.constantFrom('=', '~=', '>=', '<='), fc.stringMatching(/^[a-z0-9 ]{0,6}$/)).map(([a, op, v]) => `(${a}${op}${v})`),
    fc.tuple(attr, fc.stringMatching(/^[a-z0-9]{0,4}$/)).map(([a, v]) => `(${a}=${v}*)`),
    fc.tuple(fc.constantFrom('&', '|'), fc.array(tie('f'), { minLength: 1, maxLength: 3 })).map(([op, fs]) => `(${op}${fs.join('')})`),
    tie('f').map((f) => `(!${f})`),
  ),
})).f;

const hostileFilter = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  filterValue.map((v) => `(uid=${v})`),
  filterValue.map((v) => `uid=${v}`),
  filterValue.map((v) => `(&(objectClass=person)(uid=${v}))`),
  fc.string({ unit: 'binary', maxLength: 60 }),
  wellFormed,
  wellFormed.map((f) => `${f}${f}`),
  wellFormed.map((f) => f.slice(0, -1)),
  wellFormed.map((f) => ` ${f} `),
);

describe('search filters', () => {
  it('the classic injection `*)(uid=*))(|(uid=*` is BAD_REQUEST before any upstream call', async () => {
    const { value, ops } = await opsDuring(() => search('corp', { filter: '*)(uid=*))(|(uid=*' }));
    refusedBeforeUpstream(value, ops, 'injection', ['BAD_REQUEST']);
    tally('filter', value, ops);
  });

  it('any string as a filter: refused with no slapd operation, or sent as exactly the filter it parses to', async () => {
    await fc.assert(
      fc.asyncProperty(hostileFilter, async (filter) => {
        const { value, ops, filters: sent } = await opsDuring(() => search('corp', { filter, attributes: ['1.1'] }));
        tally('filter', value, ops);
        if (ops.length === 0) return refusedBeforeUpstream(value, ops, `filter ${JSON.stringify(filter)}`, ['BAD_REQUEST']);
        // Sent: one page, one SRCH, whose filter has the structure the whole string parses to.
        const trimmed = filter.trim();
        const parsed = FilterParser.parseString(trimmed.startsWith('(') ? trimmed : `(${trimmed})`).toString();
        expect(sent, `filter ${JSON.stringify(filter)}`).toHaveLength(1);
        expect(skeleton(sent[0]!), `filter ${JSON.stringify(filter)} → slapd saw ${sent[0]}`).toBe(skeleton(parsed));
      }),
      { seed: SEED, numRuns: 250, endOnFailure: true },
    );
  });

  it('hostile search parameters (types, unknown and prototype keys) are BAD_REQUEST before any upstream call', async () => {
    const params = fc.dictionary(fc.constantFrom('base', 'scope', 'filter', 'attributes', 'sizeLimit', 'pageSize', '__proto__', 'constructor', 'limit', 'Filter'), hostileValue, { minKeys: 1, maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(params, async (p) => {
        const { value, ops } = await opsDuring(() => search('corp', p));
        tally('params', value, ops);
        if (ops.length === 0) refusedBeforeUpstream(value, ops, `params ${JSON.stringify(p)}`);
        else expect(ops.some((l) => l.includes('SEARCH RESULT')), `params ${JSON.stringify(p)}`).toBe(true);
      }),
      { seed: SEED, numRuns: 120, endOnFailure: true },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// DNs

describe('search bases and DNs', () => {
  it('the brief\'s cases: spliced, outside, and case/space variants of the base', async () => {
    const cases: Array<[string, 'refused' | 'allowed']> = [
      [`${BASE})(x`, 'refused'],
      ['cn=config', 'refused'],
      ['', 'refused'],
      [`${BASE},dc=evil`, 'refused'],
      ['dc=com', 'refused'],
      [`uid=x,dc=myexample,dc=com`, 'refused'],
      ['DC=EXAMPLE, DC=COM', 'allowed'],
      ['dc=Example ,  dc=Com', 'allowed'],
      [`OU=People,${BASE.toUpperCase()}`, 'allowed'],
      [`ou=people;dc=example;dc=com`, 'allowed'],
    ];
    for (const [base, expected] of cases) {
      const { value, ops } = await opsDuring(() => search('corp', { base, scope: 'base', attributes: ['1.1'] }));
      tally('base-cases', value, ops);
      if (expected === 'refused') refusedBeforeUpstream(value, ops, `base ${JSON.stringify(base)}`);
      else {
        expect(value, `base ${JSON.stringify(base)}`).toMatchObject({ ok: true, items: [expect.anything()] });
        expect(ops.filter((l) => l.includes('SEARCH RESULT'))).toHaveLength(1);
      }
    }
  });

  it('any string as search base / get DN: refused before upstream, or inside the base as slapd sees it', async () => {
    const dn = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `uid=${s},${PEOPLE}`),
      fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `${s},${BASE}`),
      fc.constantFrom('cn=config', 'cn=monitor', 'cn=subschema', 'o=other', `cn=admin,${BASE}`, `ou=groups,${BASE}`, `uid=user00001,${PEOPLE}`, `uid=user00001,ou=people,dc=example,dc=com,cn=x`, '#04', 'uid=\\', 'uid=a\\,dc=example,dc=com'),
    );
    await fc.assert(
      fc.asyncProperty(dn, fc.constantFrom('search', 'get'), async (d, op) => {
        const { value, ops } = await opsDuring(() => (op === 'get' ? get('people', d) : search('people', { base: d, scope: 'base', attributes: ['1.1'] })));
        tally('dn', value, ops);
        if (ops.length === 0) return refusedBeforeUpstream(value, ops, `${op} ${JSON.stringify(d)}`);
        // Sent upstream: slapd must see it inside ou=people (or refuse its syntax itself).
        if (!(await slapdSaysWithin(d, PEOPLE))) stats.scopeEscapes.push(`${op} ${JSON.stringify(d)}`);
      }),
      { seed: SEED, numRuns: 200, endOnFailure: true },
    );
    expect(stats.scopeEscapes).toEqual([]);
  });
});

/**
 * Does slapd consider `dn` to be `base` or below it? Its own parsing and normalisation are the
 * oracle: an existing entry's DN as slapd returns it, or — for a DN that names nothing — the
 * "Matched DN" slapd reports (the deepest existing ancestor as *it* parses the DN; ldapts does
 * not expose it, ldapsearch prints it).
 */
async function slapdSaysWithin(dn: string, base: string): Promise<boolean> {
  const inside = (x: string): boolean => x.toLowerCase() === base || x.toLowerCase().endsWith(`,${base}`);
  const target = await slapdEntry(dn);
  if (target.kind === 'entry') return inside(target.dn);
  if (target.kind === 'invalid') return true; // slapd refused the syntax: nothing was touched
  return target.matched !== undefined && inside(target.matched);
}

async function slapdEntry(dn: string): Promise<{ kind: 'entry'; dn: string } | { kind: 'missing'; matched: string | undefined } | { kind: 'invalid' }> {
  try {
    const r = await direct.search(dn, { scope: 'base', attributes: ['1.1'] });
    const e = r.searchEntries[0];
    if (e) return { kind: 'entry', dn: e.dn };
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 34) return { kind: 'invalid' };
    if (code !== 32) throw err;
  }
  return { kind: 'missing', matched: matchedDn(dn) };
}

/** slapd's matchedDN for a DN that names no entry (undefined when it cannot be asked: NUL in the DN). */
function matchedDn(dn: string): string | undefined {
  if (dn.includes('\0')) return undefined;
  // As the read-only reader, not the admin the agent binds as: opsDuring leaves these out.
  const r = spawnSync('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', slapd.url, '-D', slapd.readerDN, '-w', slapd.readerPassword, '-s', 'base', '-b', dn, '1.1'], { encoding: 'utf8' });
  const line = /^Matched DN: (.*)$/m.exec(r.stderr + r.stdout);
  return line ? line[1]!.trim() : '';
}

// ---------------------------------------------------------------------------------------------
// Case, space and Unicode tricks on the base itself: slapd is the oracle

/** Characters slapd and JavaScript may disagree about: spaces, controls, compatibility forms. */
const TRICKS = [' ', '\\20', '\\09', '\t', '\\0a', '\\0d', '\\0b', '\\0c', '\u00a0', '\u3000', '\u2028', '\u1680', '\ufeff', '\u200b', '\u0085', '\u2000'];
const LOOKALIKE: Record<string, string[]> = {
  p: ['P', 'ｐ', '\u1d56', '\\70'],
  e: ['E', 'ｅ', '\u212f', '\u1d49', '\\65'],
  o: ['O', 'ｏ', '\u2134', '\u1d52'],
  l: ['L', 'ｌ', '\u2113', '\u02e1'],
  c: ['C', 'ｃ', '\u1d9c', '\ua7f2'],
  m: ['M', 'ｍ', '\u1d50'],
};

const peopleVariant: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }),
    fc.array(fc.tuple(fc.constantFrom(...TRICKS), fc.constantFrom('start', 'end', 'middle')), { maxLength: 2 }),
    fc.constantFrom('ou', 'OU', 'Ou', '2.5.4.11', 'organizationalUnitName'),
    fc.constantFrom(',', ', ', ' , ', ';'),
    fc.constantFrom('dc=example,dc=com', 'DC=EXAMPLE,DC=COM', 'dc=ｅxample,dc=com', 'dc=example,dc=co\u1d50', 'dc=example\\09,dc=com', 'dc=example,dc=com\\20'),
  )
  .map(([swaps, tricks, type, sep, rest]) => {
    const chars = [...'people'];
    for (const [at, pick] of swaps) {
      const k = at % chars.length;
      const options = LOOKALIKE[chars[k]!.toLowerCase()];
      if (options) chars[k] = options[pick % options.length]!;
    }
    let value = chars.join('');
    for (const [t, where] of tricks) value = where === 'start' ? t + value : where === 'end' ? value + t : value.slice(0, 3) + t + value.slice(3);
    return `${type}=${value}${sep}${rest}`;
  });

describe('scope: case, space and Unicode tricks against the configured baseDN', () => {
  it('a DN is allowed only if slapd agrees it is inside ou=people (get and search base)', async () => {
    await fc.assert(
      fc.asyncProperty(peopleVariant, fc.constantFrom('get', 'search'), async (variant, op) => {
        const slapdSame = (await slapdEntry(variant)).kind === 'entry' && (await slapdSaysWithin(variant, PEOPLE));
        const dn = op === 'get' ? `uid=user00001,${variant}` : variant;
        const { value, ops } = await opsDuring(() => (op === 'get' ? get('people', dn) : search('people', { base: dn, scope: 'base', attributes: ['1.1'] })));
        tally('scope', value, ops);
        if (ops.length === 0) {
          refusedBeforeUpstream(value, ops, `${op} ${JSON.stringify(dn)}`);
          if (slapdSame) stats.falseRefusals += 1;
          return;
        }
        if (!slapdSame) stats.scopeEscapes.push(`${op} ${JSON.stringify(dn)}`);
        expect(slapdSame, `${op} ${JSON.stringify(dn)} was sent to slapd, which does not see ${JSON.stringify(variant)} as ${PEOPLE}; agent: ${JSON.stringify(value)}; slapd: ${ops.join(' | ')}`).toBe(true);
      }),
      { seed: SEED, numRuns: 180, endOnFailure: true },
    );
  });

  it('export: a tricky DN never creates an entry outside the baseDN', async () => {
    const tricky = [`ou=people\\09,${BASE}`, `ou=people\\0a,${BASE}`, `ou=\\09people,${BASE}`, `ou=people\u2028,${BASE}`, `ou=people\ufeff,${BASE}`, `ou=peopl\u212f,${BASE}`, `ou=peop\u02e1e,${BASE}`, `uid=x,ou=people\\0d,${BASE}`, `ou=people,dc=example,dc=co\u1d50`];
    const records = tricky.map((dn) => ({ op: 'add', dn, attributes: { objectClass: ['organizationalUnit'], ou: ['x'] } }));
    const { value, ops } = await opsDuring(() => lastValueFrom(hub.hub.export$({ tenantId: '1', dataSource: 'people' }, records).pipe(toArray())));
    const results = value as Array<{ index: number; ok: boolean; code?: string }>;
    for (const r of results) {
      stats.tried += 1;
      increment(stats.byProperty, 'export-scope');
      if (r.ok) stats.scopeEscapes.push(`export add ${JSON.stringify(tricky[r.index])}`);
      else increment(stats.refused, r.code ?? '?');
    }
    expect(results.map((r) => [tricky[r.index], r.ok, r.code])).toEqual(tricky.map((dn) => [dn, false, 'OPERATION_NOT_ALLOWED']));
    expect(ops, 'every record refused, yet slapd saw operations').toEqual([]);
    const children = await direct.search(BASE, { scope: 'one', attributes: ['1.1'] });
    expect(children.searchEntries.map((e) => e.dn).sort()).toEqual([`ou=groups,${BASE}`, `ou=people,${BASE}`, `ou=service,${BASE}`]);
  });

  it('export: any string as a record DN — one upstream operation per accepted record, none for a refused one', async () => {
    const dn = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 12 }).map((s) => `uid=${s},ou=nobody,${BASE}`),
      fc.constantFrom('cn=config', `cn=x,${BASE},dc=evil`, `${BASE})(x`, 'uid=\\', `uid=gone,ou=nobody,${BASE}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(dn, { minLength: 1, maxLength: 8 }), async (dns) => {
        const records = dns.map((d) => ({ op: 'delete', dn: d }));
        const { value, ops } = await opsDuring(() => lastValueFrom(hub.hub.export$({ tenantId: '1', dataSource: 'corp' }, records).pipe(toArray())));
        const results = value as Array<{ index: number; ok: boolean; code?: string }>;
        expect(results.map((r) => r.index)).toEqual(dns.map((_, i) => i));
        // Which records the agent itself must refuse (unparsable, or outside its baseDN): the
        // product's own check, so the count of slapd operations is the evidence.
        const sendable = dns.map((d) => {
          try {
            requireWithin(d, BASE, 'dn');
            return true;
          } catch {
            return false;
          }
        });
        for (const [i, r] of results.entries()) {
          stats.tried += 1;
          increment(stats.byProperty, 'export-dn');
          if (sendable[i]) stats.accepted += 1;
          else {
            expect(['BAD_REQUEST', 'OPERATION_NOT_ALLOWED'], JSON.stringify(dns[i])).toContain(r.code);
            increment(stats.refused, r.code ?? '?');
          }
        }
        // One DEL result (tag 107) per record sent, none for a refused one; no connection at all
        // (no BIND) when every record was refused.
        const deletes = ops.filter((l) => / RESULT tag=107 /.test(l));
        expect(deletes, JSON.stringify(dns)).toHaveLength(sendable.filter(Boolean).length);
        if (!sendable.some(Boolean)) {
          expect(ops, `every record refused, yet slapd saw: ${ops.join(' | ')}`).toEqual([]);
        }
      }),
      { seed: SEED, numRuns: 60, endOnFailure: true },
    );
    expect(crashes.errors).toEqual([]);
  });
});
