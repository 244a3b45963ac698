/**
 * The settings of a `type: sql` data source — one type for PostgreSQL and MariaDB/MySQL, told
 * apart by `dialect` — decoded by strict codecs of the adapter kit (an unknown or misspelled key
 * is reported by `check` with its FILE:LINE:COL), their defaults, and the one-line target shown
 * at start-up (the URL's password masked).
 *
 * ```yaml
 * dataSources:
 *   hr:
 *     type: sql
 *     dialect: postgres                 # postgres | mysql (MariaDB and MySQL)
 *     host: db1.example.com
 *     database: hr
 *     user: datasync
 *     password: ${HR_DB_PASSWORD}
 *     tls: { ca: ./hr-ca.pem }          # verify on by default
 *     objectTypes:
 *       users: { table: hr.people, key: id, attributes: { uid: login, mail: email } }
 * ```
 */
import { AnyString, Bool, DurationMs, NonEmptyString, Port, PositiveInt, recordOf, strictObject, t, type DataSourceConfigBase, type Finding } from '../../adapter-kit/index.js';

export type Dialect = 'postgres' | 'mysql';

/** A multi-valued attribute from rows of a child table (`foreignKey` = the entry's key). */
export interface ChildTableValues {
  readonly table: string;
  readonly foreignKey: string;
  readonly column: string;
}
/** A multi-valued attribute from a column holding a list (a PostgreSQL array, or a JSON array). */
export interface ArrayColumnValues {
  readonly arrayColumn: string;
}
export type MultiValued = ChildTableValues | ArrayColumnValues;

export interface ObjectTypeConfig {
  /** A table or view (`schema.table` allowed). Exactly one of `table` and `query`. */
  readonly table?: string;
  /** A read-only `SELECT` (or `WITH … SELECT`) whose rows are the entries: read, never written. */
  readonly query?: string;
  /** The column naming an entry: unique, and the order of keyset paging. */
  readonly key: string;
  /** Attribute → column. Absent: every column, under its own name. */
  readonly attributes?: Readonly<Record<string, string>>;
  readonly multiValued?: Readonly<Record<string, MultiValued>>;
}

export interface SqlTlsConfig {
  /** PEM file of the CA(s) that signed the server's certificate (default: Node's CA list). */
  readonly ca?: string;
  /** PEM files of a client certificate and its key, for servers that ask for one. */
  readonly cert?: string;
  readonly key?: string;
  /** Accept any server certificate (testing only; default false). */
  readonly insecureSkipVerify?: boolean;
}

export interface SqlConfig extends DataSourceConfigBase {
  readonly type: 'sql';
  readonly dialect: Dialect;
  /** `postgres://user:pass@host:5432/db` or `mysql://…` — or the separate keys below. */
  readonly url?: string;
  readonly host?: string;
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  readonly password?: string;
  /** Present: the connection is encrypted (and the server's certificate verified). */
  readonly tls?: SqlTlsConfig;
  readonly poolSize?: number;
  readonly statementTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly pageSize?: number;
  readonly objectTypes: Readonly<Record<string, ObjectTypeConfig>>;
}

export const DEFAULTS = { poolSize: 4, statementTimeoutMs: 30_000, connectTimeoutMs: 10_000, pageSize: 500 } as const;
/** More rows per page would make one page's child-table query exceed the bound-parameter limits. */
export const MAX_PAGE_SIZE = 10_000;

const ChildTable = strictObject({ table: NonEmptyString, foreignKey: NonEmptyString, column: NonEmptyString }, {}, { name: 'child table mapping (table, foreignKey, column)' });
const ArrayColumn = strictObject({ arrayColumn: NonEmptyString }, {}, { name: 'array column mapping (arrayColumn)' });

/** `SELECT …` or `WITH …`, one statement (a trailing `;` is allowed and dropped). */
const READ_ONLY_QUERY = /^\s*(select|with)\b/i;

function checkObjectType(value: Partial<ObjectTypeConfig>, input: Record<string, unknown>): Finding[] {
  const findings: Finding[] = [];
  const hasTable = input['table'] !== undefined;
  const hasQuery = input['query'] !== undefined;
  if (hasTable === hasQuery) findings.push({ path: [], message: "exactly one of 'table' and 'query' is required" });
  if (value.query !== undefined) {
    const q = value.query.trim().replace(/;\s*$/, '');
    if (!READ_ONLY_QUERY.test(q)) findings.push({ path: ['query'], message: 'expected a read-only SELECT (or WITH … SELECT)' });
    else if (q.includes(';')) findings.push({ path: ['query'], message: 'expected one statement (no ;)' });
  }
  return findings;
}

