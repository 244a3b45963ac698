/**
 * A loopback TCP fault proxy on 127.0.0.1:0 in front of `target`, switched between modes while
 * connections are open, to play the network failures the fault scenarios need:
 *
 * - `pass()`            — forward as fast as both ends go (the initial mode); clears delay and throttle.
 * - `delay(ms)`         — every chunk is forwarded `ms` after it arrived (order kept): added latency.
 * - `throttle(bytesPerSecond)` — each direction of each connection forwards at most that many
 *                         bytes per second (a token bucket with 50 ms of burst). What waits is
 *                         bounded (`maxQueuedBytes`): beyond it the proxy stops reading the sender,
 *                         so TCP backpressure reaches it, as behind a real slow link.
 *   `delay` and `throttle` combine; `pass()` clears both.
 * - `blackhole()`       — accept, forward nothing: bytes in either direction are dropped and FIN /
 *                         close are held back, like a NAT or firewall that silently lost its state.
 *                         Only application keep-alives notice. A connection accepted while black-holed
 *                         stays black-holed for good (its first bytes — TLS ClientHello, upgrade —
 *                         are gone). `pass()` forwards again and applies the held-back closes.
 * - `cut()`             — abort every open connection with a TCP RST on both sides (`resetAndDestroy`).
 *                         The mode is unchanged: new connections are served as before.
 *
 * Counters (`connections`, `accepted`, `bytes`, `droppedBytes`, `delayedChunks`, `heldCloses`) let
 * tests await what the proxy did instead of sleeping or timing it.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export type Direction = 'up' | 'down';

export interface FaultProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `host:port` of the proxy, for URLs. */
  readonly address: string;
  /** Open proxied connections (client side not yet closed). */
  readonly connections: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Bytes forwarded so far: `up` client → target, `down` target → client. */
  readonly bytes: Readonly<Record<Direction, number>>;
  /** Bytes dropped by the black hole (both directions). */
  readonly droppedBytes: number;
  /** The largest number of bytes that ever waited in one direction of one connection. */
  readonly maxQueuedBytes: number;
  /** Chunks (and FINs) queued with a delay (`delay(ms)` in force when they arrived). */
  readonly delayedChunks: number;
  /** Closes (FIN, reset) the black hole has held back so far. */
  readonly heldCloses: number;
  readonly mode: Readonly<{ delayMs: number; bytesPerSecond: number; blackhole: boolean }>;
  pass(): void;
  delay(ms: number): void;
  throttle(bytesPerSecond: number): void;
  blackhole(): void;
  cut(): void;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Bytes waiting in one direction of one connection before the sender is paused. Default 64 KiB. */
  readonly maxQueuedBytes?: number;
}

/** Burst of the throttle's token bucket: this many ms worth of bytes may go at once. */
const BURST_MS = 50;

interface Queued {
  data: Buffer | 'end';
  /** performance.now() at which it may be forwarded (delay). */
  due: number;
}

/** One direction of one connection. */
interface Lane {
  readonly from: Socket;
  readonly to: Socket;
  readonly direction: Direction;
  readonly queue: Queued[];
  queuedBytes: number;
  tokens: number;
  refilledAt: number;
  timer: NodeJS.Timeout | undefined;
  /** Waiting for `to` to drain. */
  blocked: boolean;
  /** We paused `from` because the queue was full. */
  pausedSender: boolean;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly lanes: readonly [Lane, Lane];
  /** Accepted while black-holed: never forwarded. */
  readonly blackholed: boolean;
  /** Close propagation held back by the black hole. */
  readonly deferred: Array<() => void>;
}

function check(name: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) throw new RangeError(`fault proxy: ${name} must be a finite number >= ${min}, got ${String(value)}`);
}

