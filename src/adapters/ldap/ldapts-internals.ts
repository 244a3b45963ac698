/**
 * A self-test of the private ldapts members the LDAP adapter relies on, run once per thread
 * (memoised) when the first LDAP data source is created, before any client is made.
 *
 * The private members in use (ldapts 8.2.0, pinned):
 * - `Client.messageParser` and its `MessageParser._getMessageFromProtocolOperation(messageId,
 *   protocolOperation, reader, request)`: the entry decoder (`entry-decoder.ts`) replaces it per
 *   client — the **fast path**: entries keep the server's bytes and `search`/`get` get their
 *   JSON written while the message is parsed (`entry-batch.ts`);
 * - `Client._send` and `Client._nextMessageId`: `rename` with `deleteOldRdn: false`
 *   (`modify-dn.ts`).
 *
 * An existence check is not enough (a renamed argument, a reader left elsewhere, a hook ldapts no
 * longer calls would all pass it), so the test does what a search does: it installs the hook on a
 * client that is never connected, feeds its message parser a known SearchResultEntry (a test
 * vector with what ldapts alone gets wrong: a leading BOM, an attribute in two runs, a value and a
 * DN byte that are not ASCII, a value that is not UTF-8), once with a search's entry sink (cut in
 * two reads) and once without, and checks the entry JSON against the expected bytes.
 *
 * When anything is missing or behaves differently (another ldapts version), the fast path is off
 * for the thread: clients are made without the hook and `search`/`get` take ldapts' own entries
 * (`EntryBatchWriter.takePage`, the slow path — correct entries, but without what ldapts loses:
 * docs/ldap.md, "Decoding entries"). `reportLdaptsSelfTest` logs one warning naming what failed and
 * the ldapts version; the agent's `datasync_agent_ldap_fast_path_enabled` gauge reads
 * `ldaptsFastPath()`.
 */
import { readFileSync } from 'node:fs';
import { BerWriter, Client, PresenceFilter, SearchEntry, SearchRequest, type Entry } from 'ldapts';
import type { Logger } from 'pino';
import { EntryBatchWriter } from './entry-batch.js';
import { hookMessageParser, rawEntryOf } from './entry-decoder.js';
import { entryJson } from './entry.js';

/** The outcome of one check: `failure` names what did not hold. */
export interface InternalsCheck {
  readonly ok: boolean;
  readonly failure?: string;
}

export interface LdaptsSelfTest {
  /** The installed ldapts version ('unknown' when it cannot be read). */
  readonly ldaptsVersion: string;
  /** The entry decoder's hook (`messageParser._getMessageFromProtocolOperation`): the fast path. */
  readonly fastPath: InternalsCheck;
  /** `_send` and `_nextMessageId`: `rename` with `deleteOldRdn: false`. */
  readonly modifyDn: InternalsCheck;
}

/** Thrown inside the self-test: the message is the failure reported. */
class CheckFailed extends Error {}

function check(condition: boolean, failure: string): asserts condition {
  if (!condition) throw new CheckFailed(failure);
}

const MESSAGE_ID = 7;
const DN = Buffer.from('cn=Zoë Self-Test,dc=example,dc=com', 'utf8');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NOT_UTF8 = Buffer.from([0xff, 0xfe, 0x00, 0x41]);

/** The test vector's attributes, as sent: `description` comes in two runs (as OpenLDAP sends after `slapadd -q`). */
const ATTRIBUTES: ReadonlyArray<readonly [string, readonly Buffer[]]> = [
  ['objectClass', [Buffer.from('person'), Buffer.from('top')]],
  ['cn', [Buffer.concat([BOM, Buffer.from('Zoë')])]],
  ['description', [Buffer.from('first run')]],
  ['sn', [Buffer.from('Self-Test')]],
  ['description', [Buffer.from('second run')]],
  ['title', [NOT_UTF8]],
];

/** The entry JSON the vector must give, byte for byte (docs/protocol.md, "Entries"). */
export const SELF_TEST_ENTRY_JSON = JSON.stringify({
  dn: 'cn=Zoë Self-Test,dc=example,dc=com',
  attributes: {
    objectClass: ['person', 'top'],
    cn: ['\ufeffZoë'],
    description: ['first run', 'second run'],
    sn: ['Self-Test'],
    'title;binary': [NOT_UTF8.toString('base64')],
  },
});

