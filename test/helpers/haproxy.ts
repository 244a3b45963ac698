/**
 * A private HAProxy running the documented configuration, deploy/haproxy/datasync-hub.cfg, file
 * unchanged, for the reverse-proxy tests: HAProxy reads its `"${HUB_...}"` values from the
 * environment, as the docs say, so the test only sets the environment (port, certificate files,
 * the hub's address). Foreground (`-db`), its log on stdout into a file in the temp dir.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProxyProcess, type ProxyProcess } from './proxy-process.js';

export const HAPROXY_BIN = '/usr/sbin/haproxy';
/** The documented configuration (docs/deployment.md embeds it). */
export const HAPROXY_CONFIG_FILE = fileURLToPath(new URL('../../deploy/haproxy/datasync-hub.cfg', import.meta.url));

/** The environment variables the documented configuration reads. */
export const HAPROXY_VARIABLES = ['HUB_LISTEN', 'HUB_TLS_PEM', 'HUB_CLIENT_CA', 'HUB_UPSTREAM'] as const;

export interface HaproxySetup {
  /** Temp dir of this instance (created if missing). */
  readonly dir: string;
  /** The hub's plain-HTTP listener, `127.0.0.1:PORT`. */
  readonly upstream: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
  /** Listen port; a free one by default (kept across restarts). */
  readonly port?: number;
}

export interface Haproxy {
  readonly port: number;
  /** `https://127.0.0.1:PORT` */
  readonly base: string;
  /** `wss://127.0.0.1:PORT/agent` */
  readonly agentUrl: string;
  /** HAProxy's log (stdout and stderr: one line per request, `option httplog`). */
  readonly log: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** Stops the running instance and starts it again on the same port. */
  restart(): Promise<void>;
}

/** Starts HAProxy on the documented configuration file with the environment it names. */
export async function startHaproxy(setup: HaproxySetup): Promise<Haproxy> {
  const port = setup.port ?? (await freePort());
  mkdirSync(setup.dir, { recursive: true });
  // HAProxy takes the certificate and its key in one PEM file.
  const pem = join(setup.dir, 'hub-cert-and-key.pem');
  writeFileSync(pem, readFileSync(setup.certFile, 'utf8') + readFileSync(setup.keyFile, 'utf8'));
  const log = join(setup.dir, 'haproxy.log');
  const values: Record<(typeof HAPROXY_VARIABLES)[number], string> = {
    HUB_LISTEN: `127.0.0.1:${port}`,
    HUB_TLS_PEM: pem,
    HUB_CLIENT_CA: setup.clientCaFile,
    HUB_UPSTREAM: setup.upstream,
  };
  const spec = {
    name: 'haproxy',
    command: HAPROXY_BIN,
    args: ['-db', '-f', HAPROXY_CONFIG_FILE],
    env: { ...process.env, ...values },
    logFile: log,
    port,
  };
  let proc: ProxyProcess = await startProxyProcess(spec);
  return {
    port,
    base: `https://127.0.0.1:${port}`,
    agentUrl: `wss://127.0.0.1:${port}/agent`,
    log,
    get pid() {
      return proc.pid;
    },
    stop: () => proc.stop(),
    async restart() {
      await proc.stop();
      proc = await startProxyProcess(spec);
    },
  };
}
