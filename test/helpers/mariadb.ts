/**
 * A private MariaDB server per test file (or benchmark): `mariadb-install-db` into a temporary
 * directory, `mariadbd --no-defaults` listening only on 127.0.0.1 on a free high port (socket in
 * the temporary directory), the general query log on (every statement, to a file the tests
 * read), no binary log, UTC session time zone, utf8mb4 with binary collation, a generated root
 * password, and an empty database created for the tests. Stopped by pid (SIGTERM: normal
 * shutdown).
 *
 * Never uses the system `mariadb` service of the apt package nor /etc/mysql (`--no-defaults`).
 * Works as root (CI; the server runs as the `mysql` OS user) and as a normal user. Seeding and
 * checks go through the `mariadb` client (`sql()`); the adapter under test uses its own driver.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  freePort,
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
import { parseMariadbLog, type MariadbLogEntry } from '../fixtures/sql/statement-log.js';

export interface MariadbOptions {
  /** Database created at start (default `datasync`). */
  database?: string;
  /** Extra server options, passed as `--name=value`. */
  settings?: Record<string, string>;
}

export interface MariadbSqlOptions {
  /** Login user (default `root`). */
  user?: string;
  /** Its password (default root's). */
  password?: string;
  /** Database (default `database`). */
  database?: string;
}