/** The LDAPMessage of the vector: SEQUENCE { messageID, [APPLICATION 4] { objectName, attributes } }. */
export function selfTestMessage(): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeInt(MESSAGE_ID);
  w.startSequence(0x64);
  w.writeBuffer(DN, 0x04);
  w.startSequence();
  for (const [type, values] of ATTRIBUTES) {
    w.startSequence();
    w.writeBuffer(Buffer.from(type, 'utf8'), 0x04);
    w.startSequence(0x31);
    for (const v of values) w.writeBuffer(v, 0x04);
    w.endSequence();
    w.endSequence();
  }
  w.endSequence();
  w.endSequence();
  w.endSequence();
  return Buffer.from(w.buffer);
}

interface ParserLike {
  read(data: Buffer, messageDetailsByMessageId: Map<string, { message: SearchRequest }>): void;
  on(event: string, listener: (value: unknown) => void): unknown;
  off(event: string, listener: (value: unknown) => void): unknown;
}

function isParser(value: unknown): value is ParserLike {
  if (typeof value !== 'object' || value === null) return false;
  return typeof Reflect.get(value, 'read') === 'function' && typeof Reflect.get(value, 'on') === 'function' && typeof Reflect.get(value, 'off') === 'function';
}

/** Feeds `bytes` (cut in two reads at `cut`, if given) to the parser as the client does for `request`; the one SearchEntry it must emit. */
function feed(parser: ParserLike, bytes: Buffer, request: SearchRequest, cut?: number): SearchEntry {
  const messages: unknown[] = [];
  const errors: unknown[] = [];
  const onMessage = (m: unknown): void => void messages.push(m);
  const onError = (e: unknown): void => void errors.push(e);
  parser.on('message', onMessage);
  parser.on('error', onError);
  try {
    const details = new Map([[String(MESSAGE_ID), { message: request }]]);
    if (cut === undefined) parser.read(bytes, details);
    else {
      parser.read(bytes.subarray(0, cut), details);
      parser.read(bytes.subarray(cut), details);
    }
  } finally {
    parser.off('message', onMessage);
    parser.off('error', onError);
  }
  check(errors.length === 0, `the message parser reported an error: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`);
  check(messages.length === 1, `the message parser emitted ${messages.length} messages for one SearchResultEntry`);
  const [message] = messages;
  check(message instanceof SearchEntry, 'the message parser did not emit a SearchEntry (ldapts would not collect it as a search result)');
  check(message.messageId === MESSAGE_ID, `the SearchEntry has messageId ${String(message.messageId)}, not ${MESSAGE_ID}`);
  return message;
}

const shorten = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

function fastPathCheck(client: Client): void {
  const parser: unknown = Reflect.get(client, 'messageParser');
  check(isParser(parser), 'Client.messageParser is missing (or has no read/on/off)');
  check(typeof Reflect.get(parser, '_getMessageFromProtocolOperation') === 'function', 'MessageParser._getMessageFromProtocolOperation is missing');
  check(hookMessageParser(parser), 'the entry decoder could not be installed on MessageParser._getMessageFromProtocolOperation');
  const bytes = selfTestMessage();
  const filter = new PresenceFilter({ attribute: 'objectClass' });

  // As `search`/`get` do: the entry's JSON written to the request's sink while it is parsed.
  const sink = new EntryBatchWriter(256);
  const sinkRequest = new SearchRequest({ messageId: MESSAGE_ID, baseDN: '', scope: 'base', filter, explicitBufferAttributes: sink.attributes });
  feed(parser, bytes, sinkRequest, Math.floor(bytes.length / 2));
  const batch = sink.take();
  check(batch.count === 1, `a search's entry sink received ${batch.count} entries, not 1 (the hook did not run or did not find the request)`);
  const written = batch.text(0);
  check(written === SELF_TEST_ENTRY_JSON, `a search's entry sink received ${shorten(written)}, not ${shorten(SELF_TEST_ENTRY_JSON)}`);

  // As `test`/`schema` do: an ldapts-shaped entry that carries its bytes.
  const plainRequest = new SearchRequest({ messageId: MESSAGE_ID, baseDN: '', scope: 'base', filter });
  const message = feed(parser, bytes, plainRequest);
  const entry: Entry = message.toObject(plainRequest.attributes, plainRequest.explicitBufferAttributes);
  check(rawEntryOf(entry) !== undefined, 'a SearchEntry decoded without a sink does not carry its bytes');
  const json = entryJson(entry);
  check(json === SELF_TEST_ENTRY_JSON, `an entry decoded without a sink gave ${shorten(json)}, not ${shorten(SELF_TEST_ENTRY_JSON)}`);
}

