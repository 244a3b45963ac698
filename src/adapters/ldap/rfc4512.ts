/**
 * RFC 4512 §4.1 schema definitions → JSON: attribute types, object classes, matching rules and
 * LDAP syntaxes, as servers publish them in the subschema subentry.
 *
 * A small tokenizer and one generic "term list" reader, then a shape per kind. Lenient where
 * real servers are sloppy: keywords in any case, quoted OIDs (`SUP 'top'`), no space before `)`,
 * `SYNTAX` with a `{len}` suffix, unknown keywords (skipped, with their argument).
 */

export type AttributeUsage = 'userApplications' | 'directoryOperation' | 'distributedOperation' | 'dSAOperation';

export interface AttributeTypeDescription {
  oid: string;
  names: string[];
  desc?: string;
  obsolete: boolean;
  sup?: string;
  equality?: string;
  ordering?: string;
  substr?: string;
  /** Numeric OID of the syntax, without the length bound. */
  syntax?: string;
  /** The `{len}` bound of `SYNTAX`, if given. */
  syntaxLength?: number;
  singleValue: boolean;
  collective: boolean;
  noUserModification: boolean;
  usage: AttributeUsage;
  /** `X-…` extensions (e.g. `X-ORIGIN`), each a list of strings. */
  extensions: Record<string, string[]>;
}

export type ObjectClassKind = 'ABSTRACT' | 'STRUCTURAL' | 'AUXILIARY';

export interface ObjectClassDescription {
  oid: string;
  names: string[];
  desc?: string;
  obsolete: boolean;
  sup: string[];
  kind: ObjectClassKind;
  must: string[];
  may: string[];
  extensions: Record<string, string[]>;
}

export interface MatchingRuleDescription {
  oid: string;
  names: string[];
  desc?: string;
  obsolete: boolean;
  syntax?: string;
  extensions: Record<string, string[]>;
}

export interface SyntaxDescription {
  oid: string;
  desc?: string;
  extensions: Record<string, string[]>;
}

export class SchemaParseError extends Error {
  override readonly name = 'SchemaParseError';
}

type Token = { kind: '(' | ')' | '$' } | { kind: 'word'; text: string } | { kind: 'quoted'; text: string };
type TextToken = Extract<Token, { text: string }>;

const isText = (t: Token | undefined): t is TextToken => t !== undefined && 'text' in t;

