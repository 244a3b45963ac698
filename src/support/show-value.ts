/**
 * A value as a problem message shows it (`expected …, got <value>`): JSON, secrets redacted
 * (`SECRET_KEYS`), the password of a `scheme://user:password@host` URL hidden, long values
 * shortened. Used by the io-ts reporter and by configuration checks.
 */
import { SECRET_KEYS } from './secret-keys.js';

const MAX_SHOWN = 120;

/** Hides the password of `scheme://user:password@host` URLs (proxies). */
export function maskUrlPassword(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]*@/i, '$1***@');
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
