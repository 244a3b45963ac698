/** SCIM error responses: thrown from resource handlers (scimmy renders them) or written as a body. */
import SCIMMY from 'scimmy';
import { ERROR_SCHEMA } from './constants.js';

/** `scimType` '' = none (scimmy's typings want a string; its error response omits an empty one). */
export function scimError(status: number, scimType: string, detail: string): InstanceType<typeof SCIMMY.Types.Error> {
  return new SCIMMY.Types.Error(status, scimType, detail);
}

export function errorBody(status: number, detail: string, scimType?: string): object {
  return { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail };
}
