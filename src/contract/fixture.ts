/**
 * What a data source hands the contract suite (`ContractFixture`) and what the suite hands back
 * (`ContractSuite`: named checks that throw). The fixture describes a running upstream the way a
 * user would configure it — settings as a `dataSources` entry — plus a probe of the upstream's
 * own request count, so the suite can see a cancelled search stop reading.
 */
import type { DataSourceDefinition } from '../adapter-kit/define.js';
import type { DataSourceConfigBase } from '../config/data-source-registry.js';

/** The three kinds of `dataSources` entry the suite configures from a fixture. */
export type SettingsKind = 'ok' | 'badCredentials' | 'unreachable';

export interface ContractFixture<C extends DataSourceConfigBase = DataSourceConfigBase> {
  /** What `defineDataSource` returned. */
  readonly definition: DataSourceDefinition<C>;
  /**
   * Settings of one `dataSources` entry, as YAML would give them (`type` included; relative file
   * names are resolved against the working directory). `undefined`: the case does not apply to
   * this source, and its check is reported as skipped. `ok` without `operations` allows every
   * operation the adapter supports.
   */
  settings(kind: SettingsKind): Record<string, unknown> | undefined;
  /** A search matching exactly `count` entries, enough for at least 3 pages; `total`: the `end.total` the upstream reports. */
  readonly search: { readonly params: Record<string, unknown>; readonly count: number; readonly total?: number };
  /** A get that finds one entry, and a predicate recognising it. */
  readonly get: { readonly params: Record<string, unknown>; matches(result: unknown): boolean };
  /** Export records of which the one at `failingIndex` fails and the others succeed; absent: export checks are skipped. */
  readonly export?: { records(): unknown[]; readonly failingIndex: number };
  /**
   * Upstream requests so far, in the source's own unit (LDAP page requests, HTTP GETs, lines
   * read): lets the checks see the reads stop after a cancel or a lost connection.
   */
  upstreamRequests(): number;
  /** Registration origin of `definition` (default: the origin it is already registered with, else "datasync-agent contract suite"). */
  readonly origin?: string;
  /** Called by `teardown` after the hub and agent are closed. */
  close?(): Promise<void>;
}

/** One named check: `run` resolves when the contract holds and throws (an assertion error) when not. */
export interface ContractCheck {
  readonly name: string;
  run(): Promise<void>;
}

/** The suite for one fixture: `setup` once, any of the checks (in order), `teardown` once. */
export interface ContractSuite {
  setup(): Promise<void>;
  readonly checks: readonly ContractCheck[];
  teardown(): Promise<void>;
}

/**
 * Thrown by a check whose case does not apply to the fixture (no export records, no
 * `badCredentials` settings, an operation the adapter does not implement). `runContract` reports
 * it as skipped; under a test runner the check passes with nothing asserted.
 */
export class ContractSkip extends Error {
  override readonly name = 'ContractSkip';
}

export function isContractSkip(err: unknown): err is ContractSkip {
  return err instanceof ContractSkip;
}
