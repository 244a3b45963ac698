/** What runs between authentication and the routers: ETag preconditions, filter check, response rewrites. */
import type { NextFunction, Request, Response } from 'express';
import SCIMMY from 'scimmy';
import { authSchemes } from './auth.js';
import { errorBody } from './errors.js';
import { etagMatches } from './etag.js';
import { isObject, toPlain, type Json } from './json.js';
import type { State } from './state.js';

const RESOURCE_PATH = /^\/(Users|Groups)\/([^/]+)$/;

/** ETag preconditions, PATCH projection guard, and the response rewrites described in index.ts. */
export function scimExtras(st: State) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const path = req.path;
    const m = RESOURCE_PATH.exec(path);
    if (m && m[2] !== '.search') {
      const store = m[1] === 'Users' ? st.users : st.groups;
      const current = store.get(decodeURIComponent(m[2]!));
      const ifMatch = req.headers['if-match'];
      const ifNoneMatch = req.headers['if-none-match'];
      if (current && ifMatch && ['PUT', 'PATCH', 'DELETE'].includes(req.method) && !etagMatches(ifMatch, current.meta.version)) {
        res.status(412).setHeader('ETag', current.meta.version).type('application/scim+json');
        res.send(JSON.stringify(errorBody(412, `Failed to update: resource changed on the server (now ${current.meta.version})`)));
        return;
      }
      if (current && ifNoneMatch && req.method === 'GET' && etagMatches(ifNoneMatch, current.meta.version)) {
        res.status(304).setHeader('ETag', current.meta.version);
        res.end();
        return;
      }
      if (req.method === 'PATCH') {
        // scimmy would project the resource *before* patching it, and the write would lose the rest.
        const query = req.query as Record<string, unknown>;
        delete query.attributes;
        delete query.excludedAttributes;
      }
    }
    const filter = req.query.filter;
    if (req.method === 'GET' && typeof filter === 'string' && filter.trim()) {
      try {
        // The string parser lets `userName eq` (no value) through; the expression-object check does not.
        new SCIMMY.Types.Filter(JSON.parse(JSON.stringify(new SCIMMY.Types.Filter(filter))) as Json[]);
      } catch (err) {
        // Otherwise the handler would fail later and scimmy would say invalidValue (RFC 7644 §3.4.2.2: invalidFilter).
        res.status(400).type('application/scim+json');
        res.send(JSON.stringify(errorBody(400, err instanceof Error ? err.message : 'Invalid filter', 'invalidFilter')));
        return;
      }
    }
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      if (res.statusCode >= 400) {
        res.removeHeader('ETag');
        res.removeHeader('Location');
        return json(body);
      }
      if (body instanceof SCIMMY.Messages.ListResponse) {
        const out = toPlain(body);
        const resources = Array.isArray(out.Resources) ? out.Resources : [];
        const startIndex = (res.locals as { scimStartIndex?: number }).scimStartIndex;
        return json({ ...out, ...(startIndex !== undefined ? { startIndex } : {}), itemsPerPage: resources.length });
      }
      if (path === '/ServiceProviderConfig' && isObject(body)) {
        const out = toPlain(body);
        return json({
          ...out,
          filter: { supported: true, maxResults: st.maxResults },
          authenticationSchemes: authSchemes(st),
          // RFC 9865 (SCIM cursor pagination) §4: index-based paging only.
          pagination: { cursor: false, index: true, defaultPaginationMethod: 'index', defaultPageSize: st.maxResults, maxPageSize: st.maxResults },
        });
      }
      return json(body);
    };
    next();
  };
}
