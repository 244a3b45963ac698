/**
 * LDAP connections of one data source: failover over `urls`, TLS/StartTLS, bind, and two kinds
 * of use (docs/architecture.md, "Library behaviours"):
 *
 * - short operations (test, get, schema) share a few multiplexed clients;
 * - every long stream (search, export) leases a dedicated client, closed when the stream ends or
 *   is cancelled. ldapts sends no Abandon, so the only way to stop a paged search server-side is
 *   to close its connection; and a per-operation timeout destroys the socket under every other
 *   operation on that client — neither may hit a neighbour.
 *
 * One ldapts `Client` = one connection: the client is built with a connection factory that
 * refuses a second connection, because ldapts would otherwise reconnect transparently and
 * anonymously (and, after StartTLS, in clear text). A client whose connection is gone is
 * discarded and the next use makes a new one.
 *
 * Every client decodes search result entries with `entry-decoder.ts` (entries keep the bytes
 * the server sent) — unless the self-test of the ldapts members it hooks failed in this thread
 * (`ldapts-internals.ts`): then no client gets it, and `Connected.entryDecoder` says so.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Client } from 'ldapts';
import type { Logger } from 'pino';
import { ProtocolError } from '../../protocol/errors.js';
import type { LdapDataSourceConfig } from './config.js';
import { useEntryDecoder } from './entry-decoder.js';
import { ldaptsFastPath } from './ldapts-internals.js';
import { toProtocolError } from '../directory/errors.js';

export interface ClientPoolOptions {
  /** Most dedicated stream clients at once; one more lease fails with BUSY. Default 16. */
  readonly maxStreams?: number;
  /** Most shared clients for short operations (each multiplexes). Default 4. */
  readonly maxShared?: number;
  /** How long a URL that failed to connect is tried last (ms). Default 30 000. */
  readonly downCooldownMs?: number;
}

export interface PoolStats {
  /** Open shared clients. */
  readonly shared: number;
  /** Operations in flight on shared clients. */
  readonly sharedInFlight: number;
  /** Dedicated clients leased (connecting or open). */
  readonly streams: number;
  /** Every client this pool holds a live connection for. */
  readonly openConnections: number;
}

/** A connected, bound client and the URL that answered. */
export interface Connected {
  readonly client: Client;
  readonly url: string;
  /**
   * The client decodes entries with `entry-decoder.ts` (the fast path: a search's entries are
   * written to its sink while parsed); false when the ldapts self-test failed in this thread.
   */
  readonly entryDecoder: boolean;
}

/** A dedicated client for one stream. `release()` unbinds and closes it (idempotent). */
export interface Lease {
  /** The current connection; reconnects (with failover) when the previous one was lost. */
  connection(): Promise<Connected>;
  release(): Promise<void>;
}

interface SharedClient extends Connected {
  inFlight: number;
}

const DEFAULTS = { maxStreams: 16, maxShared: 4, downCooldownMs: 30_000 } as const;

/** `createConnection` that connects once; a second call (ldapts reconnecting) fails instead. */
function oneShot<F extends typeof net.connect | typeof tls.connect>(connect: F): F {
  let used = false;
  const once = (...args: unknown[]): net.Socket => {
    if (used) {
      const socket = new net.Socket();
      process.nextTick(() => socket.destroy(new Error('connection lost (not reconnecting)')));
      return socket;
    }
    used = true;
    return (connect as (...a: unknown[]) => net.Socket)(...args);
  };
  return once as F;
}

/**
 * Requests issued in one tick go to the server in one write: the socket is corked at the first
 * write and uncorked once the tick's callbacks and microtasks have run (process.nextTick). Gets
 * that many callers start together on a shared client then cost one system call, not one each;
 * a lone request waits for nothing (the uncork runs before the event loop looks for I/O).
 */
export function coalescingWrites<F extends typeof net.connect | typeof tls.connect>(connect: F): F {
  const coalescing = (...args: unknown[]): net.Socket => {
    const socket = (connect as (...a: unknown[]) => net.Socket)(...args);
    const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
    let corked = false;
    const uncork = (): void => {
      corked = false;
      socket.uncork();
    };
    socket.write = (...writeArgs: unknown[]): boolean => {
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      return write(...writeArgs);
    };
    return socket;
  };
  return coalescing as F;
}

