/**
 * A real SCIM 2.0 service provider for tests (docs/architecture.md, "Testing"), not a mock: `scimmy` (RFC 7643/7644
 * schemas, filter parsing, PatchOp, attribute projection, list responses) behind the Express 4
 * routers of `scimmy-routers`, with an in-memory store, on 127.0.0.1 and a port picked by the OS.
 *
 * What this fixture adds to scimmy, and why:
 * - Listing: the egress handler applies `filter.match` itself (scimmy leaves filtering to the
 *   handler), sorts, and returns only the requested page. scimmy would otherwise turn every stored
 *   resource into a schema instance (~1 ms each, over a second for 1,200 users) before paging. The
 *   page goes to scimmy's ListResponse as an already-sorted first page; the real `startIndex` and
 *   `itemsPerPage` (= resources in this page, RFC 7644 §3.4.2; scimmy reports the requested
 *   `count`) are written back into the response body. Every *returned* resource still costs ~1 ms
 *   of scimmy schema coercion: a 200-resource page takes ~200 ms.
 * - Sorting is done here too (before paging and before projection, so the sort key need not be
 *   returned); it is stable, insertion order breaks ties.
 * - `count` is capped at, and defaults to, `maxResults` (200), which ServiceProviderConfig
 *   advertises as `filter.maxResults` and (RFC 9865) `pagination.maxPageSize`.
 * - Filters: string comparisons are case-insensitive for `caseExact: false` attributes
 *   (RFC 7643 §2.2; scimmy compares with `===`), `urn:…:User:attr` paths of the core and the
 *   enterprise schema work (scimmy's parser keeps them as one opaque key), and filters on a complex
 *   attribute a resource lacks (e.g. `name.familyName` on a user without `name`) do not crash
 *   scimmy's matcher (which answers 400 then). Unparseable filters, including `userName eq` (no
 *   value, which scimmy's string parser accepts), are 400 `invalidFilter`.
 * - `sortBy` on extension attributes (scimmy splits the path on "." and breaks on "2.0") and
 *   type-aware ordering (strings case-insensitively, missing values last in ascending order).
 *   An unknown `sortBy` attribute is a 400 `invalidValue`.
 * - ETags: scimmy and scimmy-routers know `meta.version` only as an attribute. Here every
 *   resource has `meta.version` `W/"<revision>"`, single-resource responses carry it as `ETag`,
 *   `If-Match` on PUT/PATCH/DELETE that does not match answers 412, `If-None-Match` on GET by id
 *   that matches answers 304. Express's own body-hash ETags are off.
 * - Uniqueness of `userName` (case-insensitive) → 409 `uniqueness`; `Location` on 201;
 *   server-computed `groups` on users, `display`/`$ref`/`type` on members and
 *   `manager.displayName`/`$ref`; unknown member ids → 400 `invalidValue`; deleting a user
 *   removes it from its groups.
 * - Auth (Bearer, optional Basic, optional OAuth 2.0 client-credentials token endpoint) runs before
 *   the routers so that a 401 carries `WWW-Authenticate` and a SCIM error body. Discovery
 *   endpoints require authentication too.
 *
 * What scimmy does on its own: PATCH reads the resource through the egress handler, applies the
 * operations (add/replace/remove, filtered paths such as `members[value eq "…"]`, extension
 * paths) and writes the result through the ingress handler (which therefore cannot tell PUT from
 * PATCH); it answers 200 with the resource, or 204 when nothing changed. Projection
 * (`attributes`/`excludedAttributes`) and `returned: never` (password) are scimmy's.
 *
 * Known limits (scimmy 1.3.5): `(a or b) and not (c)` loses the `not (c)` clause;
 * `emails[type eq "x"] and emails[value co "y"]` is evaluated as one `emails[…]` (same element);
 * PATCH ignores `attributes`/`excludedAttributes` here because scimmy would project the resource
 * *before* patching and the write would drop everything else; `/Bulk` is not offered (501), and
 * the root `/.search` across resource types pages each type separately. A PUT without `password`
 * keeps the stored one (the ingress handler cannot tell PUT from PATCH, and PATCH never sees it).
 *
 * scimmy and its routers are process-wide singletons (resource handlers, Config, base paths):
 * the handlers and the one router instance are set up once per module instance and find the
 * server they serve through `req.app`, so several servers can run side by side in one test file.
 * The routers set the global base path at the start of each request and scimmy reads it when it
 * renders the response; that is only safe because the handlers are synchronous (nothing but
 * microtasks in between). Keep them that way.
 *
 * Files: `types.ts`/`constants.ts` (public types, URNs), `state.ts` (per-server state, handler
 * context), `app.ts`/`middleware.ts` (Express wiring, recording, latency, faults), `listener.ts`
 * (listen/stop/start), `auth.ts`, `scim-extras.ts` (ETags, filter check, response rewrites),
 * `router.ts` + `user-handlers.ts`/`group-handlers.ts` (scimmy), `store.ts`, `filter.ts`,
 * `sort.ts`, `paging.ts`, `seed.ts`, and small helpers (`json.ts`, `etag.ts`, `errors.ts`).
 */
import { beforeEach } from 'vitest';
import { createApp } from './app.js';
import { BASE_PATH } from './constants.js';
import { createListener } from './listener.js';
import { seed } from './seed.js';
import { createState } from './state.js';
import type { ScimServer, ScimServerOptions } from './types.js';

export { CORE_GROUP, CORE_USER, ENTERPRISE } from './constants.js';
export type { RecordedRequest, ScimEmail, ScimGroup, ScimMember, ScimMeta, ScimServer, ScimServerOptions, ScimUser } from './types.js';

export async function startScimServer(opts: ScimServerOptions = {}): Promise<ScimServer> {
  const scheme = opts.tls ? 'https' : 'http';
  const st = createState(opts);
  const timers = new Set<NodeJS.Timeout>();
  const app = createApp(st, timers);
  const listener = createListener(app, opts.tls, timers);
  await listener.start();
  st.origin = `${scheme}://127.0.0.1:${listener.port}`;
  seed(st, opts.users ?? 1200, opts.groups ?? 20);

  return {
    get url() {
      return `${st.origin}${BASE_PATH}`;
    },
    get port() {
      return listener.port;
    },
    token: st.token,
    tokenUrl: st.oauth ? `${st.origin}/oauth/token` : undefined,
    requests: st.requests,
    log: st.log,
    store: { users: st.users, groups: st.groups },
    userByName: (userName) => {
      const id = st.userNames.get(userName.toLowerCase());
      return id === undefined ? undefined : st.users.get(id);
    },
    failNext(status, body, headers = {}) {
      st.faults.push({ status, body, headers });
    },
    setLatency(ms) {
      st.latencyMs = ms;
    },
    stop: listener.stop,
    start: listener.start,
    close: listener.close,
  };
}

/** On a failing test, print what the SCIM server saw during it. */
export function printScimLogOnFailure(get: () => ScimServer | undefined, maxLines = 200): void {
  beforeEach(({ onTestFailed }) => {
    const server = get();
    if (!server) return;
    const from = server.log.length;
    onTestFailed(() => {
      const lines = server.log.slice(from);
      console.error(`--- SCIM server log (${server.url}) during the failed test ---\n${lines.slice(-maxLines).join('\n')}`);
    });
  });
}
