/**
 * The hops named by a forwarding header, read from the right (the hop the nearest proxy added)
 * towards the left, and only as far as the caller asks: `Forwarded` (RFC 7239: `for=` of each
 * element, quoted IPv6 `"[2001:db8::1]:1234"`, `unknown` and obfuscated `_ids`) and
 * `X-Forwarded-For` (addresses, optionally with a port). Reading from the right matters: the
 * left part is whatever the client sent, so a malformed left entry (an unbalanced quote,
 * garbage) must not spoil the entries the proxies appended after it.
 */
import { isIP } from 'node:net';
import { plainAddress } from './trusted-proxies.js';

/** One hop: an address (and port when given), a hop whose address is not disclosed, or an entry that cannot be read. */
export type Hop =
  | { readonly kind: 'address'; readonly address: string; readonly port: number | undefined }
  | { readonly kind: 'hidden'; readonly text: string }
  | { readonly kind: 'malformed'; readonly text: string; readonly reason: string };

/** Splits `text` at `separator` outside double-quoted strings, from the right: last part first. */
function* splitFromRight(text: string, separator: string): Generator<string> {
  let end = text.length;
  let quoted = false;
  for (let i = text.length - 1; i >= 0; i--) {
    const ch = text[i];
    if (ch === '"') {
      let backslashes = 0;
      for (let j = i - 1; j >= 0 && text[j] === '\\'; j--) backslashes++;
      // Inside a quoted string, `\"` is a quoted pair, not its end.
      if (!(quoted && backslashes % 2 === 1)) quoted = !quoted;
    } else if (ch === separator && !quoted) {
      yield text.slice(i + 1, end).trim();
      end = i;
    }
  }
  yield text.slice(0, end).trim();
}

/** An address with an optional port: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:80`. */
export function parseNode(text: string): Hop {
  let address = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    address = bracketed[1] ?? '';
    portText = bracketed[2];
    if (isIP(address) !== 6) return { kind: 'malformed', text, reason: 'not an IPv6 address in brackets' };
  } else if (isIP(text) === 0) {
    const colon = text.lastIndexOf(':');
    if (colon > 0 && isIP(text.slice(0, colon)) === 4) {
      address = text.slice(0, colon);
      portText = text.slice(colon + 1);
    } else if (text === 'unknown' || text.startsWith('_')) {
      return { kind: 'hidden', text };
    } else {
      return { kind: 'malformed', text, reason: 'not an address' };
    }
  }
  if (address.includes('%')) return { kind: 'malformed', text, reason: 'an address with a zone id' };
  let port: number | undefined;
  if (portText !== undefined) {
    // RFC 7239 lets a proxy hide the port too (`_obfuscated`): the address still counts.
    if (/^\d{1,5}$/.test(portText) && Number(portText) <= 65535) port = Number(portText);
    else if (!portText.startsWith('_')) return { kind: 'malformed', text, reason: 'not a port' };
  }
  return { kind: 'address', address: plainAddress(address), port };
}

/** The value of a `token=value` pair: the token, or the quoted string with its quoted pairs undone. */
function pairValue(raw: string): string | undefined {
  if (!raw.startsWith('"')) return /^[!#$%&'*+.^_`|~0-9A-Za-z:[\]-]+$/.test(raw) ? raw : undefined;
  if (raw.length < 2 || !raw.endsWith('"')) return undefined;
  let out = '';
  for (let i = 1; i < raw.length - 1; i++) {
    const ch = raw[i]!;
    if (ch === '\\') {
      i++;
      if (i >= raw.length - 1) return undefined;
      out += raw[i]!;
    } else if (ch === '"') {
      return undefined;
    } else {
      out += ch;
    }
  }
  return out;
}

/** The hop of one `Forwarded` element (`for=...;proto=...;by=...`). */
function forwardedElement(element: string): Hop {
  let node: string | undefined;
  for (const pair of [...splitFromRight(element, ';')].reverse()) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return { kind: 'malformed', text: element, reason: `${JSON.stringify(pair)} is not a name=value pair` };
    const name = pair.slice(0, eq).trim().toLowerCase();
    const value = pairValue(pair.slice(eq + 1).trim());
    if (value === undefined) return { kind: 'malformed', text: element, reason: `the value of ${name} is neither a token nor a quoted string` };
    if (name === 'for') {
      if (node !== undefined) return { kind: 'malformed', text: element, reason: 'more than one for= in one element' };
      node = value;
    }
  }
  // A proxy that does not say whom it talked to hides that hop, as `for=unknown` would.
  if (node === undefined) return { kind: 'hidden', text: element };
  return parseNode(node);
}

/** The hops of a `Forwarded` header, nearest first. */
export function* forwardedHops(header: string): Generator<Hop> {
  for (const element of splitFromRight(header, ',')) {
    yield element === '' ? { kind: 'malformed', text: element, reason: 'an empty element' } : forwardedElement(element);
  }
}

/** The hops of an `X-Forwarded-For` header, nearest first. */
export function* xForwardedForHops(header: string): Generator<Hop> {
  const entries = header.split(',');
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!.trim();
    yield entry === '' ? { kind: 'malformed', text: entry, reason: 'an empty entry' } : parseNode(entry);
  }
}
