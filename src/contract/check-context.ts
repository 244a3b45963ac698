/**
 * What every contract check works with: the fixture, the running environment (made by the
 * suite's `setup`), and small helpers to address a data source and to assert a coded failure
 * with a message that says what came instead.
 */
import { AssertionError } from 'node:assert/strict';
import { isProtocolError } from '../protocol/errors.js';
import type { ContractEnvironment } from './environment.js';
import { ContractSkip, type ContractFixture } from './fixture.js';

export interface CheckContext {
  readonly fixture: ContractFixture;
  /** The environment; throws when `setup` has not run (or failed). */
  env(): ContractEnvironment;
}

/** Ends a check as skipped: its case does not apply to this fixture. */
export function skip(reason: string): never {
  throw new ContractSkip(reason);
}

/** The address of one of the environment's data sources, for the hub's API. */
export function at(env: ContractEnvironment, dataSource: string): { tenantId: string; dataSource: string } {
  return { tenantId: env.tenantId, dataSource };
}

/** What a settled promise gave, for messages. */
function describeOutcome(outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): string {
  if (outcome.ok) return `an answer: ${JSON.stringify(outcome.value)?.slice(0, 300) ?? 'undefined'}`;
  const e = outcome.error;
  return isProtocolError(e) ? `${e.code} (retryable: ${String(e.retryable)}): ${e.message}` : `a failure that is not a coded error: ${String(e)}`;
}

/** Asserts that `promise` fails with a coded error `code` (and, where given, that retryability). */
export async function expectCoded(promise: Promise<unknown>, code: string, retryable: boolean | undefined, what: string): Promise<void> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const matches = !outcome.ok && isProtocolError(outcome.error) && outcome.error.code === code && (retryable === undefined || outcome.error.retryable === retryable);
  if (matches) return;
  const expected = retryable === undefined ? code : `${code} (retryable: ${String(retryable)})`;
  throw new AssertionError({ message: `${what}: expected ${expected}, got ${describeOutcome(outcome)}` });
}
