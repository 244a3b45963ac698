/**
 * Distinguished names (RFC 4514): parse, compare, serialise.
 *
 * ldapts' `DN` class builds DNs but cannot parse one, and the scope check ("is this DN inside
 * the configured baseDN?") must not be fooled by case, spacing or escaping — a string suffix
 * test would accept `uid=x,dc=example,dc=comX` or reject `UID=x, DC=Example,dc=com`.
 */

export interface Ava {
  /** Attribute type as written (descriptor or numeric OID). */
  readonly type: string;
  /** Unescaped value; a `#hex` BER value is kept as written (lower-cased) with `ber: true`. */
  readonly value: string;
  readonly ber?: true;
}

/** One RDN: one or more attribute-value assertions joined by `+`. */
export type Rdn = readonly Ava[];

export class DnSyntaxError extends Error {
  override readonly name = 'DnSyntaxError';
}

const HEX = /^[0-9a-fA-F]{2}$/;
const TYPE = /^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)*)$/;

/**
 * Parses a DN string into RDNs, most specific first. Lenient where LDAPv2-era servers and
 * humans are: spaces around `,` `+` `=` are ignored, `;` separates RDNs too. The empty string is
 * the root DN (no RDNs).
 */
export function parseDn(input: string): Rdn[] {
  const rdns: Rdn[] = [];
  if (input.trim() === '') return rdns;
  let i = 0;
  const n = input.length;
  const fail = (why: string): never => {
    throw new DnSyntaxError(`invalid DN ${JSON.stringify(input)}: ${why} at position ${i}`);
  };
  const skipSpaces = (): void => {
    while (i < n && input[i] === ' ') i++;
  };

  let rdn: Ava[] = [];
  for (;;) {
    skipSpaces();
    const typeStart = i;
    while (i < n && input[i] !== '=' && input[i] !== ',' && input[i] !== '+' && input[i] !== ';') i++;
    if (input[i] !== '=') fail("expected 'type=value'");
    let type = input.slice(typeStart, i).trim();
    if (/^oid\./i.test(type)) type = type.slice(4);
    if (!TYPE.test(type)) fail(`bad attribute type ${JSON.stringify(type)}`);
    i++; // '='
    skipSpaces();

    let value: string;
    let ber = false;
    if (input[i] === '#') {
      ber = true;
      const start = i;
      i++;
      while (i < n && /[0-9a-fA-F]/.test(input[i] ?? '')) i++;
      value = input.slice(start, i).toLowerCase();
      if (value.length < 3 || value.length % 2 === 0) fail('bad #hex value');
      skipSpaces();
    } else {
      const bytes: number[] = [];
      // Index in `bytes` after the last escaped or non-space character: unescaped trailing spaces
      // are not part of the value (RFC 4514 §3).
      let significant = 0;
      while (i < n) {
        const c = input[i] ?? '';
        if (c === ',' || c === '+' || c === ';') break;
        if (c === '\\') {
          const pair = input.slice(i + 1, i + 3);
          if (HEX.test(pair)) {
            bytes.push(parseInt(pair, 16));
            i += 3;
          } else if (i + 1 < n) {
            const escaped = input.codePointAt(i + 1) ?? 0;
            const ch = String.fromCodePoint(escaped);
            bytes.push(...Buffer.from(ch, 'utf8'));
            i += 1 + ch.length;
          } else {
            fail('dangling backslash');
          }
          significant = bytes.length;
          continue;
        }
        // RFC 4514 §2.4 (`=` need not be escaped; `"` `<` `>` must be).
        if (c === '"' || c === '<' || c === '>') fail(`unescaped ${JSON.stringify(c)} in value`);
        const cp = input.codePointAt(i) ?? 0;
        const ch = String.fromCodePoint(cp);
        bytes.push(...Buffer.from(ch, 'utf8'));
        if (ch !== ' ') significant = bytes.length;
        i += ch.length;
      }
      value = Buffer.from(bytes.slice(0, significant)).toString('utf8');
    }
    rdn.push(ber ? { type, value, ber: true } : { type, value });

    if (i >= n) {
      rdns.push(rdn);
      return rdns;
    }
    const sep = input[i];
    i++;
    if (sep === ',' || sep === ';') {
      rdns.push(rdn);
      rdn = [];
      if (input.slice(i).trim() === '') fail('empty RDN after separator');
    }
  }
}