export interface MariadbServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Pid of mariadbd (the process `stop()` signals). */
  readonly pid: number;
  /** The database created at start (utf8mb4, utf8mb4_bin). */
  readonly database: string;
  /** `root` (accounts root@localhost, root@127.0.0.1, root@::1) and its generated password. */
  readonly superuser: string;
  readonly superuserPassword: string;
  /** `mysql://root:PASSWORD@127.0.0.1:PORT/DATABASE` */
  readonly url: string;
  /** `SELECT VERSION()`, e.g. `10.11.14-MariaDB-0+deb12u2-log`. */
  readonly version: string;
  /** The temporary directory (data directory, socket, logs); removed by `stop()`. */
  readonly dir: string;
  /** The general query log: every statement the server received. */
  readonly logFile: string;
  /** mariadbd's own error log (startup, warnings, shutdown). */
  readonly errorLogFile: string;
  /** The general log text from byte `from` (an offset from `statementLogSize()`). */
  statementLog(from?: number): string;
  statementLogSize(): number;
  /** The general log parsed into entries (Query, Prepare, Execute, …). */
  statements(from?: number): MariadbLogEntry[];
  /**
   * Runs SQL through `mariadb --batch --raw --skip-column-names` over TCP (LOAD DATA LOCAL
   * INFILE allowed); resolves stdout (tab-separated, values unescaped: select JSON when values
   * may hold tabs or newlines), rejects with stderr.
   */
  sql(text: string, options?: MariadbSqlOptions): Promise<string>;
  /** Like `sql` but never rejects: exit code, stdout and stderr (for expected failures). */
  trySql(text: string, options?: MariadbSqlOptions): Promise<ClientRun>;
  /** SIGTERM to mariadbd, wait for its exit, remove `dir`. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = 'root';
const SERVICE_USER = 'mysql';
const IS_ROOT = process.getuid?.() === 0;

export async function startMariadb(options: MariadbOptions = {}): Promise<MariadbServer> {
  const database = options.database ?? 'datasync';
  const password = randomBytes(18).toString('base64url');
  const dir = makeServerDir('datasync-mariadb-', SERVICE_USER);
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'mariadbd.sock');
  const logFile = join(dir, 'general.log');
  const errorLogFile = join(dir, 'error.log');
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
  // A test file that fails before its afterAll must not leave a server and its files behind.
  process.once('exit', onExit);

  const client = (text: string, o: MariadbSqlOptions & { socket?: boolean } = {}): Promise<ClientRun> =>
    runClient(
      'mariadb',
      [
        '--no-defaults', '--batch', '--raw', '--skip-column-names', '--default-character-set=utf8mb4', '--local-infile=1',
        '--connect-timeout=10',
        ...(o.socket ? [`--socket=${socket}`, '--protocol=SOCKET'] : ['-h', '127.0.0.1', '-P', String(port), '--protocol=TCP']),
        '-u', o.user ?? SUPERUSER,
        ...(o.database === '' ? [] : [o.database ?? database]),
      ],
      { MYSQL_PWD: o.password ?? password },
      text,
    );

  try {
    // The install's own bootstrap server gets the same InnoDB sizing as the real start.
    const innodb = ['--innodb-log-file-size=8M', '--innodb-buffer-pool-size=64M'];
    runAsServiceUser(SERVICE_USER, 'mariadb-install-db', [
      '--no-defaults', `--datadir=${dataDir}`, ...(IS_ROOT ? [`--user=${SERVICE_USER}`] : []),
      '--auth-root-authentication-method=normal', '--skip-test-db', ...innodb,
    ]);

    const settings: Record<string, string> = {
      'bind-address': '127.0.0.1',
      socket,
      'pid-file': join(dir, 'mariadbd.pid'),
      'log-error': errorLogFile,
      'general-log': '1',
      'general-log-file': logFile,
      'skip-name-resolve': '1',
      'default-time-zone': '+00:00',
      'character-set-server': 'utf8mb4',
      'collation-server': 'utf8mb4_bin',
      'local-infile': '1',
      'innodb-flush-log-at-trx-commit': '0',
      'innodb-doublewrite': '0',
      ...options.settings,
    };
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const args = [
        '--no-defaults', `--datadir=${dataDir}`, `--port=${port}`, ...(IS_ROOT ? [`--user=${SERVICE_USER}`] : []),
        '--skip-log-bin', ...innodb, ...Object.entries(settings).map(([k, v]) => `--${k}=${v}`),
      ];
      // stdout/stderr: whatever mariadbd prints before its error log is open.
      server = spawnServer(SERVICE_USER, 'mariadbd', args, join(dir, 'mariadbd.out'));
      try {
        // Root has no password yet: the first answer over the socket means the server is up.
        const probe = async (): Promise<boolean> => (await client('SELECT 1', { socket: true, password: '', database: '' })).code === 0;
        await waitUntilServing(server, probe, `mariadbd on 127.0.0.1:${port}`, errorLogFile);
        break;
      } catch (err) {
        if (!(err instanceof ServerExitedWhileStarting) || attempt === 3) throw err;
      }
    }

    const bootstrap = await client(
      [
        `ALTER USER 'root'@'localhost' IDENTIFIED BY '${password}';`,
        `ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '${password}';`,
        `ALTER USER 'root'@'::1' IDENTIFIED BY '${password}';`,
        `CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;`,
      ].join('\n'),
      { socket: true, password: '', database: '' },
    );
    if (bootstrap.code !== 0) throw new Error(`setting root's password failed: ${bootstrap.stderr}`);
    // Over TCP with the password, as every later client connects.
    const version = await client('SELECT VERSION();');
    if (version.code !== 0) throw new Error(`SELECT VERSION() over TCP failed: ${version.stderr}`);

    const running = server;
    let stopped: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      pid: running.pid!,
      database,
      superuser: SUPERUSER,
      superuserPassword: password,
      url: `mysql://${SUPERUSER}:${password}@127.0.0.1:${port}/${database}`,
      version: version.stdout.trim(),
      dir,
      logFile,
      errorLogFile,
      statementLog: (from = 0) => readLog(logFile, from),
      statementLogSize: () => logSize(logFile),
      statements: (from = 0) => parseMariadbLog(readLog(logFile, from)),
      sql: async (text, o) => {
        const r = await client(text, o);
        if (r.code !== 0) throw new Error(`mariadb client failed (exit ${r.code}): ${r.stderr}`);
        return r.stdout;
      },
      trySql: (text, o) => client(text, o),
      stop: () =>
        (stopped ??= (async () => {
          await running.stop('SIGTERM');
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
