/**
 * The scimmy-routers instance. scimmy and its routers are process-wide singletons (resource
 * handlers, Config, base paths): the handlers and this one router are set up once per module
 * instance and find the server they serve through `req.app`.
 */
import type { Request } from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { groupDegress, groupEgress, groupIngress } from './group-handlers.js';
import { stateOf, type Ctx } from './state.js';
import { userDegress, userEgress, userIngress } from './user-handlers.js';

let router: SCIMMYRouters | undefined;

/** Declares User (+ enterprise extension) and Group with the handlers above, once per module instance. */
export function scimRouter(): SCIMMYRouters {
  if (router) return router;
  const { User, Group } = SCIMMY.Resources;
  if (!SCIMMY.Resources.declared(User)) SCIMMY.Resources.declare(User.extend(SCIMMY.Schemas.EnterpriseUser, false));
  if (!SCIMMY.Resources.declared(Group)) SCIMMY.Resources.declare(Group);
  // scimmy's typings want its schema instances back from ingress/egress; at run time it takes plain
  // objects (and pushes them through the schema anyway).
  User.ingress(userIngress as never).egress(userEgress as never).degress(userDegress);
  Group.ingress(groupIngress as never).egress(groupEgress as never).degress(groupDegress);
  router = new SCIMMYRouters({
    type: 'bearer',
    // Authentication already happened (authenticate() in auth.ts); not a user, so /Me answers 501.
    handler: () => undefined as unknown as string,
    context: (req: Request): Ctx => ({ st: stateOf(req), req, res: req.res! }),
    baseUri: (req: Request) => stateOf(req).origin,
  });
  // The routers switch bulk on; nothing here implements ETags for bulk operations.
  SCIMMY.Config.set({ patch: true, filter: 200, sort: true, etag: true, bulk: false, changePassword: false });
  return router;
}