/** Comparison key of a value: NFKC, case-folded, insignificant spaces collapsed (RFC 4518 §2). */
export function valueKey(value: string): string {
  return value.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

/** Comparison key of an RDN: its AVAs sorted, so `a=1+b=2` equals `B=2+A=1`. */
export function rdnKey(rdn: Rdn): string {
  return rdn
    .map((ava) => `${ava.type.toLowerCase()}=${valueKey(ava.value)}`)
    .sort()
    .join('+');
}

/** Do two DNs name the same entry (case-insensitive types and values, spacing ignored)? */
export function dnEquals(a: string | Rdn[], b: string | Rdn[]): boolean {
  const x = typeof a === 'string' ? parseDn(a) : a;
  const y = typeof b === 'string' ? parseDn(b) : b;
  return x.length === y.length && x.every((rdn, k) => rdnKey(rdn) === rdnKey(y[k] ?? []));
}

/**
 * Comparison key of an RDN for scope checks: types and ASCII letters case-folded, nothing else.
 *
 * Deliberately narrower than `rdnKey`: a scope check must never equate two values that the
 * directory server keeps apart, or a DN outside the base passes as inside (and an export can
 * create entries there). Servers differ on everything beyond ASCII case: OpenLDAP keeps
 * `people<TAB>`, `people<U+2028>` or `peop\u02e1e` apart from `people` (JavaScript's trim and
 * NFKC do not), and its Unicode tables predate many compatibility and case mappings. A DN
 * spelled with such variants of the base is refused (OPERATION_NOT_ALLOWED) — the safe side.
 */
function scopeKey(rdn: Rdn): string {
  return rdn
    .map((ava) => `${ava.type.toLowerCase()}=${ava.ber ? 'ber:' : 'str:'}${ava.value.replace(/[A-Z]+/g, (s) => s.toLowerCase())}`)
    .sort()
    .join('+');
}

/**
 * Is `dn` the base itself or below it, as every directory server sees it? The root DN `''`
 * contains everything. Case-insensitive for ASCII only (see `scopeKey`).
 */
export function isWithin(dn: string | Rdn[], base: string | Rdn[]): boolean {
  const d = typeof dn === 'string' ? parseDn(dn) : dn;
  const b = typeof base === 'string' ? parseDn(base) : base;
  if (b.length > d.length) return false;
  const offset = d.length - b.length;
  return b.every((rdn, k) => scopeKey(rdn) === scopeKey(d[offset + k] ?? []));
}

/**
 * Escapes a value for a DN string (RFC 4514 §2.4). Specials are written as hex pairs rather
 * than `\,`: ldapts' `modifyDN` splits the new DN at the first comma not preceded by a
 * backslash, which `\\,` (an escaped backslash before a separator) would fool.
 */
export function escapeDnValue(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '\\' || ch === ',' || ch === '+' || ch === '"' || ch === '<' || ch === '>' || ch === ';' || ch === '=' || ch === '\0') {
      out += `\\${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
    } else {
      out += ch;
    }
  }
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out.charCodeAt(0).toString(16).toUpperCase()}${out.slice(1)}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\20`;
  return out;
}

export function formatRdn(rdn: Rdn): string {
  return rdn.map((ava) => `${ava.type}=${ava.ber ? ava.value : escapeDnValue(ava.value)}`).join('+');
}

export function formatDn(rdns: readonly Rdn[]): string {
  return rdns.map(formatRdn).join(',');
}

/** The parent of a DN (`undefined` for the root and for a one-RDN DN's parent is `[]`). */
export function parentOf(rdns: readonly Rdn[]): Rdn[] | undefined {
  return rdns.length === 0 ? undefined : rdns.slice(1);
}
