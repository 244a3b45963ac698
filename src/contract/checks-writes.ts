/**
 * The write side and the allow-list: an export answers one result per record, in order, and
 * goes on after a failing record; a source whose `operations` leave out export refuses it with
 * OPERATION_NOT_ALLOWED — at the hub, which knows the allow-list from the agent's hello, and at
 * the agent itself when a request reaches it anyway.
 */
import assert from 'node:assert/strict';
import { lastValueFrom, toArray } from 'rxjs';
import { at, expectCoded, skip, type CheckContext } from './check-context.js';
import { SOURCE_NAMES } from './environment.js';
import type { ContractCheck } from './fixture.js';

interface Result {
  readonly index: number;
  readonly ok: boolean;
  readonly code?: unknown;
}

export function writeChecks(ctx: CheckContext): ContractCheck[] {
  return [
    {
      name: 'export answers one result per record, in order, and goes on after a failing record',
      async run() {
        const env = ctx.env();
        const spec = ctx.fixture.export;
        if (spec === undefined) skip('the fixture gives no export records');
        assert.ok(env.supports.includes('export'), `the fixture gives export records, but the adapter does not implement export (supports: ${env.supports.join(', ')})`);
        const records = spec.records();
        const results = (await lastValueFrom(env.hub.export$(at(env, SOURCE_NAMES.ok), records).pipe(toArray<unknown>()))) as Result[];
        assert.deepEqual(
          results.map((r) => r.index),
          records.map((_, i) => i),
          `expected one result per record in order, got indexes ${JSON.stringify(results.map((r) => r.index))}`,
        );
        assert.deepEqual(
          results.filter((r) => !r.ok).map((r) => r.index),
          [spec.failingIndex],
          `expected only record ${spec.failingIndex} to fail, got ${JSON.stringify(results)}`.slice(0, 600),
        );
        assert.equal(typeof results[spec.failingIndex]?.code, 'string', `the failing record's result has no code: ${JSON.stringify(results[spec.failingIndex])}`);
      },
    },
    {
      name: 'operations outside the allow-list are OPERATION_NOT_ALLOWED (at the hub and at the agent)',
      async run() {
        const env = ctx.env();
        const records = ctx.fixture.export?.records().slice(0, 1) ?? [];
        const readOnly = at(env, SOURCE_NAMES.readOnly);
        await expectCoded(lastValueFrom(env.hub.export$(readOnly, records)), 'OPERATION_NOT_ALLOWED', undefined, 'an export to the read-only source through the hub');
        // Past the hub's routing, straight to the agent: its own allow-list must refuse too.
        const spec = { op: 'export' as const, dataSource: SOURCE_NAMES.readOnly, params: {}, timeoutMs: 10_000 };
        await expectCoded(lastValueFrom(env.link().export$(spec, records)), 'OPERATION_NOT_ALLOWED', undefined, 'an export sent to the agent for the read-only source');
      },
    },
  ];
}
