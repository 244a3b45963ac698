/**
 * `dataSourceContract(fixture)`: the contract every data source honours, as named checks that
 * throw, runnable by any test runner (or none: `runContract`). `setup` stands up the hub and the
 * agent for the fixture; each check is one statement of the contract; `teardown` closes them
 * and then the fixture.
 */
import { failureChecks } from './checks-failures.js';
import { interruptChecks } from './checks-interrupts.js';
import { readChecks } from './checks-reads.js';
import { writeChecks } from './checks-writes.js';
import type { CheckContext } from './check-context.js';
import { startEnvironment, type ContractEnvironment } from './environment.js';
import { isContractSkip, type ContractCheck, type ContractFixture, type ContractSuite } from './fixture.js';

/** A suite whose checks also report which of them were skipped (their case does not apply). */
interface ReportingSuite extends ContractSuite {
  readonly skipped: ReadonlyMap<string, string>;
}

function suiteOf(fixture: ContractFixture): ReportingSuite {
  let env: ContractEnvironment | undefined;
  const ctx: CheckContext = {
    fixture,
    env: () => {
      if (env === undefined) throw new Error('the contract environment is not running: call setup() first (and see why it failed)');
      return env;
    },
  };
  const skipped = new Map<string, string>();
  /** Runs a check: a skip resolves (recorded); a failure carries the agent's and hub's warnings meanwhile. */
  const wrap = (check: ContractCheck): ContractCheck => ({
    name: check.name,
    async run() {
      const mark = env?.logs.mark() ?? 0;
      try {
        await check.run();
      } catch (err) {
        if (isContractSkip(err)) {
          skipped.set(check.name, err.message);
          return;
        }
        const problems = env?.logs.problemsSince(mark) ?? [];
        if (problems.length > 0 && err instanceof Error) err.message += `\n--- agent and hub warnings during the check ---\n${problems.join('\n')}`;
        throw err;
      }
    },
  });
  const checks = [...readChecks(ctx), ...writeChecks(ctx), ...failureChecks(ctx), ...interruptChecks(ctx)].map(wrap);
  return {
    checks,
    skipped,
    async setup() {
      if (env === undefined) env = await startEnvironment(fixture);
    },
    async teardown() {
      const running = env;
      env = undefined;
      try {
        await running?.close();
      } finally {
        await fixture.close?.();
      }
    },
  };
}

/**
 * The contract suite for one data source. Run `setup()` once, then the checks (each throws when
 * the data source breaks the contract; one whose case does not apply resolves), then `teardown()`.
 */
export function dataSourceContract(fixture: ContractFixture): ContractSuite {
  return suiteOf(fixture);
}

/**
 * Runs the whole suite: resolves with the names of the checks that passed and of those skipped,
 * or rejects with an `AggregateError` listing every check that failed (with its message).
 */
export async function runContract(fixture: ContractFixture): Promise<{ passed: string[]; skipped: string[] }> {
  const suite = suiteOf(fixture);
  const passed: string[] = [];
  const failed: Error[] = [];
  try {
    await suite.setup();
    for (const check of suite.checks) {
      try {
        await check.run();
        if (!suite.skipped.has(check.name)) passed.push(check.name);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        failed.push(new Error(`${check.name}: ${message}`, { cause: err }));
      }
    }
  } finally {
    await suite.teardown();
  }
  const skipped = suite.checks.filter((c) => suite.skipped.has(c.name)).map((c) => `${c.name} (${suite.skipped.get(c.name) ?? ''})`);
  if (failed.length > 0) {
    throw new AggregateError(failed, `data-source contract: ${failed.length} of ${suite.checks.length} checks failed:\n${failed.map((e) => `- ${e.message}`).join('\n')}`);
  }
  return { passed, skipped };
}
