/**
 * curl as the SQL e2e test's only HTTP client of the hub, spawned as a process the way an
 * operator would type it: `curlCall` runs a request to completion (status + body), `curlStream`
 * keeps a long NDJSON response flowing into a line counter that never holds the whole body, and
 * can freeze curl itself (SIGSTOP: curl stops reading its socket, so the bytes back up through
 * TLS, TCP, the hub and the agent's credit) and let it go again (SIGCONT).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { vi } from 'vitest';

export interface CurlAuth {
  /** The hub's CA certificate file. */
  readonly caFile: string;
  readonly token: string;
}

export interface CurlReply {
  readonly status: number;
  readonly body: string;
}

const baseArgs = (auth: CurlAuth): string[] => ['-sS', '-N', '--cacert', auth.caFile, '-H', `Authorization: Bearer ${auth.token}`];

/** Runs curl to completion; the body and the HTTP status (`-w`). */
export function curlCall(auth: CurlAuth, args: readonly string[], input = ''): Promise<CurlReply> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', [...baseArgs(auth), '-w', '\n%{http_code}', ...args]);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exit ${code}: ${err}`));
      const nl = out.lastIndexOf('\n');
      resolve({ status: Number(out.slice(nl + 1)), body: out.slice(0, nl) });
    });
    child.stdin.end(input);
  });
}

/** The JSON lines of an NDJSON body. */
export const ndjsonLines = (body: string): Array<Record<string, unknown>> =>
  body
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

export interface CurlStream {
  readonly child: ChildProcess;
  /** Lines received so far (the final line included once it came). */
  readonly lines: number;
  /** Resolves once `n` lines have been received. */
  waitForLines(n: number, timeoutMs: number): Promise<void>;
  /** SIGSTOP / SIGCONT to curl. */
  pause(): void;
  resume(): void;
  /** Resolves when curl has exited: its exit code, the line count and the last line. */
  readonly done: Promise<{ code: number | null; lines: number; last: Record<string, unknown> | undefined; stderr: string }>;
  /** Resumes and kills curl if it still runs (cleanup after a failure). */
  kill(): void;
}

/**
 * Starts curl on an NDJSON endpoint; `onLine` sees every line (parsed) as it arrives. Only the
 * last line is kept.
 */
export function curlStream(auth: CurlAuth, args: readonly string[], onLine: (line: Record<string, unknown>) => void = () => {}): CurlStream {
  const child = spawn('curl', [...baseArgs(auth), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let rest = '';
  let last: Record<string, unknown> | undefined;
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    rest += d;
    for (let nl = rest.indexOf('\n'); nl !== -1; nl = rest.indexOf('\n')) {
      const text = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (text.trim() === '') continue;
      last = JSON.parse(text) as Record<string, unknown>;
      lines += 1;
      onLine(last);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; lines: number; last: Record<string, unknown> | undefined; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      if (rest.trim() !== '') {
        last = JSON.parse(rest) as Record<string, unknown>;
        lines += 1;
        onLine(last);
      }
      resolve({ code, lines, last, stderr });
    }),
  );
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    get lines() {
      return lines;
    },
    waitForLines: (n, timeoutMs) =>
      vi.waitFor(
        () => {
          if (lines < n) throw new Error(`${lines} lines of ${n}`);
        },
        { timeout: timeoutMs, interval: 20 },
      ),
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    done,
    kill: () => {
      if (!running()) return;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    },
  };
}

/**
 * Polls `read` every `intervalMs` until it returns the same value `polls` times in a row;
 * resolves with that value. Fails after `timeoutMs` of change. No figure depends on the
 * interval: a loaded machine only makes it wait longer.
 */
export async function stableValue(read: () => Promise<number>, opts: { polls: number; intervalMs: number; timeoutMs: number }): Promise<number> {
  let value = await read();
  let same = 1;
  return vi.waitFor(
    async () => {
      const now = await read();
      if (now === value) same += 1;
      else {
        value = now;
        same = 1;
      }
      if (same < opts.polls) throw new Error(`${now}, ${same} of ${opts.polls} polls unchanged`);
      return now;
    },
    { timeout: opts.timeoutMs, interval: opts.intervalMs },
  );
}
