/**
 * A private PostgreSQL server per test file (or benchmark): `initdb` into a temporary directory,
 * the postmaster listening only on 127.0.0.1 on a free high port (unix socket in the temporary
 * directory), SCRAM password authentication with a generated superuser password, every statement
 * logged (`log_statement=all`) to a file the tests read, `fsync=off`, `TimeZone=UTC`, and an
 * empty database created for the tests. Stopped by pid (SIGINT: fast shutdown).
 *
 * Never uses the system `postgresql` service of the apt package. Works as root (CI; the server
 * runs as the `postgres` OS user) and as a normal user. Seeding and checks go through `psql`
 * (`sql()`); the adapter under test uses its own driver.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  giveToServiceUser,
  logSize,
  makeServerDir,
  readLog,
  removeServerDir,
  runAsServiceUser,
  runClient,
  ServerExitedWhileStarting,
  spawnServer,
  waitUntilServing,
  type ClientRun,
  type ServerProcess,
} from '../fixtures/sql/server-process.js';
import { parsePostgresLog, type PostgresLogEntry } from '../fixtures/sql/statement-log.js';

export interface PostgresOptions {
  /** Database created at start (default `datasync`). */
  database?: string;
  /** Extra server settings, passed as `-c name=value` (e.g. `{ shared_preload_libraries: 'pg_stat_statements' }`). */
  settings?: Record<string, string>;
}

export interface SqlOptions {
  /** Login role (default the superuser). */
  user?: string;
  /** Its password (default the superuser's). */
  password?: string;
  /** Database (default `database`). */
  database?: string;
}

export interface PostgresServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Pid of the postmaster (the process `stop()` signals). */
  readonly pid: number;
  /** The database created at start. */
  readonly database: string;
  /** Superuser role (`postgres`) and its generated password. */
  readonly superuser: string;
  readonly superuserPassword: string;
  /** `postgresql://postgres:PASSWORD@127.0.0.1:PORT/DATABASE` */
  readonly url: string;
  /** Server version as `SHOW server_version` gives it (e.g. `15.14 (Debian 15.14-0+deb12u1)`). */
  readonly version: string;
  /** The temporary directory (data directory, socket, log); removed by `stop()`. */
  readonly dir: string;
  /** The server log: every statement (`log_statement=all`), line prefix `%m [%p] %q%u@%d `. */
  readonly logFile: string;
  /** The server log text from byte `from` (an offset from `statementLogSize()`). */
  statementLog(from?: number): string;
  statementLogSize(): number;
  /** The log parsed into statements (`statement:`, `execute <name>:` …) with their `parameters:` detail. */
  statements(from?: number): PostgresLogEntry[];
  /**
   * Runs SQL (psql meta-commands such as `\copy` allowed) through `psql -X -v ON_ERROR_STOP=1`,
   * unaligned, tuples only, tab-separated (values as they are: select JSON when values may hold
   * tabs or newlines); resolves stdout, rejects with psql's stderr.
   */
  sql(text: string, options?: SqlOptions): Promise<string>;
  /** Like `sql` but never rejects: exit code, stdout and stderr (for expected failures). */
  trySql(text: string, options?: SqlOptions): Promise<ClientRun>;
  /** Fast shutdown (SIGINT to the postmaster), wait for its exit, remove `dir`. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const SERVICE_USER = 'postgres';

/** The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/N/bin). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = readdirSync(root).filter((v) => /^\d+$/.test(v));
  } catch {
    versions = [];
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw new Error(`no PostgreSQL under ${root} (apt-get install postgresql)`);
  return join(root, newest, 'bin');
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const database = options.database ?? 'datasync';
  const password = randomBytes(18).toString('base64url');
  const dir = makeServerDir('datasync-pg-', SERVICE_USER);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  let server: ServerProcess | undefined;
  let port = 0;
  const onExit = (): void => {
    if (server?.exitStatus() === undefined && server?.pid !== undefined) {
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    removeServerDir(dir);
  };
  // A test file that fails before its afterAll must not leave a server and its files behind:
  // 'exit' handlers run synchronously as the worker process ends.
  process.once('exit', onExit);

  const psql = (text: string, o: SqlOptions = {}): Promise<ClientRun> =>
    runClient(
      join(bin, 'psql'),
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-A', '-t', '-F', '\t', '-h', '127.0.0.1', '-p', String(port), '-U', o.user ?? SUPERUSER, '-d', o.database ?? database, '-f', '-'],
      { PGPASSWORD: o.password ?? password, PGCLIENTENCODING: 'UTF8', PGCONNECT_TIMEOUT: '10', PGTZ: 'UTC' },
      text,
    );

  try {
    const pwFile = join(dir, 'superuser-password');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    giveToServiceUser(pwFile, SERVICE_USER);
    runAsServiceUser(SERVICE_USER, join(bin, 'initdb'), [
      '-D', dataDir, '-U', SUPERUSER, `--pwfile=${pwFile}`,
      '--auth-host=scram-sha-256', '--auth-local=scram-sha-256',
      '-E', 'UTF8', '--locale=C', '--no-sync',
    ]);
    removeServerDir(pwFile);

    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dir,
      log_destination: 'stderr',
      logging_collector: 'off',
      log_statement: 'all',
      log_line_prefix: '%m [%p] %q%u@%d ',
      log_timezone: 'UTC',
      TimeZone: 'UTC',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...options.settings,
    };
    // A port found free may be taken before the postmaster binds it: try a few fresh ones.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
      server = spawnServer(SERVICE_USER, join(bin, 'postgres'), args, logFile);
      try {
        const probe = async (): Promise<boolean> =>
          (await runClient(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-d', 'postgres', '-U', SUPERUSER, '-t', '5'], {})).code === 0;
        await waitUntilServing(server, probe, `postgres on 127.0.0.1:${port}`, logFile);
        break;
      } catch (err) {
        if (!(err instanceof ServerExitedWhileStarting) || attempt === 3) throw err;
      }
    }

    const created = await psql(`CREATE DATABASE "${database}";`, { database: 'postgres' });
    if (created.code !== 0) throw new Error(`CREATE DATABASE ${database} failed: ${created.stderr}`);
    const version = await psql('SHOW server_version;');
    if (version.code !== 0) throw new Error(`SHOW server_version failed: ${version.stderr}`);

    const running = server;
    let stopped: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      pid: running.pid!,
      database,
      superuser: SUPERUSER,
      superuserPassword: password,
      url: `postgresql://${SUPERUSER}:${password}@127.0.0.1:${port}/${database}`,
      version: version.stdout.trim(),
      dir,
      logFile,
      statementLog: (from = 0) => readLog(logFile, from),
      statementLogSize: () => logSize(logFile),
      statements: (from = 0) => parsePostgresLog(readLog(logFile, from)),
      sql: async (text, o) => {
        const r = await psql(text, o);
        if (r.code !== 0) throw new Error(`psql failed (exit ${r.code}): ${r.stderr}`);
        return r.stdout;
      },
      trySql: (text, o) => psql(text, o),
      stop: () =>
        (stopped ??= (async () => {
          await running.stop('SIGINT');
          process.removeListener('exit', onExit);
          removeServerDir(dir);
        })()),
    };
  } catch (err) {
    if (server !== undefined) await server.stop('SIGKILL');
    process.removeListener('exit', onExit);
    removeServerDir(dir);
    throw err;
  }
}
