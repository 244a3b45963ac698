/**
 * Reusable io-ts codecs for configuration files. The codecs are the schema: their
 * names are what an error says was expected, so they read as plain English.
 *
 * Numbers and booleans are also accepted as strings (`"15000"`, `"true"`): a value that comes
 * from `${ENV}` interpolation is always a string.
 */
import * as t from 'io-ts';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { contextPath } from '../support/io-ts-report.js';
import { isSecretPath } from '../support/secret-keys.js';
import { showValue } from '../support/show-value.js';
import { proxyUrlProblem } from '../support/proxy-url.js';

// ---------------------------------------------------------------------------------------------
// Decode-only building block

/**
 * A codec whose decoded value is also its encoded form. `is` re-validates, which holds for
 * every configuration value (defaults and normalisations decode to themselves).
 */
export function decoder<A>(name: string, validate: t.Validate<unknown, A>): t.Type<A, A, unknown> {
  return new t.Type<A, A, unknown>(name, (u): u is A => isRight(validate(u, [])), validate, t.identity);
}

function toNumber(u: unknown): unknown {
  return typeof u === 'string' && /^\s*-?\d+\s*$/.test(u) ? Number(u) : u;
}

function integer<A extends number>(name: string, ok: (n: number) => boolean): t.Type<A, A, unknown> {
  const valid = (n: unknown): n is A => typeof n === 'number' && Number.isSafeInteger(n) && ok(n);
  return decoder<A>(name, (u, c) => {
    const n = toNumber(u);
    return valid(n) ? t.success(n) : t.failure(u, c);
  });
}

function text<A extends string>(name: string, ok: (s: string) => boolean): t.Type<A, A, unknown> {
  return decoder<A>(name, (u, c) => (typeof u === 'string' && ok(u) ? t.success(u as A) : t.failure(u, c, quoteItHint(name, u, c))));
}

/**
 * A number or boolean where text is expected (`password: 1`, `userName: 123`) is what YAML makes
 * of an unquoted value: the message says to quote it. A secret is never shown, not even here.
 */
function quoteItHint(name: string, u: unknown, c: t.Context): string | undefined {
  if (typeof u !== 'number' && typeof u !== 'boolean') return undefined;
  const path = contextPath(c);
  const key = path[path.length - 1] ?? 'key';
  const kind = typeof u === 'number' ? 'a number' : 'a boolean';
  return isSecretPath(path)
    ? `expected ${name}, got ${showValue(u, true)}: quote it, e.g. ${key}: "<the value as written>"`
    : `expected ${name}, got ${String(u)} (${kind}): quote it, e.g. ${key}: "${String(u)}"`;
}

/** Any string, `''` included (passwords); a number or boolean gets the quote-it hint. */
export const AnyString = text<string>('string', () => true);

// ---------------------------------------------------------------------------------------------
// Scalars

/** Largest delay Node timers honour; larger values silently fire after 1 ms. */
export const MAX_DURATION_MS = 2_147_483_647;

export interface DurationMsBrand { readonly DurationMs: unique symbol }
/** Milliseconds, a non-negative integer that fits a Node timer. */
export type DurationMs = t.Branded<number, DurationMsBrand>;
export const DurationMs = integer<DurationMs>(
  'duration in ms (integer 0..2147483647)',
  (n) => n >= 0 && n <= MAX_DURATION_MS,
);

export interface PositiveIntBrand { readonly PositiveInt: unique symbol }
export type PositiveInt = t.Branded<number, PositiveIntBrand>;
export const PositiveInt = integer<PositiveInt>('positive integer', (n) => n >= 1);

export interface NonNegativeIntBrand { readonly NonNegativeInt: unique symbol }
export type NonNegativeInt = t.Branded<number, NonNegativeIntBrand>;
export const NonNegativeInt = integer<NonNegativeInt>('non-negative integer', (n) => n >= 0);

export interface PortBrand { readonly Port: unique symbol }
export type Port = t.Branded<number, PortBrand>;
export const Port = integer<Port>('port (integer 0..65535)', (n) => n >= 0 && n <= 65535);

export interface NonEmptyStringBrand { readonly NonEmptyString: unique symbol }
export type NonEmptyString = t.Branded<string, NonEmptyStringBrand>;
export const NonEmptyString = text<NonEmptyString>('non-empty string', (s) => s.trim() !== '');

function urlWith(protocols: readonly string[]): (s: string) => boolean {
  return (s) => {
    try {
      const url = new URL(s);
      return protocols.includes(url.protocol) && url.hostname !== '';
    } catch {
      return false;
    }
  };
}

export interface WsUrlBrand { readonly WsUrl: unique symbol }
export type WsUrl = t.Branded<string, WsUrlBrand>;
export const WsUrl = text<WsUrl>('ws:// or wss:// URL', urlWith(['ws:', 'wss:']));

export interface HttpUrlBrand { readonly HttpUrl: unique symbol }
export type HttpUrl = t.Branded<string, HttpUrlBrand>;
export const HttpUrl = text<HttpUrl>('http:// or https:// URL', urlWith(['http:', 'https:']));

