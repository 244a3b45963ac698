/**
 * The "source" that authentication penalties and connection limits are counted by: the peer's
 * IPv4 address, or the /64 prefix of an IPv6 address (one host usually holds a whole /64, so
 * counting single IPv6 addresses would give an attacker billions of fresh identities).
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as their IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The source key of a peer address; `'?'` when the socket no longer knows its peer. */
export function sourceOf(address: string | undefined): string {
  if (address === undefined || address === '') return '?';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  return `${ipv6Prefix64(address)}::/64`;
}

/** The first four 16-bit groups of an IPv6 address, without leading zeros. */
function ipv6Prefix64(address: string): string {
  const bare = address.split('%')[0] ?? address;
  const [head = '', tail] = bare.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? g : (parseInt(g, 16) || 0).toString(16)))
    .join(':');
}
