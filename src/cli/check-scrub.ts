/**
 * How `datasync-agent check` keeps secrets out of its table.
 *
 * Cells built from the configuration are masked BY KEY where they are built: a URL shows
 * `user:***@` only when the URL itself carries a password, a user name is shown, a password is
 * never read. Only free text the check did not write — an upstream's or the hub's error message —
 * is searched for secret VALUES, with the adapters' shared scrubber, and:
 *
 * - never inside a URL or a URL path standing on its own (`no agent endpoint at /idm-admin`): a
 *   URL keeps its path and host byte for byte (the classic defaults `password: admin` and
 *   `wss://host/idm-admin` must not become `…/idm-[REDACTED]`); in a URL
 *   only the userinfo password and the values of query parameters named like secret settings
 *   (`?password=…`, `?access_token=…`) are masked;
 * - only for values of {@link MIN_SCRUBBED_LENGTH} characters or more: a shorter value (the
 *   classic `password: 1`) cannot be told apart from ordinary text ("HTTP 401") and would mangle
 *   every message. The hub never echoes a password, and adapters scrub every secret of theirs,
 *   however short, in their own messages: this is the last line of defence, not the first.
 */
import { scrubber } from '../adapter-kit/scrub.js';
import { maskUrlPassword } from '../support/show-value.js';
import { SECRET_KEYS } from '../support/secret-keys.js';

/** Shorter secret values are not searched for in free text. */
export const MIN_SCRUBBED_LENGTH = 4;

/** A URL, or a URL path standing on its own (`no agent endpoint at /idm-admin`). */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*|(?<=^|[\s([])\/[^\s"'<>`]*/gi;
/** Query parameter names whose values are secrets besides the configured secret keys. */
const SECRET_PARAMS = new Set(['token', 'access_token', 'refresh_token', 'id_token', 'client_secret', 'apikey', 'api_key', 'key', 'secret', 'sig', 'signature']);

function isSecretParam(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_PARAMS.has(lower) || [...SECRET_KEYS].some((k) => k.toLowerCase() === lower);
}

/** A URL as shown: the userinfo password and secret query values masked, all else kept. */
export function maskUrl(url: string): string {
  const masked = maskUrlPassword(url);
  return masked.replace(/([?&])([^=&#\s]+)=([^&#\s]*)/g, (all, sep: string, name: string, value: string) =>
    value !== '' && isSecretParam(name) ? `${sep}${name}=***` : all,
  );
}

/**
 * A function that masks free text: URLs by their structure ({@link maskUrl}), the rest by the
 * secret values given (those of at least {@link MIN_SCRUBBED_LENGTH} characters).
 */
export function freeTextScrubber(secrets: Iterable<string>): (text: string) => string {
  const searched = [...new Set(secrets)].filter((s) => s.length >= MIN_SCRUBBED_LENGTH);
  const byValue = scrubber(searched);
  // A secret with a space or a quote would be cut in two where a URL in the text ends: those
  // are masked in the whole text first.
  const spanning = scrubber(searched.filter((s) => /[\s"'<>`]/.test(s)));
  return (whole) => {
    const text = spanning(whole);
    let out = '';
    let last = 0;
    for (const m of text.matchAll(URL_IN_TEXT)) {
      out += byValue(text.slice(last, m.index)) + maskUrl(m[0]);
      last = m.index + m[0].length;
    }
    return out + byValue(text.slice(last));
  };
}
