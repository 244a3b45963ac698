/**
 * A private nginx running the documented configuration, deploy/nginx/datasync-hub.conf, for the
 * reverse-proxy tests: its `${HUB_...}` placeholders are filled in exactly as the docs' envsubst
 * command does, and the result is included into a minimal main nginx.conf of the test's own
 * (foreground, pid, logs and temp paths under the temp dir, workers as root so they can write
 * there). Variants for "does the configuration matter" tests are edits of the rendered text.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProxyProcess, type ProxyProcess } from './proxy-process.js';

export const NGINX_BIN = '/usr/sbin/nginx';
/** The documented configuration (docs/deployment.md embeds it). */
export const NGINX_SITE_FILE = fileURLToPath(new URL('../../deploy/nginx/datasync-hub.conf', import.meta.url));

/** The placeholders the docs' envsubst command names, in its order. */
export const NGINX_PLACEHOLDERS = ['HUB_LISTEN', 'HUB_SERVER_NAME', 'HUB_TLS_CERT', 'HUB_TLS_KEY', 'HUB_CLIENT_CA', 'HUB_UPSTREAM'] as const;
export type NginxValues = Record<(typeof NGINX_PLACEHOLDERS)[number], string>;

/** envsubst with a list of names: each `${NAME}` replaced, nothing else touched (nginx's own `$host` stays). */
export function renderNginxSite(values: NginxValues, text = readFileSync(NGINX_SITE_FILE, 'utf8')): string {
  let out = text;
  for (const name of NGINX_PLACEHOLDERS) out = out.split(`\${${name}}`).join(values[name]);
  const left = /\$\{HUB_[A-Z_]+\}/.exec(out);
  if (left) throw new Error(`deploy/nginx/datasync-hub.conf: placeholder ${left[0]} is not in the documented envsubst list`);
  return out;
}

export interface NginxSetup {
  /** Temp dir of this instance (created if missing). */
  readonly dir: string;
  /** The hub's plain-HTTP listener, `127.0.0.1:PORT`. */
  readonly upstream: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
  /** Listen port; a free one by default (kept across restarts). */
  readonly port?: number;
  /** Edits the rendered site (a variant for one test), e.g. turning proxy_buffering on. */
  readonly edit?: (site: string) => string;
}

export interface Nginx {
  readonly port: number;
  /** `https://127.0.0.1:PORT` */
  readonly base: string;
  /** `wss://127.0.0.1:PORT/agent` */
  readonly agentUrl: string;
  /** The site configuration as run (rendered, edited). */
  readonly site: string;
  readonly errorLog: string;
  readonly accessLog: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** Stops the running instance and starts it again on the same port. */
  restart(): Promise<void>;
}

/** Renders the documented site into a private nginx and starts it in the foreground. */
export async function startNginx(setup: NginxSetup): Promise<Nginx> {
  const port = setup.port ?? (await freePort());
  mkdirSync(setup.dir, { recursive: true });
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(setup.dir, d), { recursive: true });
  const rendered = renderNginxSite({
    HUB_LISTEN: `127.0.0.1:${port}`,
    HUB_SERVER_NAME: 'localhost',
    HUB_TLS_CERT: setup.certFile,
    HUB_TLS_KEY: setup.keyFile,
    HUB_CLIENT_CA: setup.clientCaFile,
    HUB_UPSTREAM: setup.upstream,
  });
  const site = setup.edit ? setup.edit(rendered) : rendered;
  const siteFile = join(setup.dir, 'datasync-hub.conf');
  writeFileSync(siteFile, site);
  const errorLog = join(setup.dir, 'error.log');
  const accessLog = join(setup.dir, 'access.log');
  const main = join(setup.dir, 'nginx.conf');
  writeFileSync(
    main,
    `daemon off;
master_process on;
worker_processes 1;
user root;
pid ${join(setup.dir, 'nginx.pid')};
error_log ${errorLog} info;
events { worker_connections 512; }
http {
    access_log ${accessLog} combined;
    client_body_temp_path ${join(setup.dir, 'client_body')};
    proxy_temp_path ${join(setup.dir, 'proxy')};
    fastcgi_temp_path ${join(setup.dir, 'fastcgi')};
    uwsgi_temp_path ${join(setup.dir, 'uwsgi')};
    scgi_temp_path ${join(setup.dir, 'scgi')};
    include ${siteFile};
}
`,
  );
  const spec = {
    name: 'nginx',
    command: NGINX_BIN,
    args: ['-p', setup.dir, '-c', main, '-e', errorLog],
    logFile: join(setup.dir, 'nginx.out'),
    moreLogs: [errorLog],
    port,
  };
  let proc: ProxyProcess = await startProxyProcess(spec);
  return {
    port,
    base: `https://127.0.0.1:${port}`,
    agentUrl: `wss://127.0.0.1:${port}/agent`,
    site,
    errorLog,
    accessLog,
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
