/**
 * A reverse proxy (nginx, HAProxy) as a private foreground child process for tests: started
 * with its own config under a temp dir, ready once its port accepts TCP connections, stopped by
 * its pid. Its output goes to a log file in the temp dir, whose tail is in every start error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';

export interface ProxyProcessSpec {
  /** Name in messages (`nginx`, `haproxy`). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** stdout and stderr of the child go here (appended). */
  readonly logFile: string;
  /** Other log files worth printing when the start fails (e.g. nginx's error.log). */
  readonly moreLogs?: readonly string[];
  /** The port it listens on, on 127.0.0.1: ready once it accepts a TCP connection. */
  readonly port: number;
}

export interface ProxyProcess {
  readonly pid: number;
  /** Resolves with the exit code or signal once the child is gone. */
  readonly exited: Promise<string>;
  /** SIGTERM by pid (both programs stop at once, closing their connections), then the exit. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago (bind port 0, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The last `lines` lines of each log, for error messages. */
export function logTail(files: readonly string[], lines = 40): string {
  return files
    .filter((f) => existsSync(f))
    .map((f) => `--- ${f} ---\n${readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n')}`)
    .join('\n');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Spawns the child and resolves once its port accepts connections; rejects with the log tail if it exits first. */
export async function startProxyProcess(spec: ProxyProcessSpec, timeoutMs = 20_000): Promise<ProxyProcess> {
  const fd = openSync(spec.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.command, [...spec.args], { env: spec.env ?? process.env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let gone: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve((gone = signal ?? `exit ${code ?? '?'}`)));
    child.once('error', (err) => resolve((gone = `spawn failed: ${err.message}`)));
  });
  const logs = [spec.logFile, ...(spec.moreLogs ?? [])];
  const deadline = Date.now() + timeoutMs; // a guard against a hang, not a timing assertion
  for (;;) {
    if (gone !== undefined) throw new Error(`${spec.name} ended before listening (${gone})\n${logTail(logs)}`);
    if (await accepts(spec.port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${spec.name} did not listen on 127.0.0.1:${spec.port} within ${timeoutMs} ms\n${logTail(logs)}`);
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 25))]);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.name}: no pid`);
  return {
    pid,
    exited,
    async stop() {
      if (gone === undefined) process.kill(pid, 'SIGTERM');
      await exited;
    },
  };
}
