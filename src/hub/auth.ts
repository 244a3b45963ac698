/**
 * Authenticates an agent's WebSocket upgrade: Basic credentials (scrypt hashes from hub.yaml)
 * or a client certificate — verified by the TLS layer against `tls.clientCa`, or forwarded by a
 * TLS-terminating trusted proxy in `forwardedClientCertificate.header` and verified here against
 * the same bundle (forwarded/forwarded-certificate.ts) — then mapped by subject CN or SAN to
 * tenants. The result is the set of tenants the agent may register for; `hello.tenantId` must
 * be one of them.
 *
 * A forwarded certificate is taken only from a trusted proxy peer, and from one header field:
 * from anyone else the header is refused (403), never ignored, so a client cannot pass as an
 * agent whose (public) certificate it copied. When the header comes from a trusted proxy it wins
 * over a certificate of the TLS handshake (which would be the proxy's own).
 *
 * Passwords are checked through `CredentialChecks` (admission/credential-checks.ts) under the
 * client address (forwarded/client-address.ts: the socket's peer, or the client a trusted proxy
 * names): a source address in its penalty window gets 429, a full hash queue 503 (both with
 * Retry-After), and a user name + password known to be wrong is refused without scrypt.
 * Certificates cost no hash and are never delayed, so a certificate agent behind the same
 * address as an attacker is not held up.
 */
import type { IncomingMessage } from 'node:http';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import { verifyPassword } from '../config/password-hash.js';
import type { HubConfig } from '../config/index.js';
import type { CredentialChecks } from './admission/credential-checks.js';
import { sourceOf } from './admission/source-address.js';
import type { ClientAddress } from './forwarded/client-address.js';
import type { ForwardedCertificateVerifier } from './forwarded/forwarded-certificate.js';

export type AgentPrincipal =
  | { readonly kind: 'basic'; readonly userName: string; readonly tenants: readonly string[] }
  | { readonly kind: 'certificate'; readonly subject: string; readonly tenants: readonly string[] };

export type AuthOutcome =
  | { readonly ok: true; readonly principal: AgentPrincipal }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string }
  | { readonly ok: false; readonly status: 429 | 503; readonly reason: string; readonly retryAfterSeconds: number };

type Tenants = HubConfig['tenants'];

/** Where a trusted proxy forwards client certificates (`forwardedClientCertificate`), and their verifier. */
export interface ForwardedCertificates {
  /** The header name, lower-case. */
  readonly header: string;
  readonly verifier: ForwardedCertificateVerifier;
}

/** What the upgrade handler knows about the request besides its headers. */
export interface UpgradeContext {
  /** The client address: throttling counts failures under it. */
  readonly client: ClientAddress;
  /** Set when the hub accepts forwarded client certificates. */
  readonly forwardedCertificates?: ForwardedCertificates | undefined;
}

/** A valid hash of a random password nobody knows (same scrypt cost as real ones). */
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

function certificateNames(cert: PeerCertificate): { cn: string | undefined; subject: string; sans: string[] } {
  const cnRaw: string | string[] | undefined = cert.subject?.CN;
  const cn = Array.isArray(cnRaw) ? cnRaw[0] : cnRaw;
  const subject = Object.entries(cert.subject ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(',');
  const sans = (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^(DNS|URI|IP Address|email):/, ''))
    .filter((s) => s.length > 0);
  return { cn, subject, sans };
}

function tenantsForCertificate(tenants: Tenants, cert: PeerCertificate): string[] {
  const { cn, subject, sans } = certificateNames(cert);
  const out: string[] = [];
  for (const [tenantId, tenant] of Object.entries(tenants)) {
    const match = tenant.agents.some((a) =>
      'certificateSubject' in a
        ? a.certificateSubject === cn || a.certificateSubject === subject
        : 'certificateSan' in a
          ? sans.includes(a.certificateSan)
          : false,
    );
    if (match) out.push(tenantId);
  }
  return out;
}

function parseBasic(header: string | undefined): { userName: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { userName: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

export async function authenticateAgent(req: IncomingMessage, tenants: Tenants, checks: CredentialChecks, context: UpgradeContext): Promise<AuthOutcome> {
  const socket = req.socket;
  const forwarded = context.forwardedCertificates;
  const fields = forwarded === undefined ? undefined : req.headersDistinct[forwarded.header]?.filter((v) => v.trim() !== '');
  if (forwarded !== undefined && fields !== undefined && fields.length > 0) {
    const name = forwarded.header;
    if (!context.client.viaTrustedProxy) {
      return { ok: false, status: 403, reason: `a client certificate in header ${name} is accepted only from a trusted proxy (trustedProxies); ${context.client.peer} is not one` };
    }
    if (fields.length > 1) return { ok: false, status: 401, reason: `header ${name} came ${fields.length} times: the proxy must set it, not add to it` };
    const verdict = forwarded.verifier.verify(fields[0]!);
    if (!verdict.ok) return { ok: false, status: 401, reason: `forwarded client certificate not trusted: ${verdict.reason}` };
    return certificateOutcome(tenants, verdict.leaf.toLegacyObject(), 'forwarded client certificate');
  }
  // A client certificate wins over Basic credentials, as in the classic agent.
  if (socket instanceof TLSSocket) {
    const cert = socket.getPeerCertificate();
    if (cert && Object.keys(cert).length > 0) {
      if (!socket.authorized) {
        return { ok: false, status: 401, reason: `client certificate not trusted: ${String(socket.authorizationError)}` };
      }
      return certificateOutcome(tenants, cert, 'client certificate');
    }
  }
  const basic = parseBasic(req.headers.authorization);
  if (!basic) return { ok: false, status: 401, reason: 'no client certificate and no Basic credentials' };
  const checked = await checks.check('agent', sourceOf(context.client.address), [basic.userName, basic.password], () =>
    tenantsForPassword(tenants, basic.userName, basic.password),
  );
  if (!checked.ok) return { ok: false, ...checked.refusal };
  const ids = checked.value;
  if (ids === undefined) return { ok: false, status: 401, reason: `invalid credentials for user ${JSON.stringify(basic.userName)}` };
  return { ok: true, principal: { kind: 'basic', userName: basic.userName, tenants: ids } };
}

/** The principal of a verified certificate, or 403 when no tenant maps it. */
function certificateOutcome(tenants: Tenants, cert: PeerCertificate, what: string): AuthOutcome {
  const ids = tenantsForCertificate(tenants, cert);
  const { cn, subject } = certificateNames(cert);
  if (ids.length === 0) return { ok: false, status: 403, reason: `${what} ${subject} is not mapped to any tenant` };
  return { ok: true, principal: { kind: 'certificate', subject: cn ?? subject, tenants: ids } };
}

/** The tenants whose credentials of this user name take this password; undefined for none. */
async function tenantsForPassword(tenants: Tenants, userName: string, password: string): Promise<string[] | undefined> {
  const ids: string[] = [];
  let checked = false;
  for (const [tenantId, tenant] of Object.entries(tenants)) {
    for (const a of tenant.agents) {
      if ('userName' in a && a.userName === userName) {
        checked = true;
        if (await verifyPassword(password, a.passwordHash)) ids.push(tenantId);
      }
    }
  }
  // Spend the same scrypt time for an unknown user name, so timing does not reveal which exist.
  if (!checked) await verifyPassword(password, DUMMY_HASH);
  return ids.length === 0 ? undefined : ids;
}
