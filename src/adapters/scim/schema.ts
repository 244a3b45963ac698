/**
 * `resourceTypes`, `schema` and `attributes`: the provider's discovery endpoints (RFC 7644 §4),
 * `/ResourceTypes` and `/Schemas`, read fresh on every call (an admin looking at them wants
 * the server's current answer). A definition that does not decode is skipped, counted and
 * logged — one vendor quirk must not hide the rest from the mapping UI.
 */
import { concatMap, defer, map, type Observable } from 'rxjs';
import type { ProtocolErrorContext } from '../../protocol/errors.js';
import type { OperationContext } from '../../adapter-kit/adapter.js';
import { resourceTypeAttributes, type ScimAttributeInfo } from './attributes.js';
import { listItems, Schema, type ResourceType } from './codecs.js';
import type { ScimDeps } from './deps.js';

export interface SchemasResult {
  readonly schemas: Schema[];
  /** Definitions that did not decode (each logged). */
  readonly skipped: number;
}

export interface AttributesResult {
  /** Every resource type's attributes, resource type by resource type (core schema first). */
  readonly attributes: ScimAttributeInfo[];
  /** Schemas a resource type names that `/Schemas` does not define. */
  readonly missingSchemas?: Array<{ readonly resourceType: string; readonly schema: string }>;
}

function context(ctx: OperationContext): ProtocolErrorContext {
  return { requestId: ctx.requestId, dataSource: ctx.dataSource };
}

function schemas$(deps: ScimDeps, ctx: OperationContext): Observable<SchemasResult> {
  return defer(() =>
    deps.client.request({ method: 'GET', path: '/Schemas' }, context(ctx)).pipe(
      map((res) => {
        const { items, skipped } = listItems(Schema, res.body, 'Schemas', context(ctx));
        if (skipped.length > 0) ctx.log.warn({ skipped: skipped.length }, 'SCIM schema definitions that do not decode were skipped');
        return { schemas: items, skipped: skipped.length };
      }),
    ),
  );
}

/** `resourceTypes` result: `{resourceTypes}` as the provider defines them (RFC 7643 §6). */
export function readResourceTypesOp(deps: ScimDeps, ctx: OperationContext): Observable<{ resourceTypes: ResourceType[] }> {
  return deps.directory.list(ctx, true).pipe(map((resourceTypes) => ({ resourceTypes })));
}

/** `schema` result: `{schemas, skipped}` (RFC 7643 §7 schema resources, unknown members kept). */
export function readSchemaOp(deps: ScimDeps, ctx: OperationContext): Observable<SchemasResult> {
  return schemas$(deps, ctx);
}

/** `attributes` result: flat attribute paths per resource type, extensions included. */
export function readAttributesOp(deps: ScimDeps, ctx: OperationContext): Observable<AttributesResult> {
  return deps.directory.list(ctx, true).pipe(
    concatMap((types) =>
      schemas$(deps, ctx).pipe(
        map(({ schemas }): AttributesResult => {
          const byId = new Map(schemas.map((s) => [s.id, s]));
          const attributes: ScimAttributeInfo[] = [];
          const missingSchemas: Array<{ resourceType: string; schema: string }> = [];
          for (const rt of types) {
            const r = resourceTypeAttributes(rt, byId);
            attributes.push(...r.attributes);
            missingSchemas.push(...r.missingSchemas.map((schema) => ({ resourceType: rt.name, schema })));
          }
          if (missingSchemas.length > 0) ctx.log.warn({ missingSchemas }, 'SCIM resource types name schemas that /Schemas does not define');
          return missingSchemas.length === 0 ? { attributes } : { attributes, missingSchemas };
        }),
      ),
    ),
  );
}
