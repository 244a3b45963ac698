/**
 * The ldif adapter does not hold the event loop: a large file loads in slices while other
 * requests are answered, operations on the loading data source wait for the load, and a search
 * that walks a large directory stops between two slices when its deadline fires (the agent's
 * own request runner, `runRequest`, applies the deadline). Ordering of events only, no timings.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { lastValueFrom, NEVER } from 'rxjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DataSourceAdapter } from '../../../src/adapter-kit/adapter.js';
import { createLdifAdapter } from '../../../src/adapters/ldif/index.js';
import { SearchCursor } from '../../../src/adapters/ldif/search.js';
import { runRequest, type RequestDeps } from '../../../src/pipeline/run-request.js';
import type { OutgoingFrame, Request } from '../../../src/protocol/index.js';
import { realisticEntryCount, realisticLdif } from '../../fixtures/ldap/realistic.js';
import { config, ctx, rejection, silent, SMALL, tempDir, writeFiles } from './helpers.js';

const PEOPLE = 8_000;
let bigFile: string;

beforeAll(() => {
  bigFile = join(tempDir(), 'big.ldif');
  writeFileSync(bigFile, [...realisticLdif(PEOPLE)].join(''));
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A logger that turns each line into an event of `events`. */
function recording(events: string[]): pino.Logger {
  return pino({ level: 'trace' }, { write: (line: string) => void events.push(`log:${(JSON.parse(line) as { msg: string }).msg}`) });
}

describe('loading a large file', () => {
  it('other data sources are answered during the load; operations on the loading one wait for it', async () => {
    const events: string[] = [];
    const big = createLdifAdapter('big', config({ files: bigFile, baseDN: 'dc=example,dc=com' }), recording(events));
    const small = createLdifAdapter('small', config({ files: writeFiles({ 'small.ldif': SMALL }), baseDN: 'dc=example,dc=com' }), silent);
    const bigTest = lastValueFrom(big.test(ctx)).then((r) => events.push(`big test: ${(r as { entries: number }).entries}`));
    const bigGet = lastValueFrom(big.get!({ dn: 'uid=p0000001,ou=people,dc=example,dc=com' }, ctx)).then(() => events.push('big get'));
    const smallTest = lastValueFrom(small.test(ctx)).then((r) => events.push(`small test: ${(r as { entries: number }).entries}`));
    await Promise.all([bigTest, bigGet, smallTest]);

    const at = (e: string): number => events.indexOf(e);
    const loaded = at('log:LDIF directory loaded');
    expect(at('small test: 7')).toBeGreaterThan(-1);
    expect(loaded).toBeGreaterThan(at('small test: 7'));
    // The loader reported progress after the other data source had answered: it was still loading.
    expect(events.slice(at('small test: 7'), loaded)).toContain('log:LDIF directory loading');
    // The big data source's own operations were answered once its load was done.
    expect(at(`big test: ${realisticEntryCount(PEOPLE)}`)).toBeGreaterThan(loaded);
    expect(at('big get')).toBeGreaterThan(loaded);
  });

  it('a load error names file:line, also when the file is read in many chunks', async () => {
    const broken = `${[...realisticLdif(2_000)].join('')}dn: uid=late,ou=people,dc=example,dc=com\nobjectClass person\n`;
    const lines = broken.split('\n').length - 1; // the line before the final newline
    const [file] = writeFiles({ 'broken.ldif': broken });
    const a = createLdifAdapter('t', config({ files: file, baseDN: 'dc=example,dc=com' }), silent);
    const e = await rejection(lastValueFrom(a.test(ctx)));
    expect(e.code).toBe('UPSTREAM_ERROR');
    expect(e.message).toContain(`broken.ldif:${lines}: expected 'attribute: value'`);
    expect(e.context.details).toMatchObject({ line: lines });
  });
});

describe('a search on a large directory', () => {
  let adapter: DataSourceAdapter;
  beforeAll(async () => {
    adapter = createLdifAdapter('ds', config({ files: bigFile, baseDN: 'dc=example,dc=com', pageSize: 500 }), silent);
    await lastValueFrom(adapter.test(ctx));
  });

  const deps = (): RequestDeps => ({
    dataSources: new Map([['ds', { adapter, operations: ['search'] }]]),
    limits: { maxConcurrentRequests: 4, maxQueuedRequests: 4, maxRequestTimeoutMs: 60_000, maxFrameBytes: 1 << 20, maxChunkItems: 500, maxConcurrentStreams: 4, streamWindow: 4 },
    log: silent,
  });

  const run = (timeoutMs: number, events: string[]): Promise<OutgoingFrame[]> => {
    const request = { type: 'request', id: 'r1', op: 'search', dataSource: 'ds', params: { filter: '(description=*no such words*)' }, timeoutMs, credit: 4 } as unknown as Request;
    const frames: OutgoingFrame[] = [];
    return new Promise((resolve) => {
      runRequest(request, NEVER, deps()).subscribe({
        next: (f) => {
          frames.push(f);
          const type = 'encoded' in f ? 'chunk' : f.type;
          events.push(type === 'error' ? `error ${(f as { code: string }).code}` : type);
        },
        complete: () => resolve(frames),
      });
    });
  };

  it('a tiny deadline ends it with TIMEOUT and no slice runs after that', async () => {
    const events: string[] = [];
    const step = SearchCursor.prototype.step;
    vi.spyOn(SearchCursor.prototype, 'step').mockImplementation(function (this: SearchCursor, until: number) {
      events.push('slice');
      return step.call(this, until);
    });
    await run(1, events);
    // The loop gets many turns: a search still running would have sliced on.
    for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
    const timeout = events.indexOf('error TIMEOUT');
    expect(timeout).toBeGreaterThan(-1);
    expect(events.filter((e) => e === 'slice').length).toBeGreaterThan(0);
    expect(events.slice(timeout + 1).filter((e) => e === 'slice').length).toBeLessThanOrEqual(1);
    expect(events).not.toContain('end');
  });

  it('without a deadline the same search walks every entry, over many slices, and ends with 0 matches', async () => {
    const events: string[] = [];
    const step = vi.spyOn(SearchCursor.prototype, 'step');
    await run(60_000, events);
    expect(events).toEqual(['end']);
    // More than one slice: the walk gave the event loop turns in between.
    expect(step.mock.calls.length).toBeGreaterThan(1);
  });
});