export async function startFaultProxy(target: { host: string; port: number }, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const maxQueued = options.maxQueuedBytes ?? 64 * 1024;
  check('maxQueuedBytes', maxQueued, 1);
  const pairs = new Set<Pair>();
  const mode = { delayMs: 0, bytesPerSecond: 0, blackhole: false };
  const bytes: Record<Direction, number> = { up: 0, down: 0 };
  let dropped = 0;
  let accepted = 0;
  let maxQueuedSeen = 0;
  let delayed = 0;
  let held = 0;

  const blocked = (p: Pair): boolean => mode.blackhole || p.blackholed;

  const pump = (lane: Lane): void => {
    if (lane.timer !== undefined || lane.blocked) return;
    for (;;) {
      const head = lane.queue[0];
      if (head === undefined) break;
      const now = performance.now();
      if (head.due > now) {
        lane.timer = setTimeout(() => ((lane.timer = undefined), pump(lane)), Math.ceil(head.due - now));
        return;
      }
      if (head.data === 'end') {
        lane.queue.shift();
        lane.to.end();
        continue;
      }
      let n = head.data.length;
      if (mode.bytesPerSecond > 0) {
        const burst = Math.max(1, (mode.bytesPerSecond * BURST_MS) / 1000);
        lane.tokens = Math.min(burst, lane.tokens + ((now - lane.refilledAt) * mode.bytesPerSecond) / 1000);
        lane.refilledAt = now;
        if (lane.tokens < 1) {
          const wait = ((1 - lane.tokens) * 1000) / mode.bytesPerSecond;
          lane.timer = setTimeout(() => ((lane.timer = undefined), pump(lane)), Math.max(1, Math.ceil(wait)));
          return;
        }
        n = Math.min(n, Math.floor(lane.tokens));
        lane.tokens -= n;
      }
      const piece = n === head.data.length ? head.data : head.data.subarray(0, n);
      if (n === head.data.length) lane.queue.shift();
      else head.data = head.data.subarray(n);
      lane.queuedBytes -= n;
      bytes[lane.direction] += n;
      if (lane.to.destroyed) continue;
      if (!lane.to.write(piece)) {
        lane.blocked = true;
        lane.to.once('drain', () => {
          lane.blocked = false;
          pump(lane);
        });
        break;
      }
    }
    if (lane.pausedSender && lane.queuedBytes < maxQueued / 2) {
      lane.pausedSender = false;
      lane.from.resume();
    }
  };

  const dropQueued = (lane: Lane): void => {
    for (const q of lane.queue) if (q.data !== 'end') dropped += q.data.length;
    lane.queue.length = 0;
    lane.queuedBytes = 0;
    if (lane.timer !== undefined) clearTimeout(lane.timer);
    lane.timer = undefined;
  };

  const wire = (p: Pair, lane: Lane): void => {
    const { from, to } = lane;
    from.on('data', (chunk: Buffer) => {
      if (blocked(p)) {
        dropped += chunk.length;
        return;
      }
      if (mode.delayMs > 0) delayed += 1;
      lane.queue.push({ data: chunk, due: performance.now() + mode.delayMs });
      lane.queuedBytes += chunk.length;
      maxQueuedSeen = Math.max(maxQueuedSeen, lane.queuedBytes);
      if (lane.queuedBytes >= maxQueued && !lane.pausedSender) {
        lane.pausedSender = true;
        from.pause();
      }
      pump(lane);
    });
    const propagate = (action: () => void): void => {
      if (blocked(p)) {
        held += 1;
        p.deferred.push(action);
      } else action();
    };
    // A FIN goes behind the data still waiting in this direction.
    from.on('end', () =>
      propagate(() => {
        if (mode.delayMs > 0) delayed += 1;
        lane.queue.push({ data: 'end', due: performance.now() + mode.delayMs });
        pump(lane);
      }),
    );
    from.on('close', () => {
      // After a FIN the 'end' above carries the close, behind the queued data; anything else
      // (RST, error, destroyed here) aborts the other side at once.
      if (!from.readableEnded) propagate(() => to.destroy());
      if (p.client.destroyed && p.upstream.destroyed) {
        for (const l of p.lanes) dropQueued(l);
        pairs.delete(p);
      }
    });
    to.on('close', () => dropQueued(lane));
    // Errors surface as 'close' on this side; the other side is handled there.
    from.on('error', () => undefined);
  };

  const newLane = (from: Socket, to: Socket, direction: Direction): Lane => ({
    from,
    to,
    direction,
    queue: [],
    queuedBytes: 0,
    tokens: 0,
    refilledAt: performance.now(),
    timer: undefined,
    blocked: false,
    pausedSender: false,
  });

  const server = createServer((client) => {
    accepted += 1;
    const upstream = connect(target.port, target.host);
    const p: Pair = {
      client,
      upstream,
      lanes: [newLane(client, upstream, 'up'), newLane(upstream, client, 'down')],
      blackholed: mode.blackhole,
      deferred: [],
    };
    pairs.add(p);
    for (const lane of p.lanes) wire(p, lane);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  /** After a mode change: re-evaluate every lane now, not when its pending timer fires. */
  const repump = (): void => {
    for (const p of pairs) {
      for (const lane of p.lanes) {
        if (lane.timer !== undefined) clearTimeout(lane.timer);
        lane.timer = undefined;
        pump(lane);
      }
    }
  };

  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    get connections() {
      return [...pairs].filter((p) => !p.client.destroyed).length;
    },
    get accepted() {
      return accepted;
    },
    get bytes() {
      return { ...bytes };
    },
    get droppedBytes() {
      return dropped;
    },
    get maxQueuedBytes() {
      return maxQueuedSeen;
    },
    get delayedChunks() {
      return delayed;
    },
    get heldCloses() {
      return held;
    },
    get mode() {
      return { ...mode };
    },
    pass() {
      mode.delayMs = 0;
      mode.bytesPerSecond = 0;
      const wasBlackhole = mode.blackhole;
      mode.blackhole = false;
      if (wasBlackhole) {
        for (const p of pairs) {
          if (p.blackholed) continue;
          for (const action of p.deferred.splice(0)) action();
        }
      }
      // Delays already assigned stay (order is kept); throttling stops at once.
      repump();
    },
    delay(ms) {
      check('delay', ms, 0);
      mode.delayMs = ms;
    },
    throttle(bytesPerSecond) {
      check('bytesPerSecond', bytesPerSecond, 1);
      mode.bytesPerSecond = bytesPerSecond;
      for (const p of pairs) for (const lane of p.lanes) lane.tokens = Math.min(lane.tokens, (bytesPerSecond * BURST_MS) / 1000);
      repump();
    },
    blackhole() {
      mode.blackhole = true;
      for (const p of pairs) {
        for (const lane of p.lanes) {
          dropQueued(lane);
          // Keep reading (and dropping) even where backpressure had paused a sender, so both
          // ends see a healthy TCP connection, not a full window.
          lane.pausedSender = false;
          lane.from.resume();
        }
      }
    },
    cut() {
      for (const p of pairs) {
        // RST, not FIN: the peers see ECONNRESET, as after a router reboot or a killed NAT entry.
        for (const lane of p.lanes) dropQueued(lane);
        p.client.resetAndDestroy();
        p.upstream.resetAndDestroy();
      }
      pairs.clear();
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const p of pairs) {
          for (const lane of p.lanes) dropQueued(lane);
          p.client.destroy();
          p.upstream.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      });
    },
  };
}