/** RFC 4512 §4.1 `qdstring`: `\27` is `'`, `\5C` is `\`; other hex escapes are honoured too. */
function unescapeQd(raw: string): string {
  return raw.replace(/\\([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === '$') {
      tokens.push({ kind: c });
      i++;
    } else if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end === -1) throw new SchemaParseError(`unterminated quoted string at ${i}: ${input}`);
      tokens.push({ kind: 'quoted', text: unescapeQd(input.slice(i + 1, end)) });
      i = end + 1;
    } else {
      const start = i;
      while (i < input.length && !/[\s()$']/.test(input[i] ?? '')) i++;
      tokens.push({ kind: 'word', text: input.slice(start, i) });
    }
  }
  return tokens;
}

const FLAGS = new Set(['OBSOLETE', 'SINGLE-VALUE', 'COLLECTIVE', 'NO-USER-MODIFICATION', 'ABSTRACT', 'STRUCTURAL', 'AUXILIARY']);

/** A term's argument: one word or quoted string, or a parenthesised list (`$` separators dropped). */
type Terms = Map<string, string[]>;

/** Reads `( oid KEYWORD arg … )` into the numeric OID and a keyword → values map. */
export function readTerms(input: string): { oid: string; terms: Terms } {
  const tokens = tokenize(input);
  let i = 0;
  const next = (): Token | undefined => tokens[i++];
  const fail = (why: string): never => {
    throw new SchemaParseError(`${why}: ${input}`);
  };
  if (next()?.kind !== '(') fail("expected '('");
  const first = next();
  if (!isText(first)) return fail('expected an OID');
  const oid = first.text;
  const terms: Terms = new Map();

  const readArg = (): string[] => {
    const t = next();
    if (t === undefined) return fail('unexpected end');
    if (isText(t)) return [t.text];
    if (t.kind !== '(') return fail(`unexpected '${t.kind}'`);
    const list: string[] = [];
    for (;;) {
      const item = next();
      if (item === undefined) return fail("unterminated '('");
      if (item.kind === ')') return list;
      if (item.kind === '$') continue;
      if (!isText(item)) return fail("nested '('");
      list.push(item.text);
    }
  };

  for (;;) {
    const t = next();
    if (t === undefined) return fail("missing ')'");
    if (t.kind === ')') break;
    if (t.kind !== 'word' || !isText(t)) return fail(`expected a keyword, got ${isText(t) ? `'${t.text}'` : t.kind}`);
    const keyword = t.text.toUpperCase();
    if (FLAGS.has(keyword)) {
      terms.set(keyword, []);
      continue;
    }
    const peek = tokens[i];
    // An unknown keyword followed by another keyword is a flag we do not know.
    if (!keyword.startsWith('X-') && !KNOWN_WITH_ARG.has(keyword) && (peek === undefined || (peek.kind === 'word' && /^[A-Z][A-Z-]*$/.test(peek.text)) || peek.kind === ')')) {
      terms.set(keyword, []);
      continue;
    }
    terms.set(keyword, [...(terms.get(keyword) ?? []), ...readArg()]);
  }
  if (i < tokens.length) fail("text after the closing ')'");
  return { oid, terms };
}

const KNOWN_WITH_ARG = new Set(['NAME', 'DESC', 'SUP', 'EQUALITY', 'ORDERING', 'SUBSTR', 'SYNTAX', 'USAGE', 'MUST', 'MAY', 'APPLIES', 'FORM', 'OC', 'AUX', 'NOT']);

function one(terms: Terms, key: string): string | undefined {
  return terms.get(key)?.[0];
}

function extensions(terms: Terms): Record<string, string[]> {
  return Object.fromEntries([...terms].filter(([k]) => k.startsWith('X-')));
}

function common(terms: Terms): { names: string[]; desc?: string; obsolete: boolean } {
  const desc = one(terms, 'DESC');
  return { names: terms.get('NAME') ?? [], ...(desc === undefined ? {} : { desc }), obsolete: terms.has('OBSOLETE') };
}

const USAGES: readonly AttributeUsage[] = ['userApplications', 'directoryOperation', 'distributedOperation', 'dSAOperation'];

export function parseAttributeType(input: string): AttributeTypeDescription {
  const { oid, terms } = readTerms(input);
  const out: AttributeTypeDescription = {
    oid,
    ...common(terms),
    singleValue: terms.has('SINGLE-VALUE'),
    collective: terms.has('COLLECTIVE'),
    noUserModification: terms.has('NO-USER-MODIFICATION'),
    usage: 'userApplications',
    extensions: extensions(terms),
  };
  for (const [key, field] of [['SUP', 'sup'], ['EQUALITY', 'equality'], ['ORDERING', 'ordering'], ['SUBSTR', 'substr']] as const) {
    const v = one(terms, key);
    if (v !== undefined) out[field] = v;
  }
  const syntax = one(terms, 'SYNTAX');
  if (syntax !== undefined) {
    const m = /^(.*?)\{(\d+)\}$/.exec(syntax);
    out.syntax = m?.[1] ?? syntax;
    if (m?.[2] !== undefined) out.syntaxLength = Number(m[2]);
  }
  const usage = one(terms, 'USAGE');
  if (usage !== undefined) {
    const known = USAGES.find((u) => u.toLowerCase() === usage.toLowerCase());
    if (known === undefined) throw new SchemaParseError(`unknown USAGE ${usage}: ${input}`);
    out.usage = known;
  }
  return out;
}

export function parseObjectClass(input: string): ObjectClassDescription {
  const { oid, terms } = readTerms(input);
  const kind: ObjectClassKind = terms.has('ABSTRACT') ? 'ABSTRACT' : terms.has('AUXILIARY') ? 'AUXILIARY' : 'STRUCTURAL';
  return {
    oid,
    ...common(terms),
    sup: terms.get('SUP') ?? [],
    kind,
    must: terms.get('MUST') ?? [],
    may: terms.get('MAY') ?? [],
    extensions: extensions(terms),
  };
}

export function parseMatchingRule(input: string): MatchingRuleDescription {
  const { oid, terms } = readTerms(input);
  const syntax = one(terms, 'SYNTAX');
  return { oid, ...common(terms), ...(syntax === undefined ? {} : { syntax }), extensions: extensions(terms) };
}

export function parseSyntax(input: string): SyntaxDescription {
  const { oid, terms } = readTerms(input);
  const desc = one(terms, 'DESC');
  return { oid, ...(desc === undefined ? {} : { desc }), extensions: extensions(terms) };
}