/**
 * A proxy URL: `http(s)://[user:password@]host[:port]` and nothing after the port — what
 * `support/proxy-url.ts` accepts at connection time, refused at load with the line and column. A
 * password with an unencoded `/ ? #` lands in a path, query or fragment, so it is refused
 * instead of silently sending the wrong credentials (the value is shown with the password masked).
 */
export const ProxyUrl = decoder<HttpUrl>(
  'http:// or https:// proxy URL, http://[user:password@]host:port (special characters in user and password percent-encoded)',
  (u, c) => (typeof u === 'string' && proxyUrlProblem(u) === undefined ? t.success(u as HttpUrl) : t.failure(u, c)),
);

export interface LdapUrlBrand { readonly LdapUrl: unique symbol }
export type LdapUrl = t.Branded<string, LdapUrlBrand>;
export const LdapUrl = text<LdapUrl>('ldap:// or ldaps:// URL', urlWith(['ldap:', 'ldaps:']));

/** `true`/`false`, also as strings. */
export const Bool = decoder<boolean>('boolean', (u, c) =>
  typeof u === 'boolean' ? t.success(u) : u === 'true' || u === 'false' ? t.success(u === 'true') : t.failure(u, c),
);

export const LogLevel = t.keyof({ trace: null, debug: null, info: null, warn: null, error: null, fatal: null, silent: null });
export type LogLevel = t.TypeOf<typeof LogLevel>;

/** Operations a data source can allow; the protocol layer uses the same list. */
export const OPERATIONS = ['test', 'attributes', 'schema', 'resourceTypes', 'get', 'search', 'export'] as const;
export type OperationName = (typeof OPERATIONS)[number];
/** Alias used by the adapters and the protocol layer. */
export type Operation = OperationName;
export const OperationName = t.keyof(
  Object.fromEntries(OPERATIONS.map((op) => [op, null])) as Record<OperationName, null>,
);
/** Allowed when a data source does not say: everything that only reads. */
export const DEFAULT_OPERATIONS: readonly OperationName[] = ['test', 'attributes', 'schema', 'get', 'search'];

// ---------------------------------------------------------------------------------------------
// Combinators

/** Fills in `value` when the key is absent (`undefined`) — and only then: a wrong value is an error. */
export function withDefault<A, O>(codec: t.Type<A, O, unknown>, value: A): t.Type<A, O, unknown> {
  return new t.Type<A, O, unknown>(
    codec.name,
    codec.is,
    (u, c) => (u === undefined ? t.success(value) : codec.validate(u, c)),
    codec.encode,
  );
}

/** An absent section decodes as `{}`, so the defaults of its keys apply. */
export function orEmpty<A, O>(codec: t.Type<A, O, unknown>): t.Type<A, O, unknown> {
  return new t.Type<A, O, unknown>(codec.name, codec.is, (u, c) => codec.validate(u ?? {}, c), codec.encode);
}

/** A list with at least `min` items. */
export function listOf<A>(codec: t.Type<A, unknown, unknown>, name: string, min = 0): t.Type<A[], A[], unknown> {
  return decoder<A[]>(name, (u, c) => {
    if (!Array.isArray(u) || u.length < min) return t.failure(u, c);
    return collect(u.map((item: unknown, i) => codec.validate(item, t.appendContext(c, String(i), codec, item))));
  });
}

/** A list, or a single item standing for a list of one (`urls: wss://…`). */
export function oneOrMany<A>(codec: t.Type<A, unknown, unknown>, name: string): t.Type<A[], A[], unknown> {
  const list = listOf(codec, name, 1);
  return decoder<A[]>(name, (u, c) => list.validate(Array.isArray(u) ? u : [u], c));
}

/** A mapping of names to values of one codec (data sources, tenants). */
export function recordOf<A>(codec: t.Type<A, unknown, unknown>, name: string, min = 0): t.Type<Record<string, A>, Record<string, A>, unknown> {
  return decoder<Record<string, A>>(name, (u, c) => {
    if (!isRecord(u) || Object.keys(u).length < min) return t.failure(u, c);
    const errors: t.ValidationError[] = [];
    const entries: Array<[string, A]> = [];
    for (const [k, v] of Object.entries(u)) {
      const r = codec.validate(v, t.appendContext(c, k, codec, v));
      if (isLeft(r)) errors.push(...r.left);
      else entries.push([k, r.right]);
    }
    // fromEntries defines own properties: a name like `__proto__` stays a plain key.
    return errors.length > 0 ? t.failures(errors) : t.success(Object.fromEntries(entries));
  });
}

export function isRecord(u: unknown): u is Record<string, unknown> {
  return typeof u === 'object' && u !== null && !Array.isArray(u);
}

function collect<A>(results: ReadonlyArray<t.Validation<A>>): t.Validation<A[]> {
  const errors: t.ValidationError[] = [];
  const values: A[] = [];
  for (const r of results) {
    if (isLeft(r)) errors.push(...r.left);
    else values.push(r.right);
  }
  return errors.length > 0 ? t.failures(errors) : t.success(values);
}

