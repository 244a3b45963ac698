/**
 * Request parameters of the LDAP operations, decoded with io-ts at the adapter's edge (DESIGN
 * §8). Unknown keys are problems (a typo must not be silently ignored); every problem is listed
 * in one BAD_REQUEST message.
 */
import * as t from 'io-ts';
import { AndFilter, FilterParser, NotFilter, OrFilter, SubstringFilter, type Filter } from 'ldapts';
import { decoder, listOf, NonNegativeInt, PositiveInt, strictObject } from '../../config/codecs.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import { DnSyntaxError, isWithin, parseDn, type Rdn } from './dn.js';
import { badRequest, decodeOrThrow } from '../decode.js';

export { badRequest, decodeOrThrow };

/** An attribute description (RFC 4512 §2.5): type or OID plus `;options`, or `*`, `+`, `1.1`. */
export const AttributeName = decoder<string>('attribute name', (u, c) =>
  typeof u === 'string' && /^(\*|\+|1\.1|[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9-]+)*|\d+(\.\d+)+(;[A-Za-z0-9-]+)*)$/.test(u) ? t.success(u) : t.failure(u, c),
);

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

export const GetParams = strictObject(
  { dn: DnString },
  { attributes: listOf(AttributeName, 'list of attribute names') },
  { name: 'get parameters (dn, attributes)' },
);
export type GetParams = t.TypeOf<typeof GetParams>;

/** Decodes `input` or throws BAD_REQUEST listing every problem as `path: message`. */


/** Parses `dn` and refuses it (OPERATION_NOT_ALLOWED) unless it lies inside `baseDN`. */
export function requireWithin(dn: string, baseDN: string, what: string, context: ProtocolErrorContext = {}): Rdn[] {
  let rdns: Rdn[];
  try {
    rdns = parseDn(dn);
  } catch (err) {
    return badRequest(`${what}: ${err instanceof Error ? err.message : String(err)}`, context);
  }
  if (!isWithin(rdns, baseDN)) {
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
