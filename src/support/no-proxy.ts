/**
 * `NO_PROXY` matching: which hosts an outbound connection reaches without the proxy.
 *
 * The host-name rules are those of `proxy-from-env` (a unit test pins the parity), extended the
 * way curl and Go read the variable: CIDR ranges (`127.0.0.0/8`, `10.0.0.0/8`, `fd00::/8`) and
 * IPv6 literals (`::1`, `[::1]`, `[::1]:8443`). IP addresses are compared by value, so
 * `0:0:0:0:0:0:0:1` is `::1` and an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is its IPv4
 * address. Names are never resolved: `127.0.0.0/8` matches the target `127.0.0.1`, not
 * `localhost` (list `localhost` for that).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** An IP address in one canonical form: IPv4 dotted, IPv6 compressed lower case, mapped IPv4 as IPv4. */
interface Ip {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
}

/** `host` (brackets allowed around IPv6) as a canonical IP address, or undefined for a name. */
function canonicalIp(host: string): Ip | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(bare)) return { family: 'ipv4', address: new URL(`http://${bare}/`).hostname };
  if (!isIPv6(bare) || bare.includes('%')) return undefined;
  const compressed = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped?.[1] !== undefined && mapped[2] !== undefined) {
    const hi = Number.parseInt(mapped[1], 16);
    const lo = Number.parseInt(mapped[2], 16);
    return { family: 'ipv4', address: [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.') };
  }
  return { family: 'ipv6', address: compressed };
}

/** `a.b.c.d/n` or `x::/n` as a one-range BlockList, or undefined when `entry` is not a CIDR. */
function cidr(entry: string): BlockList | undefined {
  const m = /^\[?([^\]/]+)\]?\/(\d{1,3})$/.exec(entry);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  const net = canonicalIp(m[1]);
  const prefix = Number.parseInt(m[2], 10);
  if (net === undefined) return undefined;
  // An IPv4-mapped range (`::ffff:10.0.0.0/104`) is the IPv4 range it maps.
  const v4FromMapped = net.family === 'ipv4' && isIPv6(m[1]);
  const bits = v4FromMapped ? prefix - 96 : prefix;
  if (bits < 0 || bits > (net.family === 'ipv4' ? 32 : 128)) return undefined;
  const list = new BlockList();
  list.addSubnet(net.address, bits, net.family);
  return list;
}

/** One entry split into host and port (0 = any); IPv6 literals with or without brackets. */
function hostAndPort(entry: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed?.[1] !== undefined) return { host: bracketed[1], port: bracketed[2] === undefined ? 0 : Number.parseInt(bracketed[2], 10) };
  // Two or more colons without brackets: an IPv6 address, which cannot carry a port.
  if ((entry.match(/:/g) ?? []).length > 1) return { host: entry, port: 0 };
  const m = /^(.+):(\d+)$/.exec(entry);
  return m?.[1] !== undefined && m[2] !== undefined ? { host: m[1], port: Number.parseInt(m[2], 10) } : { host: entry, port: 0 };
}

/**
 * Whether `hostname` (as in `URL.host` minus the port: IPv6 in brackets) on `port` is excluded
 * from the proxy by `noProxy` (comma/space separated, case-insensitive):
 *
 * - `*` alone: every host;
 * - `host`: that host exactly; `.example.com` / `*.example.com`: by suffix (so NOT
 *   `example.com` itself, as in proxy-from-env);
 * - `host:port`, `[v6]:port`: only that port;
 * - an IPv4 or IPv6 address (`10.0.0.5`, `::1`, `[::1]`): that address, compared by value;
 * - `a.b.c.d/n`, `v6/n`: every IP literal in that range (host names are not resolved).
 */
export function isNoProxy(hostname: string, port: number, noProxy: string): boolean {
  const list = noProxy.toLowerCase();
  if (!list) return false;
  if (list === '*') return true;
  const targetIp = canonicalIp(hostname);
  return list.split(/[,\s]/).some((entry) => {
    if (!entry) return false;
    const range = cidr(entry);
    if (range !== undefined) return targetIp !== undefined && range.check(targetIp.address, targetIp.family);
    const { host, port: entryPort } = hostAndPort(entry);
    if (entryPort && entryPort !== port) return false;
    const entryIp = canonicalIp(host);
    if (entryIp !== undefined) return targetIp !== undefined && entryIp.family === targetIp.family && entryIp.address === targetIp.address;
    if (!/^[.*]/.test(host)) return hostname === host;
    return hostname.endsWith(host.startsWith('*') ? host.slice(1) : host);
  });
}
