/**
 * Building SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.10).
 *
 * A comparison value (`compValue`) is a JSON literal: `false / null / true / number / string`
 * with the string rules of JSON (RFC 7159 §7). Escaping a string value is therefore exactly
 * JSON string serialisation: `"` and `\` are backslash-escaped, control characters become
 * `\n`, `\u0001`, …; everything else stays as is. A value spliced in raw would let
 * `x" or userName pr or userName eq "y` turn one match into "everything".
 */

/**
 * `attrPath = [URI ":"] ATTRNAME *1subAttr` (RFC 7644 §3.10), ATTRNAME = ALPHA *(nameChar),
 * nameChar = "-" / "_" / DIGIT / ALPHA (RFC 7643 §2.1); `$ref` is also an attribute name.
 * The URI prefix (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:`) is a schema URN.
 */
const ATTR_NAME = String.raw`(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)`;
const URN_PREFIX = String.raw`urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%]*:`;
export const ATTRIBUTE_PATH = new RegExp(String.raw`^(?:${URN_PREFIX})?${ATTR_NAME}(?:\.${ATTR_NAME})?$`);

export function isAttributePath(s: string): boolean {
  return ATTRIBUTE_PATH.test(s);
}

/** A filter comparison value (RFC 7644 §3.4.2.2 `compValue`). */
export type CompValue = string | number | boolean | null;

/** `compValue` as filter text: a JSON literal (strings escaped per RFC 7159 §7). */
export function filterValue(value: CompValue): string {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`a SCIM filter number must be finite, got ${String(value)}`);
  return JSON.stringify(value);
}

/** `attribute eq value`, e.g. `userName eq "bjensen"`. */
export function eqFilter(attribute: string, value: CompValue): string {
  if (!isAttributePath(attribute)) throw new RangeError(`not a SCIM attribute path: ${JSON.stringify(attribute)}`);
  return `${attribute} eq ${filterValue(value)}`;
}
