/**
 * The client address of a request. Without a trusted proxy in between it is the socket's peer.
 * When the peer is in `trustedProxies`, it is read from `Forwarded: for=…` (or, without that
 * header, `X-Forwarded-For`): walking the hops from the right, addresses that are trusted
 * proxies themselves are skipped, and the first other one is the client ("rightmost
 * untrusted": everything to its left was written by the client and may be forged). If every
 * hop is trusted, the leftmost is the client. A hop that hides its address, or an entry that
 * cannot be read, where the walk needs it means the client is not known: the socket's peer
 * stands in. Forwarding headers from any other peer are ignored (logged at debug).
 *
 * This one address is what the logs, `/v1/agents` and the authentication throttling see.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { forwardedHops, xForwardedForHops, type Hop } from './forwarding-headers.js';
import { plainAddress, type TrustedProxies } from './trusted-proxies.js';

export interface ClientAddress {
  /** The client's address (IPv4-mapped IPv6 shown as IPv4); `?` when the socket no longer knows its peer. */
  readonly address: string;
  /** The client's port, when known (the socket's, or one a `Forwarded` header gave). */
  readonly port: number | undefined;
  /** Taken from a trusted proxy's forwarding header (else it is the socket's peer). */
  readonly forwarded: boolean;
  /** The socket's peer (`address:port`): the proxy when `forwarded`. */
  readonly peer: string;
  /** Is the socket's peer a trusted proxy (whatever its headers said)? */
  readonly viaTrustedProxy: boolean;
}

/** `address:port`, or the address alone when the port is not known (the form of `remote` in logs). */
export function describeClient(client: ClientAddress): string {
  return client.port === undefined ? client.address : `${client.address}:${client.port}`;
}

/** Why the forwarding headers did not give the client (for the debug log), or undefined when they did or there were none. */
export type ResolveNote = { readonly header: string; readonly reason: string };

/** The client of a request from `peerAddress:peerPort` carrying `headers`. Never throws. */
export function resolveClientAddress(
  headers: IncomingMessage['headers'],
  peerAddress: string | undefined,
  peerPort: number | undefined,
  trusted: TrustedProxies,
): { client: ClientAddress; note?: ResolveNote } {
  const address = peerAddress === undefined || peerAddress === '' ? '?' : plainAddress(peerAddress);
  const peer = `${address}:${peerPort ?? '?'}`;
  const viaTrustedProxy = trusted.has(address);
  const direct: ClientAddress = { address, port: peerPort, forwarded: false, peer, viaTrustedProxy };
  const forwarded = headerText(headers['forwarded']);
  const xff = headerText(headers['x-forwarded-for']);
  const header = forwarded !== undefined ? 'Forwarded' : xff !== undefined ? 'X-Forwarded-For' : undefined;
  if (header === undefined) return { client: direct };
  if (!viaTrustedProxy) return { client: direct, note: { header, reason: `the peer ${address} is not in trustedProxies` } };
  const hops = forwarded !== undefined ? forwardedHops(forwarded) : xForwardedForHops(xff!);
  let leftmost: Extract<Hop, { kind: 'address' }> | undefined;
  for (const hop of hops) {
    if (hop.kind === 'malformed') return { client: direct, note: { header, reason: `${JSON.stringify(hop.text)}: ${hop.reason}` } };
    if (hop.kind === 'hidden') return { client: direct, note: { header, reason: `the hop ${JSON.stringify(hop.text)} does not disclose its address` } };
    leftmost = hop;
    if (!trusted.has(hop.address)) break;
  }
  if (leftmost === undefined) return { client: direct, note: { header, reason: 'no address in it' } };
  return { client: { address: leftmost.address, port: leftmost.port, forwarded: true, peer, viaTrustedProxy } };
}

/** One header's text (repeated fields joined with commas, as they are one list); undefined when absent or blank. */
function headerText(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text === undefined || text.trim() === '' ? undefined : text;
}

/** The client address of each request, resolved once (the upgrade, the auth hook and every log line ask). */
export class ClientAddresses {
  private readonly known = new WeakMap<IncomingMessage, ClientAddress>();

  constructor(
    private readonly trusted: TrustedProxies,
    private readonly log: Logger,
  ) {}

  /** Is this socket peer a trusted proxy? */
  isTrustedProxy(address: string | undefined): boolean {
    return this.trusted.has(address);
  }

  of(req: IncomingMessage): ClientAddress {
    let client = this.known.get(req);
    if (client === undefined) {
      const resolved = resolveClientAddress(req.headers, req.socket.remoteAddress, req.socket.remotePort, this.trusted);
      client = resolved.client;
      if (resolved.note !== undefined) {
        this.log.debug({ peer: client.peer, header: resolved.note.header, reason: resolved.note.reason }, 'forwarding header ignored: the socket peer is the client');
      }
      this.known.set(req, client);
    }
    return client;
  }
}
