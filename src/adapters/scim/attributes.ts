/**
 * `attributes`: one flat list of attribute paths per resource type, for mapping UIs, built from
 * the resource type's core schema and its schema extensions (RFC 7643 §6 `schemaExtensions`,
 * §7 attribute definitions).
 *
 * Paths are what a filter, `attributes=` or a PATCH path would use (RFC 7644 §3.10):
 * `userName`, `name.givenName`, `emails` and `emails.value`; extension attributes carry their
 * schema URN: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`.
 *
 * Characteristics a definition leaves out take the RFC 7643 §2.2 defaults. The common
 * attributes `id`, `externalId` and `meta` (RFC 7643 §3.1) are added when the core schema does
 * not list them — most providers leave them out, and a mapping UI needs `externalId`.
 */
import type { ResourceType, Schema, SchemaAttribute } from './codecs.js';

export interface ScimAttributeInfo {
  /** Resource type name, e.g. `User`. */
  readonly resourceType: string;
  /** Schema URN the attribute is defined in. */
  readonly schema: string;
  /** Defined by a schema extension, not the core schema. */
  readonly extension: boolean;
  /** Attribute path, e.g. `name.givenName`, `urn:…:enterprise:2.0:User:employeeNumber`. */
  readonly path: string;
  readonly type: string;
  readonly multiValued: boolean;
  readonly required: boolean;
  readonly mutability: string;
  readonly returned: string;
  readonly uniqueness: string;
  readonly caseExact: boolean;
  readonly description?: string;
  readonly canonicalValues?: unknown[];
  readonly referenceTypes?: string[];
}

/** RFC 7643 §3.1 common attributes (`id`, `externalId`, `meta`), as §8.7.1 would define them. */
export const COMMON_ATTRIBUTES: readonly SchemaAttribute[] = [
  {
    name: 'id',
    type: 'string',
    multiValued: false,
    description: 'Unique identifier for the resource, assigned by the service provider.',
    required: false,
    caseExact: true,
    mutability: 'readOnly',
    returned: 'always',
    uniqueness: 'server',
  },
  {
    name: 'externalId',
    type: 'string',
    multiValued: false,
    description: 'Identifier of the resource as defined by the provisioning client.',
    required: false,
    caseExact: true,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
  },
  {
    name: 'meta',
    type: 'complex',
    multiValued: false,
    description: 'Resource metadata.',
    required: false,
    mutability: 'readOnly',
    returned: 'default',
    subAttributes: [
      { name: 'resourceType', type: 'string', caseExact: true, mutability: 'readOnly' },
      { name: 'created', type: 'dateTime', mutability: 'readOnly' },
      { name: 'lastModified', type: 'dateTime', mutability: 'readOnly' },
      { name: 'location', type: 'reference', referenceTypes: ['uri'], caseExact: true, mutability: 'readOnly' },
      { name: 'version', type: 'string', caseExact: true, mutability: 'readOnly' },
    ],
  },
];

function info(resourceType: string, schema: string, extension: boolean, path: string, a: SchemaAttribute): ScimAttributeInfo {
  // RFC 7643 §2.2 defaults for characteristics that are not given.
  return {
    resourceType,
    schema,
    extension,
    path,
    type: a.type ?? 'string',
    multiValued: a.multiValued ?? false,
    required: a.required ?? false,
    mutability: a.mutability ?? 'readWrite',
    returned: a.returned ?? 'default',
    uniqueness: a.uniqueness ?? 'none',
    caseExact: a.caseExact ?? false,
    ...(a.description === undefined ? {} : { description: a.description }),
    ...(a.canonicalValues === undefined || a.canonicalValues.length === 0 ? {} : { canonicalValues: a.canonicalValues }),
    ...(a.referenceTypes === undefined || a.referenceTypes.length === 0 ? {} : { referenceTypes: a.referenceTypes }),
  };
}

/** The attributes of one schema, sub-attributes flattened after their parent. */
export function flattenSchema(resourceType: string, schema: Schema, extension: boolean, extra: readonly SchemaAttribute[] = []): ScimAttributeInfo[] {
  const prefix = extension ? `${schema.id}:` : '';
  const out: ScimAttributeInfo[] = [];
  const walk = (attrs: readonly SchemaAttribute[], parent: string): void => {
    for (const a of attrs) {
      const path = parent === '' ? `${prefix}${a.name}` : `${parent}.${a.name}`;
      out.push(info(resourceType, schema.id, extension, path, a));
      // RFC 7643 §2.4: complex attributes have one level of sub-attributes; deeper ones are
      // flattened the same way should a provider define them.
      if (a.subAttributes !== undefined) walk(a.subAttributes, path);
    }
  };
  const own = schema.attributes ?? [];
  const names = new Set(own.map((a) => a.name.toLowerCase()));
  walk([...extra.filter((a) => !names.has(a.name.toLowerCase())), ...own], '');
  return out;
}

export interface ResourceTypeAttributes {
  readonly attributes: ScimAttributeInfo[];
  /** Schema URNs the resource type names but `/Schemas` does not define. */
  readonly missingSchemas: string[];
}

/** Core schema (with the common attributes) then each extension, in the resource type's order. */
export function resourceTypeAttributes(rt: ResourceType, schemas: ReadonlyMap<string, Schema>): ResourceTypeAttributes {
  const attributes: ScimAttributeInfo[] = [];
  const missingSchemas: string[] = [];
  const core = schemas.get(rt.schema);
  if (core === undefined) missingSchemas.push(rt.schema);
  else attributes.push(...flattenSchema(rt.name, core, false, COMMON_ATTRIBUTES));
  for (const ext of rt.schemaExtensions ?? []) {
    const schema = schemas.get(ext.schema);
    if (schema === undefined) missingSchemas.push(ext.schema);
    else attributes.push(...flattenSchema(rt.name, schema, true));
  }
  return { attributes, missingSchemas };
}
