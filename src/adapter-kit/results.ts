/**
 * Typed shapes of the `test` and `attributes` answers, so every data source answers the hub in
 * the same form (the built-in LDAP and LDIF sources do; docs/adapters.md).
 */

/** What `test` answers: `ok: true`, where it connected, how long it took, and what it found. */
export interface TestResult {
  readonly ok: true;
  /** Where it connected, no secrets (e.g. `postgres://db1:5432/hr`). */
  readonly target: string;
  /** Connect + authenticate + the probe, in ms. */
  readonly latencyMs: number;
  /** The upstream's product and version, when it says. */
  readonly server?: string;
  readonly [key: string]: unknown;
}

/** One attribute (column, SCIM attribute, LDAP attribute type) as `attributes` lists it. */
export interface AttributeInfo {
  readonly name: string;
  /** Other names of the attribute. */
  readonly aliases: readonly string[];
  /** The upstream's type name (an LDAP syntax, a column type). */
  readonly syntax?: string;
  readonly singleValue: boolean;
  /** A value is always present (NOT NULL, a MUST attribute). */
  readonly required?: boolean;
  /** Written by the upstream only. */
  readonly readOnly?: boolean;
  readonly desc?: string;
  readonly [key: string]: unknown;
}

/** Builds a `test` answer; `startedAt` is a `performance.now()` taken before connecting. */
export function testResult<F extends { readonly target: string; readonly server?: string }>(fields: F & { readonly startedAt: number }): TestResult & Omit<F, 'startedAt'> {
  const { startedAt, ...rest } = fields;
  return { ok: true, latencyMs: Math.round((performance.now() - startedAt) * 10) / 10, ...rest } as TestResult & Omit<F, 'startedAt'>;
}

/** An `attributes` answer: the list sorted by name (case-insensitive), each with `aliases`. */
export function attributeList<A extends { readonly name: string; readonly singleValue: boolean; readonly aliases?: readonly string[] }>(
  attributes: readonly A[],
): (A & AttributeInfo)[] {
  return attributes
    .map((a) => ({ ...a, aliases: a.aliases ?? [] }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }));
}
