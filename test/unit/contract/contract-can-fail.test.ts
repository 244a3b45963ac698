/**
 * The contract suite's own test: a sound source passes it (skipping what it does not
 * implement), and a source whose page source goes on reading its upstream after close() fails
 * exactly the two checks made for that — cancel mid-page and disconnect mid-query. Without the
 * second half, those checks could pass whatever the adapter did.
 */
import { describe, expect, it } from 'vitest';
import { dataSourceContract, runContract, type ContractFixture } from '../../../src/contract/index.js';
import { MEMORY_PASSWORD, memoryPageReads, memorySource } from './memory-source.js';

const ITEMS = 20_000;
const PAGE_SIZE = 10;

function fixture(leak: boolean): ContractFixture {
  const settings = { type: 'contract-memory', items: ITEMS, pageSize: PAGE_SIZE, password: MEMORY_PASSWORD, leak };
  return {
    definition: memorySource,
    settings: (kind) =>
      kind === 'ok' ? settings : kind === 'badCredentials' ? { ...settings, password: 'wrong-password' } : { ...settings, reachable: false },
    search: { params: {}, count: ITEMS },
    get: { params: { index: 42 }, matches: (r) => (r as { key?: unknown } | null)?.key === 'i42' },
    export: { records: () => [{ key: 'a' }, { key: 'b', refuse: true }, { key: 'c' }], failingIndex: 1 },
    upstreamRequests: memoryPageReads,
  };
}

const CANCEL = 'cancel mid-page closes the page source and stops the upstream requests';
const DISCONNECT = 'disconnect mid-query closes the page source, stops the upstream requests, and the agent serves again after reconnecting';

describe('the shipped contract suite', () => {
  it('passes a sound source, skipping what it does not implement', { timeout: 60_000 }, async () => {
    const { passed, skipped } = await runContract(fixture(false));
    expect(skipped).toEqual([expect.stringMatching(/^schema describes the data .*\(the adapter does not implement schema\)$/)]);
    expect(passed).toContain(CANCEL);
    expect(passed).toContain(DISCONNECT);
    expect(passed).toHaveLength(10);
  });

  it('fails the cancel and disconnect checks of a page source that keeps reading after close()', { timeout: 60_000 }, async () => {
    const outcome = await runContract(fixture(true)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(AggregateError);
    const failures = (outcome as AggregateError).errors.map((e) => String((e as Error).message));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatch(new RegExp(`^${CANCEL}: the upstream kept being read after the cancel: upstreamRequests\\(\\) was \\d+ at close\\(\\)`));
    expect(failures[1]).toMatch(new RegExp(`^${DISCONNECT}: the upstream kept being read after the connection dropped`));
  });

  it('runs under a test runner as named checks: a failing check throws', { timeout: 60_000 }, async () => {
    const suite = dataSourceContract(fixture(true));
    await suite.setup();
    try {
      const cancel = suite.checks.find((c) => c.name === CANCEL);
      expect(cancel).toBeDefined();
      await expect(cancel?.run()).rejects.toThrow(/the upstream kept being read after the cancel/);
      // The sound checks of the same suite still pass.
      await suite.checks.find((c) => c.name === 'test answers ok')?.run();
    } finally {
      await suite.teardown();
    }
  });
});