const ObjectType = strictObject(
  { key: NonEmptyString },
  {
    table: NonEmptyString,
    query: NonEmptyString,
    attributes: recordOf(NonEmptyString, 'mapping of attribute to column'),
    multiValued: recordOf(t.union([ChildTable, ArrayColumn], '{ table, foreignKey, column } or { arrayColumn }'), 'mapping of attribute to values'),
  },
  { name: 'object type mapping (table | query, key, attributes?, multiValued?)', check: checkObjectType },
);

const SqlTls = strictObject({}, { ca: NonEmptyString, cert: NonEmptyString, key: NonEmptyString, insecureSkipVerify: Bool }, { name: 'TLS mapping (ca, cert, key, insecureSkipVerify)' });

const URL_SCHEMES: Record<Dialect, readonly string[]> = { postgres: ['postgres:', 'postgresql:'], mysql: ['mysql:', 'mariadb:'] };

function checkSql(value: Partial<SqlConfig>, input: Record<string, unknown>): Finding[] {
  const findings: Finding[] = [];
  if (value.url !== undefined) {
    for (const k of ['host', 'port', 'database', 'user'] as const) {
      if (input[k] !== undefined) findings.push({ path: [k], message: `'${k}' and 'url' exclude each other (put it in the URL)` });
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(value.url);
    } catch {
      findings.push({ path: ['url'], message: 'expected a URL such as postgres://user@host:5432/db' });
    }
    if (parsed !== undefined && value.dialect !== undefined && !URL_SCHEMES[value.dialect].includes(parsed.protocol)) {
      findings.push({ path: ['url'], message: `expected a ${URL_SCHEMES[value.dialect].join(' or ')}// URL for dialect ${value.dialect}` });
    }
  } else if (input['host'] === undefined) {
    findings.push({ path: [], message: "one of 'url' and 'host' is required" });
  }
  if (value.tls !== undefined && (value.tls.cert === undefined) !== (value.tls.key === undefined)) {
    findings.push({ path: ['tls'], message: "'cert' and 'key' go together" });
  }
  if (value.pageSize !== undefined && value.pageSize > MAX_PAGE_SIZE) findings.push({ path: ['pageSize'], message: `at most ${MAX_PAGE_SIZE}` });
  return findings;
}

/** Decodes the settings of one `type: sql` entry (the agent adds `operations` and `isolation`). */
export const SqlSettings: t.Decoder<unknown, Omit<SqlConfig, 'operations' | 'isolation'>> = strictObject(
  {
    type: t.literal('sql'),
    dialect: t.keyof({ postgres: null, mysql: null }, "'postgres' | 'mysql'"),
    objectTypes: recordOf(ObjectType, 'mapping of object type to its table or query', 1),
  },
  {
    url: NonEmptyString,
    host: NonEmptyString,
    port: Port,
    database: NonEmptyString,
    user: NonEmptyString,
    password: AnyString,
    tls: SqlTls,
    poolSize: PositiveInt,
    statementTimeoutMs: DurationMs,
    connectTimeoutMs: DurationMs,
    pageSize: PositiveInt,
  },
  { name: 'sql data source mapping (dialect, url | host…, objectTypes, …)', check: checkSql },
);

/** The TLS files relative to the configuration file's directory. */
export function resolveSqlPaths(config: SqlConfig, resolve: (file: string) => string): SqlConfig {
  const tls = config.tls;
  if (tls === undefined) return config;
  return {
    ...config,
    tls: {
      ...tls,
      ...(tls.ca === undefined ? {} : { ca: resolve(tls.ca) }),
      ...(tls.cert === undefined ? {} : { cert: resolve(tls.cert) }),
      ...(tls.key === undefined ? {} : { key: resolve(tls.key) }),
    },
  };
}

/** The URL with its password replaced by `***` (a URL that does not parse is not shown). */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

const DEFAULT_PORT: Record<Dialect, number> = { postgres: 5432, mysql: 3306 };

/** One line for the start-up summary and `check`: where it connects, never a password. */
export function describeSqlTarget(config: SqlConfig): string {
  const where = config.url !== undefined ? maskUrl(config.url) : `${config.dialect}://${config.user === undefined ? '' : `${config.user}@`}${config.host ?? ''}:${config.port ?? DEFAULT_PORT[config.dialect]}/${config.database ?? ''}`;
  const types = Object.keys(config.objectTypes).join(', ');
  return `${where}${config.tls === undefined ? '' : ' (TLS)'}, object types ${types}`;
}

export const defaultPort = (dialect: Dialect): number => DEFAULT_PORT[dialect];
