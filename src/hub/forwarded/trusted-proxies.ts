/**
 * The reverse proxies whose forwarding headers the hub believes (`trustedProxies` in hub.yaml):
 * single addresses and CIDR ranges, IPv4 and IPv6, matched with node:net's `BlockList`. An
 * IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`, what a listener on `::` reports) matches the IPv4
 * rules. With no entries nothing is trusted: forwarding headers are then never read.
 */
import { BlockList, isIP } from 'node:net';
import { parseAddressOrCidr } from '../../config/hub-config.js';

/** An IPv4-mapped IPv6 address as its IPv4 address; any other address unchanged. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

export class TrustedProxies {
  private readonly list = new BlockList();
  /** How many entries are configured (0: nothing is trusted). */
  readonly size: number;

  /** `entries` are hub.yaml's, already checked by the config codec; an invalid one throws. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const parsed = parseAddressOrCidr(entry);
      if ('problem' in parsed) throw new Error(`trustedProxies: ${parsed.problem}`);
      this.list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
    this.size = entries.length;
  }

  /** Is `address` (a socket's peer or an address from a forwarding header) a trusted proxy? */
  has(address: string | undefined): boolean {
    if (this.size === 0 || address === undefined) return false;
    const plain = plainAddress(address);
    const version = isIP(plain);
    if (version === 0 || plain.includes('%')) return false;
    return this.list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  }
}
