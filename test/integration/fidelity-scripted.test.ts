/**
 * Fidelity beyond what slapd holds: a scripted LDAP server (test/helpers/scripted-ldap.ts) sends
 * DNs with bytes OpenLDAP refuses (`FF`, `C0 AF`, a Latin-1 `E9`, truncated and overlong
 * sequences), one attribute spelled in several cases and with its options in another order,
 * binary types in several runs, text attributes with values that are not UTF-8, an attribute
 * without values and an empty value. The relay's output through hub and agent over HTTP — search
 * in a worker thread and in the main thread, get by `dn` and by `dn;binary` — must be what the
 * entry contract (docs/protocol.md, "Entries") says for those bytes; `ldapsearch` first confirms
 * the server sends exactly the script.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldapsearch, startFidelityRelay, summarise, type FidelityRelay } from '../helpers/fidelity-relay.js';
import { compareEntry, compareResults, dnText, expectedJson, type RawEntry } from '../helpers/ldif-reference.js';
import { makeEnv, type Env } from '../helpers/relay-env.js';
import { startScriptedLdap, type ScriptedEntry, type ScriptedLdap } from '../helpers/scripted-ldap.js';

const b = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
const BASE = 'dc=scripted';

const SCRIPT: ScriptedEntry[] = [
  { dn: b(BASE), attributes: [['objectClass', [b('top'), b('domain')]], ['dc', [b('scripted')]]] },
  // A lone FF: never part of UTF-8; one attribute type in two spellings.
  { dn: b('cn=', [0xff], `,${BASE}`), attributes: [['objectClass', [b('person')]], ['cn', [b([0xff])]], ['sn', [b('ff')]], ['OBJECTCLASS', [b('top')]]] },
  // An overlong '/' (C0 AF); runs spelled CN and Cn; an alias kept apart.
  {
    dn: b('cn=', [0xc0, 0xaf], ` overlong,${BASE}`),
    attributes: [['cn', [b([0xc0, 0xaf], ' overlong')]], ['sn', [b('x')]], ['CN', [b('second run')]], ['commonName', [b('alias kept apart')]], ['Cn', [b([0xe9]), b('third run')]]],
  },
  // Latin-1 "café"; options in another order and case; binary types in runs; no values; an empty value.
  {
    dn: b('cn=caf', [0xe9], `,${BASE}`),
    attributes: [
      ['description', [b('caf', [0xe9]), b('café'), b('\ufeffbom')]],
      ['description;lang-de;x-a', [b('eins')]],
      ['jpegPhoto', [b('text, yet binary')]],
      ['DESCRIPTION;X-A;Lang-DE', [b('zwei'), b([0xfe, 0xff])]],
      ['description;lang-de', [b('drei')]],
      ['JPEGPHOTO', [b([0xff, 0xd8])]],
      ['jpegPhoto;lang-en', [b([1, 2, 3])]],
      ['userCertificate;binary', [b([0x30, 0x03, 0x02, 0x01, 0x00])]],
      ['mail', []],
      ['USERCERTIFICATE;BINARY', [b([0x30, 0x00])]],
      ['title', [b('')]],
      ['JpegPhoto;Lang-EN', [b([4])]],
    ],
  },
  // Valid multi-byte text, invalid bytes, an escaped comma, more text, more invalid bytes.
  { dn: b('cn=Zoë', [0xff, 0xc3], ' \\2C 日本 ', [0xe9], `,${BASE}`), attributes: [['cn', [b('Zoë', [0xff, 0xc3], ', 日本 ', [0xe9])]], ['userPassword', [b([0, 0xff]), b('\ufeffsecret\u0000')]]] },
  // A sequence cut short before a comma; lone continuation bytes in the parent's name.
  { dn: b('cn=truncated ', [0xe2, 0x82], ',ou=', [0x80, 0xbf], ` lone,${BASE}`), attributes: [['cn', [b('truncated ', [0xe2, 0x82])]]] },
  // A surrogate, a code point above U+10FFFF, overlong 3- and 4-byte forms.
  { dn: b('cn=', [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf], `,${BASE}`), attributes: [['cn', [b([0xed, 0xa0, 0x80])]]] },
  // The child of a parent whose name is not UTF-8.
  { dn: b('cn=child,cn=', [0xff], `,${BASE}`), attributes: [['cn', [b('child')]], ['description', [b('\u0000\u0001'), b([0xc0, 0x80])]]] },
  // A multi-valued RDN: a BOM and an invalid byte in one value, the other plain.
  { dn: b('cn=\ufeff', [0xfe], `+uid=ok,${BASE}`), attributes: [['uid', [b('ok')]], ['cn', [b('\ufeff', [0xfe])]]] },
];

/** The script as the entries a reader sees: every value in order, attributes without values absent. */
const REFERENCE: RawEntry[] = SCRIPT.map((e) => ({ dn: e.dn, values: e.attributes.flatMap(([description, values]) => values.map((value) => ({ description, value }))) }));

