/**
 * The one secret scrubber of the adapters' error tables (ldap, scim, ldif): every configured
 * secret (bind password, bearer token, Basic password, OAuth client secret and the tokens it
 * was issued) is replaced by `[REDACTED]` wherever a server may have echoed it into a message.
 *
 * The rule: **every non-empty secret is redacted**, however short. A one- to three-character
 * secret replaced everywhere mangles the message around it, but the message still carries its
 * code and `details`; a short password left in an error frame is a leaked password. (A secret
 * that short is a configuration problem of its own.)
 *
 * Besides the literal text, the forms a secret takes in HTTP and JSON messages are redacted
 * too: percent-encoded (RFC 3986, as in a query or a path), form-encoded (`+` for spaces, as in
 * an `application/x-www-form-urlencoded` body, RFC 6749 §2.3.1), JSON-string-escaped (a server
 * echoing a request body) and base64 (RFC 4648 §4 and §5, as in a credential header). A Basic
 * credential joins user and password before encoding, so its base64 is not the password's: the
 * SCIM authenticator lists the whole credential as a secret of its own.
 *
 * All forms are replaced in one pass, longest first: a secret that contains another is redacted
 * whole, and a secret cannot match inside an earlier `[REDACTED]` (e.g. a secret `ACT`).
 */

export const REDACTED = '[REDACTED]';

/** The spellings of `secret` a message may carry (the literal first). */
export function secretForms(secret: string): string[] {
  if (secret === '') return [];
  const utf8 = Buffer.from(secret, 'utf8');
  const percent = encodeURIComponent(secret);
  return [
    secret,
    percent,
    percent.replace(/%20/g, '+'),
    JSON.stringify(secret).slice(1, -1),
    utf8.toString('base64'),
    utf8.toString('base64url'),
  ];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A function that redacts `secrets` (computed once: use it for many messages). */
export function scrubber(secrets: readonly string[]): (message: string) => string {
  const forms = [...new Set(secrets.flatMap(secretForms))].sort((a, b) => b.length - a.length);
  if (forms.length === 0) return (message) => message;
  const pattern = new RegExp(forms.map(escapeRegExp).join('|'), 'g');
  return (message) => message.replace(pattern, REDACTED);
}

/** Redacts every form of every non-empty secret in `message`. */
export function scrub(message: string, secrets: readonly string[] = []): string {
  return secrets.length === 0 ? message : scrubber(secrets)(message);
}
