/**
 * The search filter of a `type: sql` source: the LDAP filter syntax (RFC 4515) users of the
 * other sources already write, parsed into a tree that filter-sql.ts turns into parameterised
 * SQL. Parsing only: no attribute is looked up here, no value reaches SQL text.
 *
 * Supported: `(&…)`, `(|…)`, `(!…)`, `(a=v)`, `(a>=v)`, `(a<=v)`, presence `(a=*)`, substrings
 * `(a=x*y*z)`, and the `\XX` hex escapes of values. Approximate match (`~=`) and extensible
 * match (`:=`) have no SQL meaning here and are refused with BAD_REQUEST. A filter without its
 * outer parentheses (`uid=ada`) is accepted as one item.
 */
import { badRequest, type ProtocolErrorContext } from '../../adapter-kit/index.js';

export type FilterNode =
  | { readonly kind: 'and' | 'or'; readonly children: readonly FilterNode[] }
  | { readonly kind: 'not'; readonly child: FilterNode }
  | { readonly kind: 'present'; readonly attribute: string }
  | { readonly kind: 'eq' | 'ge' | 'le'; readonly attribute: string; readonly value: string }
  | { readonly kind: 'substring'; readonly attribute: string; readonly initial?: string; readonly any: readonly string[]; readonly final?: string };

/** Deepest nesting accepted: a filter is a request parameter, not a way to exhaust the stack. */
const MAX_DEPTH = 64;
const ATTRIBUTE = /^[A-Za-z0-9_][A-Za-z0-9_.;-]*$/;

class Parser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly context: ProtocolErrorContext,
  ) {}

  fail(why: string): never {
    return badRequest(`invalid filter at offset ${this.pos}: ${why}`, this.context);
  }

  parse(): FilterNode {
    const node = this.filter(0);
    if (this.pos !== this.text.length) this.fail('unexpected text after the filter');
    return node;
  }

  private filter(depth: number): FilterNode {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH}`);
    if (this.text[this.pos] !== '(') this.fail("expected '('");
    this.pos += 1;
    const c = this.text[this.pos];
    let node: FilterNode;
    if (c === '&' || c === '|') {
      this.pos += 1;
      const children: FilterNode[] = [];
      while (this.text[this.pos] === '(') children.push(this.filter(depth + 1));
      node = { kind: c === '&' ? 'and' : 'or', children };
    } else if (c === '!') {
      this.pos += 1;
      node = { kind: 'not', child: this.filter(depth + 1) };
    } else {
      node = this.item();
    }
    if (this.text[this.pos] !== ')') this.fail("expected ')'");
    this.pos += 1;
    return node;
  }

  private item(): FilterNode {
    const start = this.pos;
    while (this.pos < this.text.length && !'=<>~:()'.includes(this.text[this.pos] ?? '')) this.pos += 1;
    const attribute = this.text.slice(start, this.pos);
    if (!ATTRIBUTE.test(attribute)) this.fail(`expected an attribute name, got ${JSON.stringify(attribute)}`);
    const op = this.text.slice(this.pos, this.pos + 2);
    if (op.startsWith(':') || op === '~=') this.fail(`${op.startsWith(':') ? 'extensible' : 'approximate'} match is not supported`);
    let kind: 'eq' | 'ge' | 'le';
    if (op === '>=') kind = 'ge';
    else if (op === '<=') kind = 'le';
    else if (op.startsWith('=')) kind = 'eq';
    else return this.fail("expected '=', '>=' or '<='");
    this.pos += kind === 'eq' ? 1 : 2;
    const raw = this.rawValue();
    if (kind !== 'eq') return { kind, attribute, value: this.unescape(raw) };
    if (raw === '*') return { kind: 'present', attribute };
    if (!raw.includes('*')) return { kind: 'eq', attribute, value: this.unescape(raw) };
    const parts = raw.split('*').map((p) => this.unescape(p));
    const initial = parts[0] ?? '';
    const final = parts[parts.length - 1] ?? '';
    const any = parts.slice(1, -1).filter((p) => p !== '');
    return { kind: 'substring', attribute, ...(initial === '' ? {} : { initial }), any, ...(final === '' ? {} : { final }) };
  }

  /** The value up to the closing ')', escapes still in. */
  private rawValue(): string {
    const start = this.pos;
    while (this.pos < this.text.length && this.text[this.pos] !== ')') {
      if (this.text[this.pos] === '(') this.fail("unescaped '(' in a value (write \\28)");
      this.pos += 1;
    }
    return this.text.slice(start, this.pos);
  }

  /** `\XX` hex escapes → the UTF-8 bytes they spell. */
  private unescape(raw: string): string {
    if (!raw.includes('\\')) return raw;
    const bytes: number[] = [];
    for (let i = 0; i < raw.length; ) {
      if (raw[i] === '\\') {
        const hex = raw.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) this.fail(`bad escape ${JSON.stringify(raw.slice(i, i + 3))} (expected \\ and two hex digits)`);
        bytes.push(parseInt(hex, 16));
        i += 3;
      } else {
        const cp = raw.codePointAt(i) ?? 0;
        const ch = String.fromCodePoint(cp);
        bytes.push(...Buffer.from(ch, 'utf8'));
        i += ch.length;
      }
    }
    const text = Buffer.from(bytes).toString('utf8');
    if (text.includes('\uFFFD') && !raw.includes('\uFFFD')) this.fail('escaped bytes are not UTF-8');
    return text;
  }
}

/** Parses an LDAP-syntax filter; throws BAD_REQUEST naming the offset of the first problem. */
export function parseFilter(text: string, context: ProtocolErrorContext = {}): FilterNode {
  const trimmed = text.trim();
  if (trimmed === '') return badRequest('invalid filter: empty', context);
  return new Parser(trimmed.startsWith('(') ? trimmed : `(${trimmed})`, context).parse();
}