let env: Env;
let server: ScriptedLdap;
let relay: FidelityRelay;

const source = (name: string, workers: number) => `  ${name}:
    type: ldap
    url: ${server.url}
    bindDN: cn=reader,${BASE}
    bindPassword: anything
    baseDN: ${BASE}
    pageSize: 2
    searchWorkers: ${workers}
    operations: [get, search]
`;

beforeAll(async () => {
  env = makeEnv();
  server = await startScriptedLdap(SCRIPT);
  relay = await startFidelityRelay(env, `dataSources:\n${source('scripted', 1)}${source('scripted-inthread', 0)}`, readFileSync(env.pki.ca.file));
}, 60_000);

afterAll(async () => {
  await relay?.close();
  await server?.close();
  env?.cleanup();
});

const hex = (entries: RawEntry[]) => entries.map((e) => [e.dn.toString('hex'), e.values.map((v) => `${v.description}=${v.value.toString('hex')}`)]);

describe('a scripted LDAP server with what slapd refuses', () => {
  it("the oracle reads the contract's own example as the contract does", () => {
    const example: RawEntry = {
      dn: b('cn=Caf', [0xe9], ',ou=people,dc=example,dc=com'),
      values: [
        { description: 'cn', value: b('\ufeffAnna') },
        { description: 'cn', value: b('Caf', [0xe9]) },
        { description: 'CN', value: b('Anna') },
        { description: 'jpegPhoto;lang-en', value: b([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]) },
      ],
    };
    expect(expectedJson(example)).toEqual({
      dn: 'cn=Caf\\E9,ou=people,dc=example,dc=com',
      'dn;binary': 'Y249Q2Fm6SxvdT1wZW9wbGUsZGM9ZXhhbXBsZSxkYz1jb20=',
      attributes: { cn: ['\ufeffAnna', 'Anna'], 'cn;binary': ['Q2Fm6Q=='], 'jpegPhoto;lang-en;binary': ['/9j/4AAQ'] },
    });
  });

  it('ldapsearch reads exactly the script (the responder is right)', async () => {
    const read = await ldapsearch({ url: server.url, adminDN: `cn=reader,${BASE}`, adminPassword: 'anything' }, BASE);
    expect(hex(read)).toEqual(hex(REFERENCE));
  });

  for (const [name, label] of [
    ['scripted', 'worker thread'],
    ['scripted-inthread', 'main thread'],
  ] as const) {
    it(`search (${label}, RFC 2696 pages of 2) = the contract for the scripted bytes`, async () => {
      const before = server.searches.length;
      const out = await relay.search(name, { base: BASE });
      expect(out.problems).toEqual([]);
      const { differences, compared } = compareResults(out.entries, REFERENCE);
      console.log(`[fidelity scripted] search, ${label}: ${compared.entries} entries, ${compared.values} values, ${compared.bytes} bytes compared`);
      expect(summarise(differences)).toBe('0 differences');
      // The pages were asked for one by one, and the last answer's empty cookie ended the search.
      const pages = server.searches.slice(before);
      expect(pages.map((s) => s.paged?.size)).toEqual(Array(Math.ceil(SCRIPT.length / 2)).fill(2));
      expect(pages.map((s) => s.paged?.cookie.toString())).toEqual(['', '2', '4', '6', '8']);
    });
  }

  it('get by dn (hex escapes) and by dn;binary finds each entry and returns it byte for byte', async () => {
    const differences: string[] = [];
    for (const e of REFERENCE) {
      for (const params of [{ dn: dnText(e.dn) }, { 'dn;binary': e.dn.toString('base64') }]) {
        const res = await relay.get('scripted', params);
        if (res.status !== 200) differences.push(`get ${JSON.stringify(params)}: status ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
        else differences.push(...compareEntry(res.body['data'], e).map((d) => `get by ${Object.keys(params)[0]}: ${d}`));
      }
    }
    expect(summarise(differences)).toBe('0 differences');
  });
});