function modifyDnCheck(client: Client): void {
  const send: unknown = Reflect.get(client, '_send');
  const next: unknown = Reflect.get(client, '_nextMessageId');
  check(typeof send === 'function', 'Client._send is missing');
  check(typeof next === 'function', 'Client._nextMessageId is missing');
  const a: unknown = Reflect.apply(next, client, []);
  const b: unknown = Reflect.apply(next, client, []);
  check(typeof a === 'number' && typeof b === 'number' && a !== b, `Client._nextMessageId() returned ${String(a)} then ${String(b)}, not two message ids`);
}

function run(name: string, test: () => void): InternalsCheck {
  try {
    test();
    return { ok: true };
  } catch (err) {
    const why = err instanceof CheckFailed ? err.message : `${name} threw: ${err instanceof Error ? err.message : String(err)}`;
    return { ok: false, failure: why };
  }
}

/** A client that is never connected (the constructor opens nothing). */
function throwawayClient(): Client {
  return new Client({ url: 'ldap://127.0.0.1' });
}

/** The version in ldapts' package.json (its `exports` do not expose the file: found from the entry point). */
export function ldaptsVersion(): string {
  try {
    let dir = new URL('.', import.meta.resolve('ldapts'));
    for (;;) {
      const file = new URL('package.json', dir);
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'ldapts' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // no package.json here: look further up
      }
      const up = new URL('..', dir);
      if (up.href === dir.href) return 'unknown';
      dir = up;
    }
  } catch {
    return 'unknown';
  }
}

/** Runs the checks now (not memoised; `makeClient` for tests). */
export function runLdaptsSelfTest(makeClient: () => Client = throwawayClient): LdaptsSelfTest {
  return {
    ldaptsVersion: ldaptsVersion(),
    fastPath: run('the entry decoder self-test', () => fastPathCheck(makeClient())),
    modifyDn: run('the modifyDN internals check', () => modifyDnCheck(makeClient())),
  };
}

let result: LdaptsSelfTest | undefined;

/** The self-test of this thread (run on first use). */
export function ldaptsSelfTest(): LdaptsSelfTest {
  return (result ??= runLdaptsSelfTest());
}

/** Is the entry decoder on for this thread's clients (the fast path)? */
export function ldaptsFastPath(): boolean {
  return ldaptsSelfTest().fastPath.ok;
}

let reported = false;

/** Runs the self-test (once) and logs one warning per check that failed — once per thread. */
export function reportLdaptsSelfTest(log: Logger): LdaptsSelfTest {
  const r = ldaptsSelfTest();
  if (reported) return r;
  reported = true;
  if (!r.fastPath.ok) {
    log.warn(
      { ldaptsVersion: r.ldaptsVersion, failure: r.fastPath.failure },
      `LDAP fast path OFF: ${r.fastPath.failure ?? 'self-test failed'} (ldapts ${r.ldaptsVersion}; 8.2.0 is tested). Entries are decoded by ldapts itself: slower, and a leading BOM, repeated attribute runs and DN bytes that are not UTF-8 are not kept`,
    );
  }
  if (!r.modifyDn.ok) {
    log.warn(
      { ldaptsVersion: r.ldaptsVersion, failure: r.modifyDn.failure },
      `LDAP rename with deleteOldRdn: false is not available: ${r.modifyDn.failure ?? 'self-test failed'} (ldapts ${r.ldaptsVersion}; 8.2.0 is tested)`,
    );
  }
  return r;
}
