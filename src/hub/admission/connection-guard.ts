/**
 * Bounds what a client can hold before it has proven who it is. A new TCP connection is
 * "pending" until its first request head arrives (a plain API request), or — for an agent
 * upgrade — until the upgrade is answered. Pending connections are capped in total and per
 * source address (source-address.ts); one over a cap is dropped at once. A pending connection
 * gets `headersTimeout` for its first request head (TLS handshake included) and then, if it is
 * an upgrade, `upgradeTimeout` to be authenticated and answered; then it is destroyed. Later
 * request heads on a kept-alive connection are timed by the server's own `headersTimeout`.
 *
 * The guard runs before any request head, so it sees only the socket's peer: a trusted reverse
 * proxy (`exemptFromPerAddressCap`) carries many clients on its one address and is exempt from
 * the per-address cap (the total cap and the timeouts still hold for it).
 */
import type { Socket } from 'node:net';
import { sourceOf } from './source-address.js';

export interface ConnectionGuardOptions {
  readonly headersTimeout: number;
  readonly upgradeTimeout: number;
  readonly maxPending: number;
  readonly maxPendingPerAddress: number;
  /** Peers the per-address cap does not apply to (trusted reverse proxies). */
  readonly exemptFromPerAddressCap?: (address: string | undefined) => boolean;
}

/** Why the guard dropped a connection (the `reason` label of the refusals metric). */
export type GuardRefusal = 'pending_total' | 'pending_per_address' | 'headers_timeout' | 'upgrade_timeout';

interface Pending {
  readonly source: string;
  timer: NodeJS.Timeout;
}

/** A connection's identity while it is open: the peer's address and port are unique per listener. */
function keyOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? '?'}|${socket.remotePort ?? '?'}`;
}

export class ConnectionGuard {
  private readonly pending = new Map<string, Pending>();
  private readonly perSource = new Map<string, number>();

  constructor(
    private readonly options: ConnectionGuardOptions,
    private readonly onRefused: (reason: GuardRefusal, source: string) => void,
  ) {}

  /** Connections pending now. */
  pendingCount(): number {
    return this.pending.size;
  }

  /** A new TCP connection (the listener's `connection` event, before TLS). */
  connected(socket: Socket): void {
    const source = sourceOf(socket.remoteAddress);
    const key = keyOf(socket);
    if (this.pending.size >= this.options.maxPending) return this.drop(socket, 'pending_total', source);
    if ((this.perSource.get(source) ?? 0) >= this.options.maxPendingPerAddress && !this.options.exemptFromPerAddressCap?.(socket.remoteAddress)) {
      return this.drop(socket, 'pending_per_address', source);
    }
    const entry: Pending = { source, timer: this.timer(socket, this.options.headersTimeout, 'headers_timeout', source) };
    this.pending.set(key, entry);
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    socket.once('close', () => {
      if (this.pending.get(key) === entry) this.release(key, entry);
    });
  }

  /** A plain request head arrived on the connection: it is no longer pending. */
  requestArrived(socket: Socket): void {
    this.done(socket);
  }

  /** An upgrade head arrived: the connection stays pending, now for `upgradeTimeout`. */
  upgradeArrived(socket: Socket): void {
    const entry = this.pending.get(keyOf(socket));
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    entry.timer = this.timer(socket, this.options.upgradeTimeout, 'upgrade_timeout', entry.source);
  }

  /** The upgrade was accepted: the connection is an agent's session now. */
  upgradeAccepted(socket: Socket): void {
    this.done(socket);
  }

  /** Stops every timer (the hub is closing). */
  close(): void {
    for (const [key, entry] of this.pending) this.release(key, entry);
  }

  private done(socket: Socket): void {
    const key = keyOf(socket);
    const entry = this.pending.get(key);
    if (entry !== undefined) this.release(key, entry);
  }

  private release(key: string, entry: Pending): void {
    clearTimeout(entry.timer);
    this.pending.delete(key);
    const n = (this.perSource.get(entry.source) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(entry.source);
    else this.perSource.set(entry.source, n);
  }

  private timer(socket: Socket, ms: number, reason: GuardRefusal, source: string): NodeJS.Timeout {
    const timer = setTimeout(() => this.drop(socket, reason, source), ms);
    timer.unref();
    return timer;
  }

  private drop(socket: Socket, reason: GuardRefusal, source: string): void {
    this.onRefused(reason, source);
    socket.destroy();
  }
}
