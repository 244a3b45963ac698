/** Authentication: Bearer, optional Basic, optional OAuth 2.0 client-credentials token endpoint. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { REALM } from './constants.js';
import { errorBody } from './errors.js';
import { isObject } from './json.js';
import type { State } from './state.js';

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function authenticate(st: State) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const credentials = space < 0 ? '' : header.slice(space + 1).trim();
    let tokenError: string | undefined;
    if (scheme === 'bearer' && credentials) {
      if (safeEqual(credentials, st.token)) return next();
      const expiry = st.issued.get(credentials);
      if (expiry !== undefined && expiry > Date.now()) return next();
      tokenError = expiry === undefined ? 'The access token is not valid' : 'The access token expired';
    } else if (scheme === 'basic' && st.basic) {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0 && safeEqual(decoded.slice(0, colon), st.basic.userName) && safeEqual(decoded.slice(colon + 1), st.basic.password)) {
        return next();
      }
    }
    const challenges = [
      tokenError ? `Bearer realm="${REALM}", error="invalid_token", error_description="${tokenError}"` : `Bearer realm="${REALM}"`,
      ...(st.basic ? [`Basic realm="${REALM}", charset="UTF-8"`] : []),
    ];
    res.status(401).setHeader('WWW-Authenticate', challenges).type('application/scim+json');
    res.send(JSON.stringify(errorBody(401, tokenError ?? 'Authentication required')));
  };
}

export function authSchemes(st: State): object[] {
  return [
    {
      type: 'oauthbearertoken',
      name: 'OAuth Bearer Token',
      description: 'Authentication scheme using the OAuth Bearer Token Standard',
      specUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
      primary: true,
    },
    ...(st.oauth
      ? [
          {
            type: 'oauth2',
            name: 'OAuth 2.0 client credentials',
            description: `Tokens from POST ${st.origin}/oauth/token (grant_type=client_credentials)`,
            specUri: 'https://datatracker.ietf.org/doc/html/rfc6749#section-4.4',
          },
        ]
      : []),
    ...(st.basic
      ? [
          {
            type: 'httpbasic',
            name: 'HTTP Basic',
            description: 'Authentication scheme using the HTTP Basic Standard',
            specUri: 'https://datatracker.ietf.org/doc/html/rfc7617',
          },
        ]
      : []),
  ];
}

/** RFC 6749 §4.4 client credentials; client_secret_basic or client_secret_post. */
export function tokenEndpoint(st: State) {
  return (req: Request, res: Response): void => {
    const oauth = st.oauth!;
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const body = (isObject(req.body) ? req.body : {}) as Record<string, unknown>;
    const field = (k: string): string | undefined => (typeof body[k] === 'string' ? body[k] : undefined);
    let clientId = field('client_id');
    let clientSecret = field('client_secret');
    const header = req.headers.authorization ?? '';
    const usedBasic = /^basic /i.test(header);
    if (usedBasic) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const formDecode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
      try {
        clientId = formDecode(decoded.slice(0, Math.max(colon, 0)));
        clientSecret = formDecode(decoded.slice(colon + 1));
      } catch {
        clientId = clientSecret = undefined;
      }
    }
    const grantType = field('grant_type');
    if (!grantType) {
      res.status(400).json({ error: 'invalid_request', error_description: 'grant_type is required' });
      return;
    }
    if (!clientId || clientSecret === undefined || !safeEqual(clientId, oauth.clientId) || !safeEqual(clientSecret, oauth.clientSecret)) {
      if (usedBasic) res.setHeader('WWW-Authenticate', `Basic realm="${REALM}"`);
      res.status(401).json({ error: 'invalid_client', error_description: 'Client authentication failed' });
      return;
    }
    if (grantType !== 'client_credentials') {
      res.status(400).json({ error: 'unsupported_grant_type', error_description: `grant_type ${grantType} is not supported` });
      return;
    }
    const accessToken = randomBytes(32).toString('base64url');
    st.issued.set(accessToken, Date.now() + oauth.expiresInSec * 1000);
    const scope = field('scope');
    res.status(200).json({ access_token: accessToken, token_type: 'Bearer', expires_in: oauth.expiresInSec, ...(scope ? { scope } : {}) });
  };
}