export class LdapClientPool {
  private readonly options: Required<ClientPoolOptions>;
  private readonly tlsOptions: tls.ConnectionOptions;
  private readonly shared = new Set<SharedClient>();
  private readonly pendingShared = new Set<Promise<SharedClient>>();
  private readonly dedicated = new Set<Client>();
  private leases = 0;
  private readonly downUntil = new Map<string, number>();
  private closed = false;
  /** The ldapts self-test passed in this thread: clients get the entry decoder. */
  private readonly entryDecoder = ldaptsFastPath();

  constructor(
    private readonly config: LdapDataSourceConfig,
    private readonly log: Logger,
    options: ClientPoolOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    for (const [key, value] of Object.entries(this.options)) {
      if (!Number.isSafeInteger(value) || value < (key === 'downCooldownMs' ? 0 : 1)) {
        throw new RangeError(`LDAP pool option ${key} must be a positive integer, got ${String(value)}`);
      }
    }
    this.tlsOptions = {};
    if (config.tls?.ca !== undefined) this.tlsOptions.ca = [readFileSync(config.tls.ca)];
    // The adapter warns about insecureSkipVerify once; pools in search worker threads do not repeat it.
    if (config.tls?.insecureSkipVerify === true) this.tlsOptions.rejectUnauthorized = false;
  }

  get stats(): PoolStats {
    let inFlight = 0;
    let open = 0;
    for (const s of this.shared) {
      inFlight += s.inFlight;
      if (s.client.isConnected) open++;
    }
    for (const c of this.dedicated) if (c.isConnected) open++;
    return { shared: this.shared.size, sharedInFlight: inFlight, streams: this.leases, openConnections: open };
  }

  /** URLs in config order, those that failed recently last. */
  private candidates(): string[] {
    const now = Date.now();
    const up = this.config.urls.filter((u) => (this.downUntil.get(u) ?? 0) <= now);
    const down = this.config.urls.filter((u) => (this.downUntil.get(u) ?? 0) > now);
    return [...up, ...down];
  }

  private newClient(url: string): Client {
    const ldaps = url.startsWith('ldaps:');
    const client = new Client({
      url,
      connectTimeout: this.config.timeoutMs,
      timeout: this.config.timeoutMs,
      // ldapts opens a TLS connection whenever tlsOptions has any value, even for ldap:// — so
      // they go to the constructor for ldaps:// only, and to startTLS() otherwise.
      ...(ldaps ? { tlsOptions: this.tlsOptions } : {}),
      createConnection: coalescingWrites(oneShot(net.connect)),
      // Used for ldaps:// and for the StartTLS upgrade (which passes the existing socket).
      createSecureConnection: coalescingWrites(ldaps ? oneShot(tls.connect) : tls.connect),
    });
    // Entries keep their bytes (entry-decoder.ts). The self-test proved the hook works in this
    // ldapts; that it then cannot be installed is a bug, never a reason to change data silently.
    if (this.entryDecoder && !useEntryDecoder(client)) {
      throw new ProtocolError('INTERNAL', 'the entry decoder passed its self-test but could not be installed on a new ldapts client', { url }, { retryable: false });
    }
    return client;
  }

  /**
   * Connects and binds a new client, trying the URLs in order: a URL that cannot be reached is
   * skipped (and tried last for `downCooldownMs`); any other failure (bad credentials, TLS
   * trust) is final — another replica would answer the same.
   */
  async connect(): Promise<Connected> {
    if (this.closed) throw new ProtocolError('UPSTREAM_UNAVAILABLE', 'LDAP data source is closing', {}, { retryable: false });
    const failures: string[] = [];
    let last: ProtocolError | undefined;
    for (const url of this.candidates()) {
      const client = this.newClient(url);
      try {
        if (this.config.startTLS) await client.startTLS(this.startTlsOptions(url));
        if (this.config.bindDN !== undefined) await client.bind(this.config.bindDN, this.config.bindPassword ?? '');
        else await this.touch(client);
        this.downUntil.delete(url);
        return { client, url, entryDecoder: this.entryDecoder };
      } catch (err) {
        await client.unbind().catch(() => undefined);
        const e = toProtocolError(err, { url }, { operation: this.config.bindDN === undefined ? 'connect' : `bind as ${this.config.bindDN}`, secrets: this.secrets() });
        if (e.code !== 'UPSTREAM_UNAVAILABLE' || !e.retryable) throw e;
        this.downUntil.set(url, Date.now() + this.options.downCooldownMs);
        this.log.warn({ url, err: e.message }, 'LDAP server unreachable, trying the next URL');
        failures.push(e.message);
        last = e;
      }
    }
    throw new ProtocolError('UPSTREAM_UNAVAILABLE', failures.length > 1 ? `no LDAP server reachable: ${failures.join('; ')}` : (last?.message ?? 'no LDAP URL configured'), last?.context ?? {}, {
      cause: last,
      retryable: true,
    });
  }

