/**
 * An object type's mapping as the queries use it: where its rows come from, its key column, and
 * which column (or list) each attribute is. Attributes are looked up case-insensitively (as in
 * LDAP); an attribute the mapping does not know is a BAD_REQUEST — a name from a request never
 * becomes an identifier by itself.
 *
 * With `attributes` configured, an entry has exactly those attributes. Without, it has every
 * column of the table or query under the column's own name: the column list is then the one the
 * server reports for the source (`columns`), never a name taken from the request.
 */
import { badRequest, type ProtocolErrorContext } from '../../adapter-kit/index.js';
import type { ChildTableValues, MultiValued, ObjectTypeConfig, SqlConfig } from './config.js';

export type AttributeSource =
  | { readonly kind: 'column'; readonly column: string }
  | { readonly kind: 'array'; readonly column: string }
  | { readonly kind: 'child'; readonly child: ChildTableValues };

export interface ObjectTypeMapping {
  readonly name: string;
  readonly table?: string;
  readonly query?: string;
  readonly key: string;
  /** Attribute → column, as configured; undefined: every column under its own name. */
  readonly attributes?: ReadonlyMap<string, string>;
  readonly multiValued: ReadonlyMap<string, MultiValued>;
}

export function mappingsOf(config: SqlConfig): ReadonlyMap<string, ObjectTypeMapping> {
  return new Map(Object.entries(config.objectTypes).map(([name, o]) => [name, mappingOf(name, o)]));
}

function mappingOf(name: string, o: ObjectTypeConfig): ObjectTypeMapping {
  return {
    name,
    ...(o.table === undefined ? {} : { table: o.table }),
    ...(o.query === undefined ? {} : { query: o.query.trim().replace(/;\s*$/, '') }),
    key: o.key,
    ...(o.attributes === undefined ? {} : { attributes: new Map(Object.entries(o.attributes)) }),
    multiValued: new Map(Object.entries(o.multiValued ?? {})),
  };
}

/** Attribute → where its values are, for one object type (built once its columns are known). */
export class AttributeIndex {
  /** Attribute name (as the entry shows it) → source. */
  readonly sources: ReadonlyMap<string, AttributeSource>;
  private readonly lower: ReadonlyMap<string, string>;

  /** `columns`: the columns the server reports for the source (used when no `attributes` are configured). */
  constructor(
    readonly mapping: ObjectTypeMapping,
    columns: readonly string[],
  ) {
    const sources = new Map<string, AttributeSource>();
    const arrayColumns = new Set<string>();
    for (const [attr, mv] of mapping.multiValued) {
      if ('arrayColumn' in mv) arrayColumns.add(mv.arrayColumn);
      sources.set(attr, 'arrayColumn' in mv ? { kind: 'array', column: mv.arrayColumn } : { kind: 'child', child: mv });
    }
    const plain = mapping.attributes ?? new Map(columns.filter((c) => !arrayColumns.has(c)).map((c) => [c, c]));
    for (const [attr, column] of plain) if (!sources.has(attr)) sources.set(attr, { kind: 'column', column });
    this.sources = sources;
    this.lower = new Map([...sources.keys()].map((a) => [a.toLowerCase(), a]));
  }

  /** The attribute as the mapping spells it, or undefined. */
  name(attribute: string): string | undefined {
    return this.sources.has(attribute) ? attribute : this.lower.get(attribute.toLowerCase());
  }

  /** Where an attribute's values are; BAD_REQUEST naming the known attributes when it is not mapped. */
  source(attribute: string, context: ProtocolErrorContext): { readonly name: string; readonly source: AttributeSource } {
    const name = this.name(attribute);
    const source = name === undefined ? undefined : this.sources.get(name);
    if (name === undefined || source === undefined) {
      return badRequest(`unknown attribute ${JSON.stringify(attribute)} of object type ${this.mapping.name} (known: ${[...this.sources.keys()].sort().join(', ')})`, context);
    }
    return { name, source };
  }

  /** The columns a row must have: the key, the plain attributes' and the array columns. */
  selectedColumns(): string[] {
    const columns = new Set<string>([this.mapping.key]);
    for (const s of this.sources.values()) if (s.kind !== 'child') columns.add(s.column);
    return [...columns];
  }

  /** The child tables whose rows give values, by attribute. */
  children(): [string, ChildTableValues][] {
    const out: [string, ChildTableValues][] = [];
    for (const [attr, s] of this.sources) if (s.kind === 'child') out.push([attr, s.child]);
    return out;
  }
}
