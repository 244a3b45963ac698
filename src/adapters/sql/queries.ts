/**
 * The read statements of a `type: sql` source, as text with placeholders plus the values bound
 * to them: the keyset page (`WHERE key > $last ORDER BY key LIMIT n`), get by key, the values of
 * a page's child-table attributes, the column probe, and the filter turned into a condition.
 *
 * Nothing from a request is written into the text: attribute names are looked up in the mapping
 * (AttributeIndex) and replaced by the quoted configured column; every value is a bound
 * parameter; the page size is a configured integer.
 */
import { badRequest, type ProtocolErrorContext } from '../../adapter-kit/index.js';
import { Params, quoteTable, type SqlDialect } from './dialect.js';
import type { FilterNode } from './filter-parse.js';
import type { AttributeIndex, AttributeSource, ObjectTypeMapping } from './mapping.js';

export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/** The alias of the object type's rows in every statement. */
const ROW = 's';
/** The LIKE escape character (the same in both dialects, and not a string escape in either). */
const LIKE_ESCAPE = '!';

export function likeEscape(text: string): string {
  return text.replace(/[!%_]/g, (c) => `${LIKE_ESCAPE}${c}`);
}

/** The FROM item of an object type's rows: the quoted table, or the query as a derived table. */
export function sourceOf(dialect: SqlDialect, mapping: ObjectTypeMapping): string {
  return mapping.table !== undefined ? `${quoteTable(dialect, mapping.table)} AS ${ROW}` : `(${mapping.query ?? ''}) AS ${ROW}`;
}

const col = (dialect: SqlDialect, column: string): string => `${ROW}.${dialect.quoteIdentifier(column)}`;

/** A statement that returns no row but the source's columns (and fails when it is not readable). */
export function probeStatement(dialect: SqlDialect, mapping: ObjectTypeMapping): Statement {
  return { text: `SELECT * FROM ${sourceOf(dialect, mapping)} WHERE 1 = 0`, values: [] };
}

function selectList(dialect: SqlDialect, index: AttributeIndex): string {
  return index.mapping.attributes === undefined ? `${ROW}.*` : index.selectedColumns().map((c) => col(dialect, c)).join(', ');
}

/** One page: rows after `after` (the previous page's last key), in key order. */
export function pageStatement(dialect: SqlDialect, index: AttributeIndex, filter: FilterNode | undefined, after: unknown, limit: number, context: ProtocolErrorContext): Statement {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`page size ${limit}`);
  const params = new Params(dialect);
  const where: string[] = [];
  if (filter !== undefined) where.push(conditionOf(dialect, index, filter, params, context));
  const key = col(dialect, index.mapping.key);
  if (after !== undefined) where.push(`${key} > ${params.add(after)}`);
  const text = `SELECT ${selectList(dialect, index)} FROM ${sourceOf(dialect, index.mapping)}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY ${key} LIMIT ${limit}`;
  return { text, values: params.values };
}

/** The row of one key. */
export function getStatement(dialect: SqlDialect, index: AttributeIndex, key: unknown): Statement {
  const params = new Params(dialect);
  const text = `SELECT ${selectList(dialect, index)} FROM ${sourceOf(dialect, index.mapping)} WHERE ${col(dialect, index.mapping.key)} = ${params.add(key)}`;
  return { text, values: params.values };
}

/** The values of a child-table attribute for the entries of `keys`, ordered by entry and value. */
export function childStatement(dialect: SqlDialect, child: { readonly table: string; readonly foreignKey: string; readonly column: string }, keys: readonly unknown[]): Statement {
  const params = new Params(dialect);
  const fk = dialect.quoteIdentifier(child.foreignKey);
  const value = dialect.quoteIdentifier(child.column);
  const list = keys.map((k) => params.add(k)).join(', ');
  return { text: `SELECT c.${fk} AS entry_key, c.${value} AS v FROM ${quoteTable(dialect, child.table)} AS c WHERE c.${fk} IN (${list}) AND c.${value} IS NOT NULL ORDER BY c.${fk}, c.${value}`, values: params.values };
}

/** A comparison on one value expression. */
function comparison(dialect: SqlDialect, node: FilterNode, expr: string, params: Params): string {
  switch (node.kind) {
    case 'eq':
      return `${expr} = ${params.add(node.value)}`;
    case 'ge':
      return `${expr} >= ${params.add(node.value)}`;
    case 'le':
      return `${expr} <= ${params.add(node.value)}`;
    case 'substring': {
      const pattern = `${node.initial === undefined ? '%' : `${likeEscape(node.initial)}%`}${node.any.map((a) => `${likeEscape(a)}%`).join('')}${node.final === undefined ? '' : likeEscape(node.final)}`;
      return `${dialect.asText(expr)} LIKE ${params.add(pattern)} ESCAPE '${LIKE_ESCAPE}'`;
    }
    case 'present':
      return `${expr} IS NOT NULL`;
    default:
      throw new Error(`not a comparison: ${node.kind}`);
  }
}

/** The condition on a multi-valued attribute: some value matches (`EXISTS`). */
function someValue(dialect: SqlDialect, source: AttributeSource, node: FilterNode, params: Params, key: string): string {
  if (source.kind === 'child') {
    const c = source.child;
    const valueExpr = `c.${dialect.quoteIdentifier(c.column)}`;
    return `EXISTS (SELECT 1 FROM ${quoteTable(dialect, c.table)} AS c WHERE c.${dialect.quoteIdentifier(c.foreignKey)} = ${key} AND ${comparison(dialect, node, valueExpr, params)})`;
  }
  return `EXISTS (SELECT 1 FROM ${dialect.elementsOf(col(dialect, source.column), 'e')} WHERE ${comparison(dialect, node, 'e.v', params)})`;
}

/** The SQL condition of a filter (LDAP semantics: `!` is true where the inner is not true, NULL included). */
export function conditionOf(dialect: SqlDialect, index: AttributeIndex, node: FilterNode, params: Params, context: ProtocolErrorContext): string {
  switch (node.kind) {
    case 'and':
    case 'or': {
      if (node.children.length === 0) return node.kind === 'and' ? '1 = 1' : '1 = 0';
      return `(${node.children.map((c) => conditionOf(dialect, index, c, params, context)).join(node.kind === 'and' ? ' AND ' : ' OR ')})`;
    }
    case 'not':
      return `((${conditionOf(dialect, index, node.child, params, context)}) IS NOT TRUE)`;
    default: {
      if (node.attribute.toLowerCase().endsWith(';binary')) badRequest(`filter on ${node.attribute}: binary attributes cannot be filtered`, context);
      const { source } = index.source(node.attribute, context);
      if (source.kind === 'column') return comparison(dialect, node, col(dialect, source.column), params);
      return someValue(dialect, source, node, params, col(dialect, index.mapping.key));
    }
  }
}
