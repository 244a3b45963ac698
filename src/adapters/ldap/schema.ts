/**
 * `schema` and `attributes`: the server's subschema (RFC 4512 §4.2). ldapts has no schema API:
 * read the root DSE's `subschemaSubentry`, then that entry's `attributeTypes`, `objectClasses`,
 * `ldapSyntaxes` and `matchingRules` (operational attributes: they must be asked for by name),
 * and parse each description. A description that does not parse is skipped and logged — one
 * vendor quirk must not hide the whole schema from the mapping UI.
 */
import { defer, from, map, type Observable } from 'rxjs';
import type { Client } from 'ldapts';
import type { Logger } from 'pino';
import type { OperationContext } from '../../adapter-kit/adapter.js';
import type { LdapClientPool } from './client-pool.js';
import { valuesOf } from './entry.js';
import { isBinaryAttribute } from '../directory/entry.js';
import { toProtocolError } from '../directory/errors.js';
import {
  parseAttributeType,
  parseMatchingRule,
  parseObjectClass,
  parseSyntax,
  type AttributeTypeDescription,
  type AttributeUsage,
  type MatchingRuleDescription,
  type ObjectClassDescription,
  type SyntaxDescription,
} from './rfc4512.js';

export interface LdapSchema {
  /** DN of the subschema subentry that was read. */
  readonly subschemaSubentry: string;
  readonly attributeTypes: AttributeTypeDescription[];
  readonly objectClasses: ObjectClassDescription[];
  readonly ldapSyntaxes: SyntaxDescription[];
  readonly matchingRules: MatchingRuleDescription[];
  /** Descriptions that could not be parsed (each logged as a warning). */
  readonly skipped: number;
}

/** One attribute type for a mapping UI, with SUP-inherited syntax and matching rules resolved. */
export interface AttributeInfo {
  /** First NAME (or the OID when the type has no name). */
  readonly name: string;
  /** Other NAMEs (e.g. `commonName` for `cn`). */
  readonly aliases: string[];
  readonly oid: string;
  readonly desc?: string;
  readonly sup?: string;
  readonly syntax?: string;
  /** The syntax's DESC from `ldapSyntaxes`, e.g. `Directory String`. */
  readonly syntaxName?: string;
  readonly syntaxLength?: number;
  readonly equality?: string;
  readonly ordering?: string;
  readonly substr?: string;
  readonly singleValue: boolean;
  readonly noUserModification: boolean;
  readonly usage: AttributeUsage;
  /** usage ≠ userApplications: not returned by `*`, ask for it by name. */
  readonly operational: boolean;
  readonly obsolete: boolean;
  /** Values travel base64 under `name;binary`. */
  readonly binary: boolean;
}

/** Syntaxes whose values are bytes, not text (RFC 4517 §3.3, RFC 4523). */
const BINARY_SYNTAXES = new Set([
  '1.3.6.1.4.1.1466.115.121.1.5', // Binary
  '1.3.6.1.4.1.1466.115.121.1.8', // Certificate
  '1.3.6.1.4.1.1466.115.121.1.9', // Certificate List
  '1.3.6.1.4.1.1466.115.121.1.10', // Certificate Pair
  '1.3.6.1.4.1.1466.115.121.1.28', // JPEG
  '1.3.6.1.4.1.1466.115.121.1.40', // Octet String
  '1.3.6.1.4.1.1466.115.121.1.49', // Supported Algorithm
]);

export async function readSchema(client: Client, log: Logger): Promise<LdapSchema> {
  const root = await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['subschemaSubentry'] });
  const subschemaSubentry = valuesOf(root.searchEntries[0], 'subschemaSubentry')[0] ?? 'cn=Subschema';
  const { searchEntries } = await client.search(subschemaSubentry, {
    scope: 'base',
    filter: '(objectClass=subschema)',
    attributes: ['attributeTypes', 'objectClasses', 'ldapSyntaxes', 'matchingRules'],
  });
  const sub = searchEntries[0];
  let skipped = 0;
  const parseAll = <T>(name: string, parse: (s: string) => T): T[] =>
    valuesOf(sub, name).flatMap((text) => {
      try {
        return [parse(text)];
      } catch (err) {
        skipped++;
        log.warn({ attribute: name, definition: text, err: err instanceof Error ? err.message : String(err) }, 'LDAP schema definition skipped');
        return [];
      }
    });
  return {
    subschemaSubentry,
    attributeTypes: parseAll('attributeTypes', parseAttributeType),
    objectClasses: parseAll('objectClasses', parseObjectClass),
    ldapSyntaxes: parseAll('ldapSyntaxes', parseSyntax),
    matchingRules: parseAll('matchingRules', parseMatchingRule),
    skipped,
  };
}

