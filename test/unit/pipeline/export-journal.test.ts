import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ExportJournals,
  keyDigest,
  recordHash,
  shouldReplay,
  toJournaledResult,
  type ExportJournalOptions,
  type KeyJournal,
} from '../../../src/pipeline/export-journal.js';
import { ProtocolError, exportKeyDigest } from '../../../src/protocol/index.js';
import { captureLogs, type LogCapture } from '../../helpers/log-capture.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const DAY = 86_400_000;

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A fresh state directory; the journals live in its `exports` subdirectory (not yet created). */
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'datasync-journal-'));
  dirs.push(d);
  return d;
}

function journalsIn(dir: string, options: Partial<ExportJournalOptions> = {}, logs: LogCapture = captureLogs()): ExportJournals {
  return new ExportJournals({ dir, maxAgeMs: 7 * DAY, maxBytes: 1 << 30, fsync: false, ...options }, logs.logger);
}

function fileOf(dir: string, dataSource: string, key: string): string {
  return join(dir, `${keyDigest(dataSource, key)}.jsonl`);
}

function lines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function rejection(p: Promise<unknown>): Promise<ProtocolError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProtocolError);
  return err as ProtocolError;
}

function thrown(f: () => void): ProtocolError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a throw');
}

const h = (record: unknown): string => recordHash(record);

