/**
 * What one configured SQL data source holds for its whole life: its driver and pool (loaded on
 * first use), its object types' mappings, the attribute index of each object type (built on
 * first use: for a type without configured `attributes` it needs the columns the server reports
 * for its table or query), and its error tables.
 */
import type { Logger } from 'pino';
import { ProtocolError, type ProtocolErrorContext } from '../../adapter-kit/index.js';
import type { SqlConfig } from './config.js';
import { withSession, type SqlDriver } from './driver.js';
import { loadDriver } from './load-driver.js';
import { sqlErrorTables, type ToProtocolError } from './errors.js';
import { AttributeIndex, mappingsOf, type ObjectTypeMapping } from './mapping.js';
import { probeStatement } from './queries.js';

export class SqlSource {
  readonly mappings: ReadonlyMap<string, ObjectTypeMapping>;
  readonly errors: { readonly read: ToProtocolError; readonly write: ToProtocolError };
  private driverPromise: Promise<SqlDriver> | undefined;
  private readonly indexes = new Map<string, Promise<AttributeIndex>>();
  private closed = false;

  constructor(
    readonly config: SqlConfig,
    readonly log: Logger,
  ) {
    this.mappings = mappingsOf(config);
    const secrets = [config.password, config.url === undefined ? undefined : safeUrlPassword(config.url)].filter((s): s is string => s !== undefined && s !== '');
    this.errors = sqlErrorTables(secrets);
  }

  /** The driver, loaded (and its pool created) on the first call. */
  driver(): Promise<SqlDriver> {
    if (this.closed) return Promise.reject(new ProtocolError('UPSTREAM_UNAVAILABLE', 'the data source is closed'));
    this.driverPromise ??= loadDriver(this.config, this.log).catch((err: unknown) => {
      this.driverPromise = undefined;
      throw err;
    });
    return this.driverPromise;
  }

  /** The mapping of an object type; BAD_REQUEST naming the configured ones when unknown. */
  mapping(objectType: string, context: ProtocolErrorContext): ObjectTypeMapping {
    const m = this.mappings.get(objectType);
    if (m === undefined) throw new ProtocolError('BAD_REQUEST', `unknown objectType ${JSON.stringify(objectType)} (configured: ${[...this.mappings.keys()].join(', ')})`, context);
    return m;
  }

  /** The attribute index of an object type (its columns probed once when no attributes are configured). */
  index(mapping: ObjectTypeMapping, signal?: AbortSignal): Promise<AttributeIndex> {
    if (mapping.attributes !== undefined) return Promise.resolve(new AttributeIndex(mapping, []));
    let known = this.indexes.get(mapping.name);
    if (known === undefined) {
      known = this.driver()
        .then((driver) => withSession(driver, signal, (s) => s.run(probeStatement(driver.dialect, mapping))))
        .then((r) => new AttributeIndex(mapping, r.columns));
      known.catch(() => this.indexes.delete(mapping.name));
      this.indexes.set(mapping.name, known);
    }
    return known;
  }

  async close(): Promise<void> {
    this.closed = true;
    const d = this.driverPromise;
    this.driverPromise = undefined;
    if (d !== undefined) await (await d.catch(() => undefined))?.close();
  }
}

function safeUrlPassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return undefined;
  }
}
