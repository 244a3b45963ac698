/**
 * Search filters (RFC 4515 strings) parsed by ldapts' `FilterParser` — the parser the ldap
 * adapter validates with — and evaluated here with LDAP semantics (RFC 4511 §4.5.1.7):
 * three-valued logic (TRUE / FALSE / Undefined; only TRUE selects an entry), multi-valued
 * attributes (an assertion holds if it holds for any value), case-insensitive attribute names,
 * subtypes by options, and the schema-less matching rules of values.ts.
 *
 * ldapts' own `Filter.matches()` is not used: it sees one string per attribute, compares
 * attribute names case-sensitively (except objectClass), orders `>=`/`<=` as raw strings and
 * throws on `~=` and extensible matches.
 */
import {
  AndFilter,
  ApproximateFilter,
  EqualityFilter,
  ExtensibleFilter,
  FilterParser,
  GreaterThanEqualsFilter,
  LessThanEqualsFilter,
  NotFilter,
  OrFilter,
  PresenceFilter,
  SubstringFilter,
  type Filter,
} from 'ldapts';
import { isUtf8 } from 'node:buffer';
import type { ProtocolErrorContext } from '../../protocol/errors.js';
import { dnEquals, parseDn, valueKey } from '../directory/dn.js';
import { checkFilter } from '../directory/params.js';
import type { EntryNode } from './directory.js';
import { forEachAttribute, slotValues } from './flat-attributes.js';
import { keysFor, valuesFor } from './entry.js';
import { avaValue } from './names.js';
import {
  approxKey,
  assertionBytes,
  assertionIdentities,
  compareValues,
  parseDescription,
  substringMatch,
  valueIdentity,
  type Value,
} from './values.js';

type Entry = EntryNode;
/** `undefined` is RFC 4511's Undefined. */
type Tri = boolean | undefined;
type Test = (node: Entry) => Tri;

const SPECIAL = new Set(['(', ')', '*', '\\', '\0']);

/**
 * ldapts unescapes each `\xx` to one char, so `\c3\b6` would become "Ã¶" instead of "ö". Runs of
 * escapes that are valid UTF-8 are turned into the characters they encode first (filter
 * specials stay escaped); other runs (binary assertions) are left for the parser.
 */
