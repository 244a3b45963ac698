/** The public types of the SCIM test server: options, the handle, stored resources, recorded requests. */
import type { ENTERPRISE } from './constants.js';

export interface ScimServerOptions {
  /** Seeded users `user00001`…; default 1200. */
  users?: number;
  /** Seeded groups `group01`…; default 20. Seeded user n is a member of group ((n-1) mod groups)+1. */
  groups?: number;
  /** Bearer token accepted on every request; default random. */
  token?: string;
  /** Also accept HTTP Basic with these credentials. */
  basic?: { userName: string; password: string };
  /** Also serve `POST /oauth/token` (client_credentials) and accept the tokens it issues. */
  oauth?: { clientId: string; clientSecret: string; /** default 3600 */ expiresInSec?: number };
  /** Serve https (e.g. `makeTestPki(dir).server`). */
  tls?: { certFile: string; keyFile: string };
  /** Delay before every request is handled. */
  latencyMs?: number;
  /** Largest page (and default page size); advertised as filter.maxResults. Default 200. */
  maxResults?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without query, e.g. `/scim/v2/Users`. */
  path: string;
  /** Decoded query parameters (last value wins). */
  query: Record<string, string>;
  /** 0 while in flight (or if the connection was closed before a response). */
  status: number;
  /** Arrival, ms since the epoch. */
  at: number;
  /** Response finished, ms since the epoch. */
  end?: number;
}

export interface ScimMeta {
  resourceType: 'User' | 'Group';
  created: string;
  lastModified: string;
  /** Weak ETag, `W/"<revision>"`. */
  version: string;
  location: string;
}

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
  display?: string;
}

export interface ScimUser {
  id: string;
  schemas: string[];
  meta: ScimMeta;
  userName: string;
  externalId?: string;
  displayName?: string;
  name?: { formatted?: string; givenName?: string; familyName?: string; middleName?: string };
  emails?: ScimEmail[];
  active?: boolean;
  /** Write-only (never returned over SCIM); kept for assertions. */
  password?: string;
  [ENTERPRISE]?: {
    employeeNumber?: string;
    department?: string;
    manager?: { value?: string; $ref?: string; displayName?: string };
    [attr: string]: unknown;
  };
  [attr: string]: unknown;
}

export interface ScimMember {
  value: string;
  display?: string;
  $ref?: string;
  type?: 'User' | 'Group';
}

export interface ScimGroup {
  id: string;
  schemas: string[];
  meta: ScimMeta;
  displayName: string;
  externalId?: string;
  members?: ScimMember[];
  [attr: string]: unknown;
}

export interface ScimServer {
  /** Base URL, e.g. `http://127.0.0.1:PORT/scim/v2`. */
  readonly url: string;
  readonly port: number;
  /** The static bearer token. */
  readonly token: string;
  /** `…/oauth/token` when `oauth` is set. */
  readonly tokenUrl: string | undefined;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** One line per request and per server error; print it when a test fails. */
  readonly log: string[];
  /** The live store (read it; write through SCIM). */
  readonly store: { readonly users: Map<string, ScimUser>; readonly groups: Map<string, ScimGroup> };
  userByName(userName: string): ScimUser | undefined;
  /** The next request (any path) is answered with this; calls queue up. */
  failNext(status: number, body?: object, headers?: Record<string, string>): void;
  setLatency(ms: number): void;
  /** Close the listener and every connection; the data stays. */
  stop(): Promise<void>;
  /** Listen again on the same port with the same data. */
  start(): Promise<void>;
  close(): Promise<void>;
}
