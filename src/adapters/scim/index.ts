/** The SCIM 2.0 data-source adapter: `createScimAdapter` is registered for config `type: scim`. */
export { createScimAdapter, type ScimAdapterOptions } from './adapter.js';
export type { TestResult as ScimTestResult } from './test.js';
export type { ScimAttributeInfo } from './attributes.js';
export type { AttributesResult as ScimAttributesResult, SchemasResult as ScimSchemasResult } from './schema.js';
export type { ScimPage } from './search.js';
export type { WriteData as ScimWriteData } from './export.js';
export { STATUS_CODES as SCIM_STATUS_CODES, toProtocolError as scimErrorToProtocolError } from './errors.js';
export { eqFilter as scimEqFilter, filterValue as scimFilterValue } from './filter.js';