  /**
   * The StartTLS upgrade (RFC 4511 §4.14) wraps the existing socket: name the host explicitly for
   * certificate verification; SNI only for names (RFC 6066 §3 forbids IP literals).
   */
  private startTlsOptions(url: string): tls.ConnectionOptions {
    const host = new URL(url).hostname;
    return { ...this.tlsOptions, host, ...(net.isIP(host) === 0 ? { servername: host } : {}) };
  }

  /** Anonymous clients connect lazily in ldapts; connect now so failover sees the failure. */
  private async touch(client: Client): Promise<void> {
    await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
  }

  private secrets(): string[] {
    return this.config.bindPassword === undefined ? [] : [this.config.bindPassword];
  }

  /** Runs a short operation on a shared client (least busy; a new one while under `maxShared`). */
  async withShared<T>(fn: (c: Connected) => Promise<T>): Promise<T> {
    const s = await this.pickShared();
    s.inFlight++;
    try {
      return await fn(s);
    } finally {
      s.inFlight--;
      if (!s.client.isConnected) this.shared.delete(s);
    }
  }

  private async pickShared(): Promise<SharedClient> {
    for (const s of this.shared) if (!s.client.isConnected) this.shared.delete(s);
    let best: SharedClient | undefined;
    for (const s of this.shared) if (best === undefined || s.inFlight < best.inFlight) best = s;
    if (best !== undefined && (best.inFlight === 0 || this.shared.size + this.pendingShared.size >= this.options.maxShared)) return best;
    if (best === undefined && this.pendingShared.size >= this.options.maxShared) {
      // Everything is still connecting: wait for one of those.
      return Promise.race(this.pendingShared);
    }
    const pending = this.connect().then((c) => {
      const s: SharedClient = { ...c, inFlight: 0 };
      if (this.closed) void c.client.unbind().catch(() => undefined);
      else this.shared.add(s);
      return s;
    });
    this.pendingShared.add(pending);
    try {
      return await pending;
    } finally {
      this.pendingShared.delete(pending);
    }
  }

  /**
   * Reserves a dedicated client for one stream. The slot is taken now (BUSY beyond
   * `maxStreams`); the connection is made on first `connection()`.
   */
  lease(): Lease {
    if (this.closed) throw new ProtocolError('UPSTREAM_UNAVAILABLE', 'LDAP data source is closing', {}, { retryable: false });
    if (this.leases >= this.options.maxStreams) {
      throw new ProtocolError('BUSY', `LDAP data source has ${this.options.maxStreams} streams open (maxStreams)`, {}, { retryable: true });
    }
    this.leases++;
    let current: Promise<Connected> | undefined;
    let released = false;
    const cancelled = (): ProtocolError => new ProtocolError('CANCELLED', 'LDAP stream was closed', {}, { retryable: false });
    const drop = (c: Client): Promise<void> => {
      this.dedicated.delete(c);
      return c.unbind().catch(() => undefined);
    };
    const connection = async (): Promise<Connected> => {
      if (released) throw cancelled();
      if (current !== undefined) {
        const c = await current.catch(() => undefined);
        if (c?.client.isConnected === true) return c;
        if (c !== undefined) await drop(c.client);
      }
      const attempt = this.connect();
      current = attempt;
      const c = await attempt;
      this.dedicated.add(c.client);
      if (released) {
        await drop(c.client);
        throw cancelled();
      }
      return c;
    };
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      this.leases--;
      const c = await current?.catch(() => undefined);
      if (c !== undefined) await drop(c.client);
    };
    return { connection, release };
  }

  /** Unbinds every client; later uses fail. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...[...this.shared].map((s) => s.client), ...this.dedicated];
    this.shared.clear();
    this.dedicated.clear();
    await Promise.all(all.map((c) => c.unbind().catch(() => undefined)));
  }
}
