/**
 * A listener that cannot bind — the port is taken (EADDRINUSE), privileged (EACCES) or the host
 * is not an address of this machine (EADDRNOTAVAIL) — as ONE line an operator can act on: which
 * address, why, and which configuration key in which file to change. The CLIs print it on stderr
 * instead of a stack trace and exit 1.
 */

/** Where the address that could not be bound is configured. */
export interface ListenSetting {
  /** The config key of the port, e.g. `listen.port` or `status.listen` (host:port in one key). */
  readonly portKey: string;
  /** The config key of the host, e.g. `listen.host` or `status.listen`. */
  readonly hostKey: string;
  /** The configuration file, as given on the command line. */
  readonly file: string;
  readonly host: string;
  readonly port: number;
}

const LISTEN_CODES = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']);

/** True for the errors {@link listenFailureLine} explains. */
export function isListenFailure(err: unknown): err is NodeJS.ErrnoException {
  const e = err as { code?: unknown; syscall?: unknown } | null;
  return typeof e?.code === 'string' && LISTEN_CODES.has(e.code) && (e.syscall === undefined || e.syscall === 'listen' || e.syscall === 'bind');
}

/** `host:port`, IPv6 hosts in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The one line, without a trailing newline; `program` prefixes it (`datasync-hub`). */
export function listenFailureLine(program: string, err: NodeJS.ErrnoException, at: ListenSetting): string {
  const address = hostPort(at.host, at.port);
  const where = `in ${at.file}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `${program}: cannot listen on ${address}: the address is already in use (EADDRINUSE) — another process holds it; stop that process or change ${at.portKey} ${where}`;
    case 'EACCES':
      return `${program}: cannot listen on ${address}: permission denied (EACCES) — ports below 1024 need privileges; change ${at.portKey} ${where} to 1024 or above, or grant the service CAP_NET_BIND_SERVICE`;
    default:
      return `${program}: cannot listen on ${address}: ${at.host} is not an address of this machine (${err.code ?? 'EADDRNOTAVAIL'}); change ${at.hostKey} ${where}`;
  }
}
