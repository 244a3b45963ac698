/**
 * The data-source contract suite — `import { dataSourceContract, runContract } from 'datasync-agent/contract'`.
 * What "a working data source" means, shipped: run it against your own source and a real
 * upstream. Runner-agnostic: named async checks that throw. With vitest:
 *
 * ```ts
 * const suite = dataSourceContract(fixture);
 * beforeAll(() => suite.setup());
 * afterAll(() => suite.teardown());
 * for (const check of suite.checks) it(check.name, () => check.run());
 * ```
 *
 * Guide: docs/adapters.md ("The contract suite").
 */
export { dataSourceContract, runContract } from './suite.js';
export type { ContractCheck, ContractFixture, ContractSuite, SettingsKind } from './fixture.js';