/** A cross-field problem found by a `check`, relative to the object being checked. */
export interface Finding {
  path: string[];
  message: string;
}

export type StrictOf<R extends t.Props, O extends t.Props> = { [K in keyof R]: t.TypeOf<R[K]> } & {
  [K in keyof O]?: t.TypeOf<O[K]>;
};

export interface StrictOptions<A> {
  /** What the error says was expected when the value is not a mapping. */
  name?: string;
  /**
   * Cross-field rules. Runs even when some keys failed — `value` then holds only the keys that
   * decoded — so every problem in a file is found in one go. `input` is the raw mapping.
   */
  check?: (value: Partial<A>, input: Record<string, unknown>) => Finding[];
}

/**
 * A mapping with `required` and `optional` keys where an unknown key is an error (a typo must
 * not be dropped silently, as `t.exact` would). Absent optional keys are omitted from the
 * result (exactOptionalPropertyTypes). A required key wrapped in `withDefault` may be absent.
 */
export function strictObject<R extends t.Props, O extends t.Props>(
  required: R,
  optional: O,
  options: StrictOptions<StrictOf<R, O>> = {},
): t.Type<StrictOf<R, O>, StrictOf<R, O>, unknown> {
  const known = [...Object.keys(required), ...Object.keys(optional)];
  return decoder<StrictOf<R, O>>(options.name ?? 'mapping', (u, c) => {
    if (!isRecord(u)) return t.failure(u, c);
    const errors: t.ValidationError[] = [];
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(u)) {
      if (known.includes(key)) continue;
      errors.push({ value: u[key], context: t.appendContext(c, key, t.never, u[key]), message: unknownKey(key, known) });
    }
    const decode = (key: string, codec: t.Mixed, isRequired: boolean): void => {
      const value = u[key];
      if (value === undefined && !isRequired) return;
      const r = codec.validate(value, t.appendContext(c, key, codec, value));
      if (isRight(r)) {
        if (r.right !== undefined) out[key] = r.right;
      } else if (value === undefined) {
        errors.push({ value: u, context: c, message: `missing required key '${key}'` });
      } else {
        errors.push(...r.left);
      }
    };
    for (const [key, codec] of Object.entries(required)) decode(key, codec, true);
    for (const [key, codec] of Object.entries(optional)) decode(key, codec, false);
    const value = out as Partial<StrictOf<R, O>>;
    for (const f of options.check?.(value, u) ?? []) {
      const context = f.path.reduce((ctx, key) => t.appendContext(ctx, key, t.unknown), c);
      errors.push({ value: f.path.length === 1 ? u[f.path[0] ?? ''] : undefined, context, message: f.message });
    }
    return errors.length > 0 ? t.failures(errors) : t.success(out as StrictOf<R, O>);
  });
}

// ---------------------------------------------------------------------------------------------
// Suggestions

export function unknownKey(key: string, known: readonly string[]): string {
  const near = closest(key, known);
  return near === undefined ? `unknown key '${key}'` : `unknown key '${key}', did you mean '${near}'?`;
}

/** The known word within edit distance 2 of `word` (and closer than its length), if any. */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: { word: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d <= 2 && d < word.length && (best === undefined || d < best.d)) best = { word: k, d };
  }
  return best?.word;
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Sections shared by the agent and the hub

/** `auto`: human lines when stdout is a terminal, JSON otherwise (see src/log/pretty-stream.ts). */
export const LogFormat = t.keyof({ auto: null, json: null, pretty: null }, "'auto', 'json' or 'pretty'");
export type LogFormat = t.TypeOf<typeof LogFormat>;

export const LoggingConfig = strictObject(
  {
    level: withDefault(LogLevel, 'info'),
    format: withDefault(LogFormat, 'auto'),
    /** A search or export still running logs a progress line this often; 0: never. */
    progressInterval: withDefault(DurationMs, 10_000 as DurationMs),
  },
  {
    file: NonEmptyString,
    /** The classic agent's log4j2 file: accepted, never read (the agent warns at start and in `check`). */
    config: AnyString,
  },
  { name: 'logging mapping (level, format, progressInterval, file)' },
);
export type LoggingConfig = t.TypeOf<typeof LoggingConfig>;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port` (IPv6 as `[::1]:9464`) of a local listener. */
export const ListenAddressText = decoder<ListenAddress>('listen address host:port', (u, c) => {
  if (typeof u !== 'string') return t.failure(u, c);
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(u.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) return t.failure(u, c, `expected host:port (e.g. 127.0.0.1:9464), got ${JSON.stringify(u)}`);
  return t.success({ host: (match[1] ?? match[2]) as string, port });
});

/** The optional local status listener (`/healthz`, `/readyz`, `/metrics`) of the agent and the hub. */
export const StatusConfig = strictObject({ listen: ListenAddressText }, {}, { name: 'status mapping (listen)' });
export type StatusConfig = t.TypeOf<typeof StatusConfig>;
