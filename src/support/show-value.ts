/**
 * A value as a problem message shows it (`expected …, got <value>`): JSON, secrets redacted
 * (`SECRET_KEYS`), the password of a `scheme://user:password@host` URL hidden, long values
 * shortened. Used by the io-ts reporter and by configuration checks.
 */
import { SECRET_KEYS } from './secret-keys.js';
import { redactUrlsIn, userinfoSpan } from './proxy-url.js';

const MAX_SHOWN = 120;

/**
 * Hides the password of a `scheme://user:password@host` URL (proxies, SQL URLs), keeping the
 * user name: `http://user:***@host`. The password ends where `redactUrl` says (the last `@`
 * before a host), so unencoded `@ / : # ?` and spaces in it stay hidden. Userinfo without a
 * `:` (a token) is hidden whole. URLs inside a longer text are masked like `redactUrlsIn`.
 */
export function maskUrlPassword(s: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return redactUrlsIn(s);
  const span = userinfoSpan(s);
  if (span === undefined) return s;
  const colon = s.indexOf(':', span.start);
  const kept = colon >= 0 && colon < span.end ? s.slice(span.start, colon + 1) : '';
  return `${s.slice(0, span.start)}${kept}***${s.slice(span.end)}`;
}

/** A value as shown after `got`: JSON, secrets redacted, long values shortened. */
export function showValue(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing';
  if (secret) return `<redacted ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}>`;
  let json: string;
  try {
    json = JSON.stringify(value, (key, v: unknown) =>
      SECRET_KEYS.has(key) ? '<redacted>' : typeof v === 'string' ? maskUrlPassword(v) : v,
    );
  } catch {
    json = Object.prototype.toString.call(value);
  }
  return json.length > MAX_SHOWN ? `${json.slice(0, MAX_SHOWN - 1)}…` : json;
}