/** Flat list of attribute types sorted by name (case-insensitive), inheritance resolved. */
export function attributeList(schema: LdapSchema): AttributeInfo[] {
  const byName = new Map<string, AttributeTypeDescription>();
  for (const at of schema.attributeTypes) {
    byName.set(at.oid, at);
    for (const n of at.names) byName.set(n.toLowerCase(), at);
  }
  const syntaxNames = new Map(schema.ldapSyntaxes.flatMap((s) => (s.desc === undefined ? [] : [[s.oid, s.desc] as const])));
  // RFC 4512 §4.1.2: a subtype without SYNTAX/EQUALITY/… takes its supertype's.
  const inherited = (at: AttributeTypeDescription, field: 'syntax' | 'equality' | 'ordering' | 'substr'): string | undefined => {
    const seen = new Set<AttributeTypeDescription>();
    for (let cur: AttributeTypeDescription | undefined = at; cur !== undefined && !seen.has(cur); ) {
      seen.add(cur);
      const v = cur[field];
      if (v !== undefined) return v;
      cur = cur.sup === undefined ? undefined : (byName.get(cur.sup.toLowerCase()) ?? byName.get(cur.sup));
    }
    return undefined;
  };
  const list = schema.attributeTypes.map((at): AttributeInfo => {
    const name = at.names[0] ?? at.oid;
    const syntax = inherited(at, 'syntax');
    const equality = inherited(at, 'equality');
    const ordering = inherited(at, 'ordering');
    const substr = inherited(at, 'substr');
    const syntaxName = syntax === undefined ? undefined : syntaxNames.get(syntax);
    return {
      name,
      aliases: at.names.slice(1),
      oid: at.oid,
      ...(at.desc === undefined ? {} : { desc: at.desc }),
      ...(at.sup === undefined ? {} : { sup: at.sup }),
      ...(syntax === undefined ? {} : { syntax }),
      ...(syntaxName === undefined ? {} : { syntaxName }),
      ...(at.syntaxLength === undefined ? {} : { syntaxLength: at.syntaxLength }),
      ...(equality === undefined ? {} : { equality }),
      ...(ordering === undefined ? {} : { ordering }),
      ...(substr === undefined ? {} : { substr }),
      singleValue: at.singleValue,
      noUserModification: at.noUserModification,
      usage: at.usage,
      operational: at.usage !== 'userApplications',
      obsolete: at.obsolete,
      binary: (syntax !== undefined && BINARY_SYNTAXES.has(syntax)) || isBinaryAttribute(name),
    };
  });
  return list.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.name.localeCompare(b.name));
}

export interface SchemaDeps {
  readonly pool: LdapClientPool;
  readonly secrets: readonly string[];
}

function schema$(deps: SchemaDeps, ctx: OperationContext): Observable<LdapSchema> {
  return defer(() =>
    from(
      deps.pool.withShared(async ({ client, url }) => {
        try {
          return await readSchema(client, ctx.log);
        } catch (err) {
          throw toProtocolError(err, { requestId: ctx.requestId, dataSource: ctx.dataSource, url }, { operation: 'read schema', secrets: deps.secrets });
        }
      }),
    ),
  );
}

/** `schema` result: the parsed subschema. */
export function readSchemaOp(deps: SchemaDeps, ctx: OperationContext): Observable<LdapSchema> {
  return schema$(deps, ctx);
}

/** `attributes` result: `{attributes: AttributeInfo[]}`. */
export function readAttributesOp(deps: SchemaDeps, ctx: OperationContext): Observable<{ attributes: AttributeInfo[] }> {
  return schema$(deps, ctx).pipe(map((s) => ({ attributes: attributeList(s) })));
}