export function decodeUtf8Escapes(filter: string): string {
  return filter.replace(/(?:\\[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = Buffer.from(run.replace(/\\/g, ''), 'hex');
    if (!isUtf8(bytes)) return run;
    // Buffer#toString keeps an escaped U+FEFF (`\ef\bb\bf`), which TextDecoder would drop.
    const text = bytes.toString('utf8');
    let out = '';
    for (const ch of text) out += SPECIAL.has(ch) ? `\\${(ch.codePointAt(0) ?? 0).toString(16).padStart(2, '0')}` : ch;
    return out;
  });
}

const caseExact = (s: string): string => s.normalize('NFKC').trim().replace(/\s+/g, ' ');
const text =
  (f: (stored: string, assertion: string) => boolean) =>
  (stored: Value, assertion: string): boolean =>
    !Buffer.isBuffer(stored) && f(stored, assertion);
const caseIgnoreRule = text((a, b) => valueKey(a) === valueKey(b));
const caseExactRule = text((a, b) => caseExact(a) === caseExact(b));

/** Extensible-match rules we can apply without a schema (RFC 4517 §4.2), by name and OID, lower-case. */
const RULES: ReadonlyMap<string, (stored: Value, assertion: string) => boolean> = new Map([
  ...['caseignorematch', '2.5.13.2', 'caseignoreia5match', '1.3.6.1.4.1.1466.109.114.2'].map((n) => [n, caseIgnoreRule] as const),
  ...['caseexactmatch', '2.5.13.5', 'caseexactia5match', '1.3.6.1.4.1.1466.109.114.1'].map((n) => [n, caseExactRule] as const),
  ...['distinguishednamematch', '2.5.13.1'].map(
    (n) =>
      [
        n,
        text((a, b) => {
          try {
            return dnEquals(a, b);
          } catch {
            return false;
          }
        }),
      ] as const,
  ),
  ...['octetstringmatch', '2.5.13.17'].map(
    (n) => [n, (stored: Value, assertion: string) => assertionBytes(assertion).some((b) => b.equals(Buffer.isBuffer(stored) ? stored : Buffer.from(stored)))] as const,
  ),
  ...['integermatch', '2.5.13.14'].map((n) => [n, text((a, b) => /^[+-]?\d+$/.test(a.trim()) && /^[+-]?\d+$/.test(b.trim()) && compareValues(a, b) === 0)] as const),
]);

/**
 * Equality of stored values (by their identity keys, values.ts) with an assertion. Identities
 * keep a tab, a line break, U+FEFF or U+0130 apart from what matching equates them with
 * (OpenLDAP stores `a<TAB>b` and `a b` as two values, yet `(cn=a b)` finds both; RFC 4518 §2.2
 * maps such characters to a space or to nothing): a text key holding one of them, or an
 * assertion holding one, is compared again by the matching key.
 */
const LOOSE = /[^\S ]|\u0130/;
function equality(attribute: string, assertion: Value): (key: string) => boolean {
  const ids = assertionIdentities(attribute, assertion);
  if (Buffer.isBuffer(assertion)) return (k) => ids.has(k);
  const loose = LOOSE.test(assertion);
  const key = valueKey(assertion);
  return (k) => ids.has(k) || ((loose || LOOSE.test(k)) && k.startsWith('t:') && valueKey(k.slice(2)) === key);
}

/** An assertion on the values of one attribute description. */
function onValues(attribute: string, holds: (v: Value) => boolean): Test {
  const wanted = parseDescription(attribute);
  return (node) => valuesFor(node, wanted).some(holds);
}

function extensible(f: ExtensibleFilter): Test {
  const ruleName = f.rule === '' ? undefined : f.rule;
  const rule = ruleName === undefined ? undefined : RULES.get(ruleName.toLowerCase());
  // An unknown rule, or neither rule nor type, is Undefined (RFC 4511 §4.5.1.7.7).
  if ((ruleName !== undefined && rule === undefined) || (ruleName === undefined && f.matchType === '')) return () => undefined;
  const type = f.matchType === '' ? undefined : parseDescription(f.matchType);
  // Without a rule the attribute's own equality applies (and a type is required, checked above).
  const equal = equality(f.matchType, f.value);
  const test = (name: string, v: Value): boolean => (rule === undefined ? equal(valueIdentity(name, v)) : rule(v, f.value));
  return (node) => {
    let hit = false;
    if (type === undefined) {
      forEachAttribute(node.attributes, (name, values) => {
        hit ||= slotValues(values).some((v) => test(name.name, v));
      });
    } else {
      hit = valuesFor(node, type).some((v) => test(f.matchType, v));
    }
    if (hit || !f.dnAttributes) return hit;
    // `:dn:` — the entry's DN attributes take part too.
    return parseDn(node.dn).some((rdn) => rdn.some((ava) => (type === undefined || ava.type.toLowerCase() === type.type) && test(ava.type, avaValue(ava))));
  };
}

function compile(f: Filter): Test {
  if (f instanceof AndFilter) {
    const parts = f.filters.map(compile);
    return (node) => {
      let result: Tri = true;
      for (const p of parts) {
        const r = p(node);
        if (r === false) return false;
        if (r === undefined) result = undefined;
      }
      return result;
    };
  }
  if (f instanceof OrFilter) {
    const parts = f.filters.map(compile);
    return (node) => {
      let result: Tri = false;
      for (const p of parts) {
        const r = p(node);
        if (r === true) return true;
        if (r === undefined) result = undefined;
      }
      return result;
    };
  }
  if (f instanceof NotFilter) {
    const inner = compile(f.filter);
    return (node) => {
      const r = inner(node);
      return r === undefined ? undefined : !r;
    };
  }
  if (f instanceof PresenceFilter) return onValues(f.attribute, () => true);
  if (f instanceof EqualityFilter) {
    const equal = equality(f.attribute, f.value);
    const wanted = parseDescription(f.attribute);
    return (node) => keysFor(node, wanted).some(equal);
  }
  if (f instanceof SubstringFilter) return onValues(f.attribute, (v) => substringMatch(v, f.initial, f.any, f.final));
  if (f instanceof GreaterThanEqualsFilter) return onValues(f.attribute, (v) => compareValues(v, f.value) >= 0);
  if (f instanceof LessThanEqualsFilter) return onValues(f.attribute, (v) => compareValues(v, f.value) <= 0);
  if (f instanceof ApproximateFilter) {
    const key = approxKey(f.value);
    const ids = assertionIdentities(f.attribute, f.value);
    return onValues(f.attribute, (v) => (Buffer.isBuffer(v) ? ids.has(valueIdentity(f.attribute, v)) : approxKey(v) === key));
  }
  if (f instanceof ExtensibleFilter) return extensible(f);
  return () => undefined;
}

/**
 * Validates a filter (BAD_REQUEST quoting the parser's message, as the ldap adapter does) and
 * compiles it to a predicate that is true only where the filter evaluates to TRUE.
 */
export function compileFilter(filter: string, context: ProtocolErrorContext = {}): (node: Entry) => boolean {
  const checked = checkFilter(filter, context);
  const test = compile(FilterParser.parseString(decodeUtf8Escapes(checked)));
  return (node) => test(node) === true;
}
