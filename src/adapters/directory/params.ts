/**
 * Request parameters of the directory operations (ldap and ldif data sources), decoded with io-ts at the adapter's edge (get's
 * usual shape is checked by hand first, with the same result). Unknown keys are problems (a typo must not be silently ignored); every problem is listed
 * in one BAD_REQUEST message.
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { AndFilter, FilterParser, NotFilter, OrFilter, SubstringFilter, type Filter } from 'ldapts';
import { decoder, isRecord, listOf, NonNegativeInt, PositiveInt, strictObject } from '../../config/codecs.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import { DnSyntaxError, escapeDnBytes, isWithinScope, parseDn, scopeOf, type Rdn } from './dn.js';
import { isBase64 } from './entry-write.js';
import { badRequest, decodeOrThrow } from '../../adapter-kit/decode.js';

export { badRequest, decodeOrThrow };

/** An attribute description (RFC 4512 §2.5): type or OID plus `;options`, or `*`, `+`, `1.1`. */
const ATTRIBUTE_NAME = /^(\*|\+|1\.1|[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*|\d+(\.\d+)+(;[A-Za-z0-9-]+)*)$/;
export const AttributeName = decoder<string>('attribute name', (u, c) => (typeof u === 'string' && ATTRIBUTE_NAME.test(u) ? t.success(u) : t.failure(u, c)));

/** A DN string that parses (RFC 4514). Scope is checked separately (OPERATION_NOT_ALLOWED). */
export const DnString = decoder<string>('distinguished name', (u, c) => {
  if (typeof u !== 'string') return t.failure(u, c);
  try {
    parseDn(u);
    return t.success(u);
  } catch (err) {
    return t.failure(u, c, err instanceof DnSyntaxError ? err.message : undefined);
  }
});

export const Scope = t.keyof({ base: null, one: null, sub: null }, "'base' | 'one' | 'sub'");

export const SearchParams = strictObject(
  {},
  {
    base: DnString,
    scope: Scope,
    filter: t.string,
    attributes: listOf(AttributeName, 'list of attribute names'),
    /** 0 = no limit. */
    sizeLimit: NonNegativeInt,
    pageSize: PositiveInt,
  },
  { name: 'search parameters (base, scope, filter, attributes, sizeLimit, pageSize)' },
);
export type SearchParams = t.TypeOf<typeof SearchParams>;

/** Base64 of a DN's bytes (`dn;binary`, for names that are not valid UTF-8). */
export const DnBytes = decoder<string>('base64 of a distinguished name', (u, c) => (typeof u === 'string' && isBase64(u) ? t.success(u) : t.failure(u, c)));

/** Where a request or record names its target: `dn`, or `dn;binary` (which wins). */
export interface DnTarget {
  readonly dn?: string;
  readonly 'dn;binary'?: string;
}

/**
 * The target DN of a request or record as a string: `dn;binary` (base64 of the DN's bytes) when
 * present, with hex escapes for bytes that are not UTF-8 (`escapeDnBytes`: an equivalent DN),
 * else `dn`. BAD_REQUEST when there is neither, or the bytes are not base64 or not a DN.
 */
export function targetDn(record: DnTarget, context: ProtocolErrorContext = {}): string {
  const bytes = record['dn;binary'];
  if (bytes === undefined) return record.dn ?? badRequest("missing 'dn' (or 'dn;binary')", context);
  if (!isBase64(bytes)) return badRequest('dn;binary: expected base64 of a distinguished name', context);
  const dn = escapeDnBytes(Buffer.from(bytes, 'base64'));
  try {
    parseDn(dn);
  } catch (err) {
    return badRequest(`dn;binary: ${err instanceof Error ? err.message : String(err)}`, context);
  }
  return dn;
}

const GetInput = strictObject(
  {},
  { dn: DnString, 'dn;binary': DnBytes, attributes: listOf(AttributeName, 'list of attribute names') },
  {
    name: "get parameters (dn or 'dn;binary', attributes)",
    check: (_, u) => (u['dn'] === undefined && u['dn;binary'] === undefined ? [{ path: [], message: "missing required key 'dn' (or 'dn;binary')" }] : []),
  },
);

/** Decoded get parameters: `dn` is the target (`dn;binary` already turned into its escaped string form). */
export interface GetParams {
  readonly dn: string;
  readonly attributes?: string[];
}

export const GetParams = decoder<GetParams>('get parameters', (u, c) => {
  const r = GetInput.validate(u, c);
  if (isLeft(r)) return r;
  const { attributes } = r.right;
  try {
    const dn = targetDn(r.right);
    return t.success(attributes === undefined ? { dn } : { dn, attributes });
  } catch (err) {
    return t.failure(u, t.appendContext(c, 'dn;binary', DnBytes, r.right['dn;binary']), err instanceof Error ? err.message.replace(/^dn;binary: /, '') : undefined);
  }
});

/** Get parameters as `getEntry` uses them: `GetParams` plus the target's RDNs, parsed once. */
export interface GetTarget extends GetParams {
  readonly rdns: readonly Rdn[];
}

/**
 * Decodes get parameters or throws BAD_REQUEST exactly as `decodeOrThrow(GetParams, …)` does.
 * The usual shape — `dn` a string that parses, optional `attributes`, no other key — is checked
 * by hand (same acceptance, same result); anything else goes through the codec, which words
 * the problems.
 */
export function decodeGetParams(input: unknown, context: ProtocolErrorContext = {}): GetTarget {
  const plain = plainGetParams(input);
  if (plain !== undefined) return plain;
  const p = decodeOrThrow(GetParams, input, 'get parameters', context);
  return { ...p, rdns: parseDn(p.dn) };
}

/** The hand check of `decodeGetParams`; undefined whenever the codec must decide. */
export function plainGetParams(input: unknown): GetTarget | undefined {
  if (!isRecord(input)) return undefined;
  for (const key of Object.keys(input)) if (key !== 'dn' && key !== 'attributes') return undefined;
  const dn = input['dn'];
  if (typeof dn !== 'string') return undefined;
  let rdns: Rdn[];
  try {
    rdns = parseDn(dn);
  } catch {
    return undefined;
  }
  const attributes = input['attributes'];
  if (attributes === undefined) return { dn, rdns };
  if (!Array.isArray(attributes)) return undefined;
  for (const a of attributes as unknown[]) if (typeof a !== 'string' || !ATTRIBUTE_NAME.test(a)) return undefined;
  return { dn, attributes: (attributes as string[]).slice(), rdns };
}

/** Parses `dn` and refuses it (OPERATION_NOT_ALLOWED) unless it lies inside `baseDN`. */
export function requireWithin(dn: string, baseDN: string, what: string, context: ProtocolErrorContext = {}): Rdn[] {
  let rdns: Rdn[];
  try {
    rdns = parseDn(dn);
  } catch (err) {
    return badRequest(`${what}: ${err instanceof Error ? err.message : String(err)}`, context);
  }
  return requireParsedWithin(dn, rdns, baseDN, what, context);
}

/**
 * `requireWithin` for a DN already parsed into `rdns`. The base is parsed once per baseDN
 * (`scopeOf` keeps it), not per request.
 */
export function requireParsedWithin<R extends readonly Rdn[]>(dn: string, rdns: R, baseDN: string, what: string, context: ProtocolErrorContext = {}): R {
  if (!isWithinScope(rdns, scopeOf(baseDN))) {
    throw new ProtocolError('OPERATION_NOT_ALLOWED', `${what} ${JSON.stringify(dn)} is outside the data source's baseDN ${JSON.stringify(baseDN)}`, context);
  }
  return rdns;
}

/**
 * Validates an RFC 4515 filter with ldapts' parser (the one that will encode it) and returns it.
 * A filter without the outer parentheses (`uid=jdoe`) is accepted and wrapped.
 */
export function checkFilter(filter: string, context: ProtocolErrorContext = {}): string {
  const trimmed = filter.trim();
  const wrapped = trimmed.startsWith('(') ? trimmed : `(${trimmed})`;
  try {
    checkParens(wrapped);
    if (hasEmptySubstring(FilterParser.parseString(wrapped))) throw new Error('empty substring component (two * in a row)');
    return wrapped;
  } catch (err) {
    return badRequest(`invalid filter ${JSON.stringify(filter)}: ${err instanceof Error ? err.message : String(err)}`, context);
  }
}

/**
 * `(uid=a**b)` parses (ldapts sends an empty `any` component), but OpenLDAP answers an empty
 * substring value with a protocol error and drops the connection: refuse it here.
 */
function hasEmptySubstring(filter: Filter): boolean {
  if (filter instanceof SubstringFilter) return filter.any.some((part) => part === '');
  if (filter instanceof AndFilter || filter instanceof OrFilter) return filter.filters.some(hasEmptySubstring);
  if (filter instanceof NotFilter) return hasEmptySubstring(filter.filter);
  return false;
}

/**
 * ldapts 8 accepts some unbalanced filters (`(&(a=1)(b=2)` parses). Parentheses inside values
 * must be escaped as `\28`/`\29` (RFC 4515 §3), so every raw one is structure: they must
 * balance and close exactly at the end.
 */
function checkParens(filter: string): void {
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth < 0 || (depth === 0 && i !== filter.length - 1)) throw new Error(`unbalanced parentheses at position ${i}`);
    }
  }
  if (depth !== 0) throw new Error(`unbalanced parentheses: ${depth} not closed`);
}