describe('keyDigest and recordHash', () => {
  it('digests a (data source, key) pair stably into 32 hex characters, as the hub does', () => {
    expect(keyDigest('hr', 'order-42')).toBe('ce38ed1380f1ade1db88c3e1d43855f5');
    expect(ExportJournals.digest('hr', 'order-42')).toBe(keyDigest('hr', 'order-42'));
    expect(keyDigest('hr', 'order-42')).toBe(exportKeyDigest('hr', 'order-42'));
    expect(keyDigest('a', 'bc')).not.toBe(keyDigest('ab', 'c'));
    expect(keyDigest('other', 'order-42')).not.toBe(keyDigest('hr', 'order-42'));
    expect(keyDigest('hr', '../../etc/passwd\n')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('hashes canonical JSON: key order does not matter, values and array order do', () => {
    expect(recordHash({ b: 2, a: 1 })).toBe(createHash('sha256').update('{"a":1,"b":2}').digest('hex'));
    const one = { dn: 'cn=x', attributes: { sn: ['X'], cn: ['x', 'y'], nested: { z: 1, a: [{ q: 1, p: 2 }] } } };
    const reordered = { attributes: { nested: { a: [{ p: 2, q: 1 }], z: 1 }, cn: ['x', 'y'], sn: ['X'] }, dn: 'cn=x' };
    expect(recordHash(reordered)).toBe(recordHash(one));
    expect(recordHash({ ...one, dn: 'cn=y' })).not.toBe(recordHash(one));
    expect(recordHash({ ...one, attributes: { ...one.attributes, cn: ['y', 'x'] } })).not.toBe(recordHash(one));
    expect(recordHash({ ...one, attributes: { ...one.attributes, sn: ['X '] } })).not.toBe(recordHash(one));
    expect(recordHash({ a: '1' })).not.toBe(recordHash({ a: 1 }));
    expect(recordHash(one)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps a "__proto__" key of a parsed record as a key', () => {
    const a = JSON.parse('{"__proto__":{"x":1},"b":2}') as unknown;
    const b = JSON.parse('{"b":2,"__proto__":{"x":1}}') as unknown;
    expect(recordHash(a)).toBe(recordHash(b));
    expect(recordHash(a)).not.toBe(recordHash({ b: 2 }));
  });

  it('replays successes and final failures, not retryable failures', () => {
    expect(shouldReplay({ ok: true })).toBe(true);
    expect(shouldReplay({ ok: false, code: 'ALREADY_EXISTS', message: 'exists', retryable: false })).toBe(true);
    expect(shouldReplay({ ok: false, code: 'UPSTREAM_UNAVAILABLE', message: 'down', retryable: true })).toBe(false);
    expect(toJournaledResult({ index: 3, ok: true, data: { dn: 'cn=x' } })).toEqual({ ok: true, data: { dn: 'cn=x' } });
    expect(toJournaledResult({ index: 3, ok: true })).toEqual({ ok: true });
    expect(toJournaledResult({ index: 3, ok: false, code: 'TIMEOUT', message: 't', retryable: true })).toEqual({
      ok: false,
      code: 'TIMEOUT',
      message: 't',
      retryable: true,
    });
  });
});

describe('a key journal', () => {
  it('round-trips intents and outcomes through the file, and never stores the raw key', async () => {
    const dir = join(stateDir(), 'exports');
    const journals = journalsIn(dir);
    const key = 'secret-ish caller key';
    const j = await journals.open('hr', key);
    expect(j.lookup(0)).toEqual({ state: 'none' });
    const fail = { ok: false, code: 'ALREADY_EXISTS', message: 'entry exists', retryable: false } as const;
    j.intent(0, h('r0'));
    j.outcome(0, h('r0'), { ok: true, data: { dn: 'cn=r0' } });
    j.intent(1, h('r1'));
    j.outcome(1, h('r1'), fail);
    j.intent(2, h('r2'));
    expect(j.lookup(1)).toEqual({ state: 'outcome', hash: h('r1'), result: fail });
    await j.close();

    const again = await journalsIn(dir).open('hr', key);
    expect(again.lookup(0)).toEqual({ state: 'outcome', hash: h('r0'), result: { ok: true, data: { dn: 'cn=r0' } } });
    expect(again.lookup(1)).toEqual({ state: 'outcome', hash: h('r1'), result: fail });
    expect(again.lookup(2)).toEqual({ state: 'intent', hash: h('r2') });
    expect(again.lookup(3)).toEqual({ state: 'none' });
    await again.close();

    const file = fileOf(dir, 'hr', key);
    expect(readdirSync(dir)).toEqual([`${keyDigest('hr', key)}.jsonl`]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain(key);
    const [header, ...entries] = lines(file);
    expect(header).toEqual({ v: 1, dataSource: 'hr', keyDigest: keyDigest('hr', key), created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown });
    expect(entries).toEqual([
      { t: 'i', n: 0, h: h('r0') },
      { t: 'o', n: 0, h: h('r0'), r: { ok: true, data: { dn: 'cn=r0' } } },
      { t: 'i', n: 1, h: h('r1') },
      { t: 'o', n: 1, h: h('r1'), r: fail },
      { t: 'i', n: 2, h: h('r2') },
    ]);
  });

  it('lets a record with a retryable failure be attempted again, and keeps the last outcome', async () => {
    const dir = stateDir();
    const journals = journalsIn(dir);
    const j = await journals.open('hr', 'k');
    j.intent(0, h('r0'));
    j.outcome(0, h('r0'), { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: 'down', retryable: true });
    await j.close();
    const j2 = await journals.open('hr', 'k');
    j2.intent(0, h('r0'));
    expect(j2.lookup(0)).toEqual({ state: 'intent', hash: h('r0') });
    j2.outcome(0, h('r0'), { ok: true });
    await j2.close();
    const j3 = await journals.open('hr', 'k');
    expect(j3.lookup(0)).toEqual({ state: 'outcome', hash: h('r0'), result: { ok: true } });
    await j3.close();
  });

  it('refuses calls that would break the journal rules, and leaves the file readable', async () => {
    const dir = stateDir();
    const journals = journalsIn(dir);
    const j = await journals.open('hr', 'k');
    j.intent(0, h('r0'));
    j.outcome(0, h('r0'), { ok: true });
    for (const call of [
      () => j.intent(0, h('r0')), // a replayable outcome is never re-applied
      () => j.intent(0, h('changed')),
      () => j.outcome(1, h('r1'), { ok: true }), // no outcome without its intent
      () => j.intent(-1, h('r1')),
      () => j.intent(1.5, h('r1')),
      () => j.intent(1, 'not-a-hash'),
    ]) {
      const err = thrown(call);
      expect(err.code).toBe('INTERNAL');
      expect(err.retryable).toBe(false);
    }
    j.intent(1, h('r1'));
    expect(thrown(() => j.outcome(1, h('other'), { ok: true })).message).toMatch(/another content hash/);
    expect(thrown(() => j.outcome(1, h('r1'), { ok: true, data: 1n })).message).toMatch(/not JSON/);
    await j.close();
    await j.close(); // idempotent
    expect(thrown(() => j.intent(2, h('r2'))).message).toMatch(/closed/);
    const again = await journals.open('hr', 'k');
    expect(again.lookup(0).state).toBe('outcome');
    expect(again.lookup(1)).toEqual({ state: 'intent', hash: h('r1') });
    await again.close();
  });

  it('answers BUSY while the key is open, also to a concurrent open, and opens again after close', async () => {
    const journals = journalsIn(stateDir());
    const [a, b] = await Promise.allSettled([journals.open('hr', 'k'), journals.open('hr', 'k')]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    const busy = (b as PromiseRejectedResult).reason as ProtocolError;
    expect(busy).toBeInstanceOf(ProtocolError);
    expect(busy.code).toBe('BUSY');
    expect(busy.retryable).toBe(true);
    const other = await journals.open('hr', 'other key'); // another key is not blocked
    expect((await rejection(journals.open('hr', 'k'))).code).toBe('BUSY');
    await (a as PromiseFulfilledResult<KeyJournal>).value.close();
    await other.close();
    await (await journals.open('hr', 'k')).close();
  });

  it('works with fsync on', async () => {
    const dir = join(stateDir(), 'exports');
    const journals = journalsIn(dir, { fsync: true });
    const j = await journals.open('hr', 'k');
    for (let n = 0; n < 20; n += 1) {
      j.intent(n, h(n));
      if (n < 19) j.outcome(n, h(n), { ok: true });
    }
    await j.close();
    const again = await journals.open('hr', 'k');
    expect(again.lookup(18)).toEqual({ state: 'outcome', hash: h(18), result: { ok: true } });
    expect(again.lookup(19)).toEqual({ state: 'intent', hash: h(19) });
    await again.close();
  });
});

describe('reading a journal back', () => {
  async function written(dir: string, logs?: LogCapture): Promise<string> {
    const j = await journalsIn(dir, {}, logs).open('hr', 'k');
    j.intent(0, h('r0'));
    j.outcome(0, h('r0'), { ok: true });
    j.intent(1, h('r1'));
    await j.close();
    return fileOf(dir, 'hr', 'k');
  }

  it('ignores and cuts off a torn last line, logging it, and appends cleanly after it', async () => {
    for (const torn of [`{"t":"o","n":1,"h":"${h('r1')}","r":{"o`, `{"t":"o","n":1,"h":"${h('r1')}","r":{"ok":true}}`]) {
      const dir = stateDir();
      const file = await written(dir);
      const size = statSync(file).size;
      appendFileSync(file, torn);
      const logs = captureLogs();
      const journals = journalsIn(dir, {}, logs);
      const j = await journals.open('hr', 'k');
      expect(j.lookup(1)).toEqual({ state: 'intent', hash: h('r1') });
      expect(statSync(file).size).toBe(size);
      const warning = logs.records().find((r) => r['msg'] === 'export journal: cutting off a torn last line (a crash during a write)');
      expect(warning).toMatchObject({ file, bytes: Buffer.byteLength(torn) });
      j.outcome(1, h('r1'), { ok: true });
      await j.close();
      const again = await journals.open('hr', 'k');
      expect(again.lookup(1)).toEqual({ state: 'outcome', hash: h('r1'), result: { ok: true } });
      await again.close();
    }
  });

  it('starts a new journal over an empty file or a torn header (no entry can follow either)', async () => {
    for (const content of ['', '{"v":1,"dataSou']) {
      const dir = stateDir();
      mkdirSync(dir, { recursive: true });
      const file = fileOf(dir, 'hr', 'k');
      writeFileSync(file, content);
      const j = await journalsIn(dir).open('hr', 'k');
      expect(j.lookup(0)).toEqual({ state: 'none' });
      j.intent(0, h('r0'));
      await j.close();
      expect(lines(file).map((l) => l['v'] ?? l['t'])).toEqual([1, 'i']);
    }
  });

  it('refuses a wrong header or a corrupt line with a coded INTERNAL error naming the file, and leaves the file alone', async () => {
    const header = (o: Record<string, unknown>): string =>
      `${JSON.stringify({ v: 1, dataSource: 'hr', keyDigest: keyDigest('hr', 'k'), created: new Date().toISOString(), ...o })}\n`;
    const intent = `{"t":"i","n":0,"h":"${h('r0')}"}\n`;
    const cases: Array<[string, RegExp]> = [
      [header({ v: 2 }) + intent, /unsupported journal version 2/],
      [header({ dataSource: 'other' }) + intent, /another data source/],
      [header({ keyDigest: keyDigest('hr', 'other') }), /another key digest/],
      ['not json\n' + intent, /first line is not JSON/],
      ['[1]\n', /not a journal header/],
      [header({}) + intent + 'garbage\n' + intent, /line 3 is not a journal entry/],
      [header({}) + `{"t":"o","n":0,"h":"${h('r0')}","r":{"ok":true}}\n`, /line 2: outcome of record 0 without its intent/],
      [header({}) + intent + `{"t":"o","n":0,"h":"${h('r0')}","r":{"ok":"yes"}}\n`, /line 3 is not a journal entry/],
      [header({}) + intent + `{"t":"i","n":0,"h":"${h('changed')}"}\n`, /line 3: record 0 was journaled with another content hash/],
    ];
    for (const [content, why] of cases) {
      const dir = stateDir();
      const file = fileOf(dir, 'hr', 'k');
      writeFileSync(file, content);
      const logs = captureLogs();
      const journals = journalsIn(dir, {}, logs);
      const err = await rejection(journals.open('hr', 'k'));
      expect(err.code).toBe('INTERNAL');
      expect(err.retryable).toBe(false);
      expect(err.message).toContain(file);
      expect(err.message).toMatch(why);
      expect(logs.records().some((r) => r['msg'] === 'export journal refused' && r['file'] === file)).toBe(true);
      // Refused again (not BUSY: a failed open releases the key), and never rewritten.
      expect((await rejection(journals.open('hr', 'k'))).code).toBe('INTERNAL');
      expect(readFileSync(file, 'utf8')).toBe(content);
    }
  });

  it('reports an unusable directory as a retryable INTERNAL error naming it', async () => {
    const base = stateDir();
    writeFileSync(join(base, 'file'), '');
    const dir = join(base, 'file', 'exports');
    const journals = journalsIn(dir);
    const err = await rejection(journals.open('hr', 'k'));
    expect(err.code).toBe('INTERNAL');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(dir);
    expect(err.message).toMatch(/ENOTDIR/);
    expect((await rejection(journals.open('hr', 'k'))).code).toBe('INTERNAL');
  });
});

describe('pruning and listing', () => {
  async function journalWith(journals: ExportJournals, key: string, records: number): Promise<KeyJournal> {
    const j = await journals.open('hr', key);
    for (let n = 0; n < records; n += 1) {
      j.intent(n, h(n));
      j.outcome(n, h(n), { ok: true });
    }
    return j;
  }

  function age(file: string, ms: number): void {
    const t = new Date(Date.now() - ms);
    utimesSync(file, t, t);
  }

  it('deletes journals older than maxAge, never an open one, also when one is closed', async () => {
    const dir = stateDir();
    const logs = captureLogs();
    const journals = journalsIn(dir, { maxAgeMs: DAY }, logs);
    await (await journalWith(journals, 'old', 2)).close();
    await (await journalWith(journals, 'fresh', 2)).close();
    const open = await journalWith(journals, 'old but open', 2);
    writeFileSync(join(dir, 'notes.txt'), 'not a journal');
    age(fileOf(dir, 'hr', 'old'), 2 * DAY);
    age(fileOf(dir, 'hr', 'old but open'), 2 * DAY);
    age(join(dir, 'notes.txt'), 30 * DAY);

    await journals.prune();
    expect(readdirSync(dir).sort()).toEqual(
      [`${keyDigest('hr', 'fresh')}.jsonl`, `${keyDigest('hr', 'old but open')}.jsonl`, 'notes.txt'].sort(),
    );
    expect(logs.records().filter((r) => r['msg'] === 'export journal deleted')).toMatchObject([{ file: fileOf(dir, 'hr', 'old'), reason: 'maxAge' }]);

    await open.close(); // closing prunes
    expect(readdirSync(dir).sort()).toEqual([`${keyDigest('hr', 'fresh')}.jsonl`, 'notes.txt'].sort());
  });

  it('deletes the oldest journals first while the total is over maxBytes, skipping an open one', async () => {
    const dir = stateDir();
    const setup = journalsIn(dir);
    await (await journalWith(setup, 'a', 5)).close();
    const size = statSync(fileOf(dir, 'hr', 'a')).size;
    const journals = journalsIn(dir, { maxBytes: 2 * size + 10 });
    const open = await journals.open('hr', 'a');
    for (const key of ['b', 'c', 'd']) await (await journalWith(setup, key, 5)).close();
    for (const key of ['b', 'c', 'd']) expect(statSync(fileOf(dir, 'hr', key)).size).toBe(size);
    age(fileOf(dir, 'hr', 'a'), 4 * 3_600_000);
    age(fileOf(dir, 'hr', 'b'), 3 * 3_600_000);
    age(fileOf(dir, 'hr', 'c'), 2 * 3_600_000);
    age(fileOf(dir, 'hr', 'd'), 1 * 3_600_000);
    await journals.prune();
    expect(readdirSync(dir).sort()).toEqual([`${keyDigest('hr', 'a')}.jsonl`, `${keyDigest('hr', 'd')}.jsonl`].sort());
    await open.close();
    // Closed, 'a' is the oldest of two that fit: both stay.
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('prunes when constructed', async () => {
    const dir = stateDir();
    await (await journalWith(journalsIn(dir), 'old', 1)).close();
    age(fileOf(dir, 'hr', 'old'), 8 * DAY);
    const journals = journalsIn(dir);
    await journals.prune(); // shares the construction's pass, still waiting to start
    expect(readdirSync(dir)).toEqual([]);
  });

  it('lists the digests on disk, newest first, at most limit', async () => {
    const dir = stateDir();
    const journals = journalsIn(dir);
    expect(journals.recent(10)).toEqual([]); // no directory yet
    for (const key of ['a', 'b', 'c']) await (await journalWith(journals, key, 1)).close();
    age(fileOf(dir, 'hr', 'a'), 1000);
    age(fileOf(dir, 'hr', 'b'), 3000);
    age(fileOf(dir, 'hr', 'c'), 2000);
    writeFileSync(join(dir, 'README'), '');
    expect(journals.recent(10)).toEqual([keyDigest('hr', 'a'), keyDigest('hr', 'c'), keyDigest('hr', 'b')]);
    expect(journals.recent(2)).toEqual([keyDigest('hr', 'a'), keyDigest('hr', 'c')]);
    expect(journals.recent(0)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Real processes: the child runs the BUILT module (dist/), as the agent does. The project's
// globalSetup (test/helpers/fresh-dist.ts) rebuilds dist/ first when a source is newer.

const CHILD = join(ROOT, 'dist', 'test', 'fixtures', 'journal-child.js');

beforeAll(() => {
  for (const name of ['export-journal', 'export-journal-file']) {
    const built = join(ROOT, 'dist', 'src', 'pipeline', `${name}.js`);
    const source = join(ROOT, 'src', 'pipeline', `${name}.ts`);
    const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (builtAt < statSync(source).mtimeMs) throw new Error(`${built} is missing or older than its source: run \`npm run build\` first`);
  }
  // Node 20 cannot run TypeScript: transpile the fixture next to where tsc would put it, so its
  // relative imports of src/… resolve to dist/src/….
  const source = readFileSync(join(ROOT, 'test', 'fixtures', 'journal-child.ts'), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  mkdirSync(dirname(CHILD), { recursive: true });
  writeFileSync(CHILD, js.outputText);
});

interface Child {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves at the first "ready" line; rejects if the child exits before. */
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
}

function startChild(args: string[], fileSizeLimitKiB?: number): Child {
  const argv = [CHILD, ...args];
  const child =
    fileSizeLimitKiB === undefined
      ? spawn(process.execPath, argv, { cwd: ROOT })
      : spawn('bash', ['-c', `ulimit -f ${fileSizeLimitKiB} && exec "$0" "$@"`, process.execPath, ...argv], { cwd: ROOT });
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    void exited.then(({ code, signal }) => reject(new Error(`child exited (${code ?? signal}) before ready: ${err}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited, stdout: () => out };
}

async function kill(c: Child): Promise<void> {
  c.child.kill('SIGKILL');
  expect((await c.exited).signal).toBe('SIGKILL');
}

describe('a killed or starved process', () => {
  it('SIGKILL after intent 0, outcome 0, intent 1: the journal holds exactly those', async () => {
    const dir = stateDir();
    const c = startChild(['steps', dir]);
    await c.ready;
    await kill(c);
    const j = await journalsIn(dir).open('ds', 'key-steps');
    expect(j.lookup(0)).toEqual({ state: 'outcome', hash: h({ dn: 'cn=a' }), result: { ok: true, data: { dn: 'cn=a' } } });
    expect(j.lookup(1)).toEqual({ state: 'intent', hash: h({ dn: 'cn=b' }) });
    expect(j.lookup(2)).toEqual({ state: 'none' });
    await j.close();
  }, 60_000);

  it('SIGKILL at a random point of a write loop, five times over: reads back, every outcome has its intent', async () => {
    const dir = stateDir();
    const file = fileOf(dir, 'ds', 'key-loop');
    const unknown = new Set<number>();
    let before = 0;
    for (let round = 0; round < 5; round += 1) {
      const c = startChild(['loop', dir]);
      await c.ready;
      // Only chooses the point of the kill; nothing below depends on how long it ran.
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      await kill(c);

      // Records 0.. up to the first unjournaled one: all written, except the one in flight at
      // each kill (intent only; the next child, like a resend, leaves it alone).
      const j = await journalsIn(dir).open('ds', 'key-loop');
      const states: string[] = [];
      while (j.lookup(states.length).state !== 'none') states.push(j.lookup(states.length).state);
      await j.close();
      const inFlight = states.flatMap((state, n) => (state === 'intent' && !unknown.has(n) ? [n] : []));
      expect(inFlight.length).toBeLessThanOrEqual(1);
      if (inFlight[0] !== undefined) {
        expect(inFlight[0]).toBe(states.length - 1);
        unknown.add(inFlight[0]);
      }
      expect(states.length).toBeGreaterThanOrEqual(before + 10); // "ready" came after 10 records
      before = states.length;

      const seen = new Map<number, unknown>();
      for (const line of lines(file).slice(1)) {
        if (line['t'] === 'i') seen.set(line['n'] as number, line['h']);
        else expect(seen.get(line['n'] as number)).toBe(line['h']);
      }
    }
  }, 60_000);

  for (const variant of ['intents-only', 'intents and outcomes']) {
    it(`a full disk (ulimit -f, ${variant}): the write throws a retryable INTERNAL error and leaves no partial line`, async () => {
      const dir = stateDir();
      const c = startChild(['full', dir, variant], 4);
      expect((await c.exited).code).toBe(0);
      const report = JSON.parse(c.stdout()) as { failed: number; step: string; code: string; retryable: boolean; message: string; state: string };
      if (variant === 'intents-only') expect(report.step).toBe('intent');
      expect(report).toMatchObject({ code: 'INTERNAL', retryable: true, state: report.step === 'intent' ? 'none' : 'intent' });
      expect(report.message).toContain(dir);
      expect(report.message).toContain('EFBIG');
      expect(report.failed).toBeGreaterThan(5);

      const j = await journalsIn(dir).open('ds', 'key-full');
      for (let n = 0; n < report.failed; n += 1) expect(j.lookup(n).state).toBe(variant === 'intents-only' ? 'intent' : 'outcome');
      expect(j.lookup(report.failed).state).toBe(report.state);
      await j.close();
      expect(readFileSync(fileOf(dir, 'ds', 'key-full'), 'utf8').endsWith('\n')).toBe(true);
    }, 30_000);
  }
});
