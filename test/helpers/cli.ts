/** Spawns the built CLIs (`dist/`) as real processes, as an operator would run them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { onTestFailed, vi } from 'vitest';
import { auditLogLine } from './log-audit.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const AGENT_BIN = join(ROOT, 'dist', 'src', 'cli', 'agent.js');
export const HUB_BIN = join(ROOT, 'dist', 'src', 'cli', 'hub.js');

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a CLI to completion. */
export function runCli(bin: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: ROOT, env: { PATH: process.env['PATH'], ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      for (const line of stdout.split('\n')) auditLogLine(line);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

export interface Daemon {
  readonly child: ChildProcess;
  /** Parsed JSON log lines (pino) from stdout so far. */
  readonly logs: Array<Record<string, unknown>>;
  readonly stderr: () => string;
  waitForLog(pred: (rec: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a long-running CLI; its logs are printed if the test fails. */
export function startDaemon(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  const child = spawn(process.execPath, [bin, ...args], { cwd: ROOT, env: { PATH: process.env['PATH'], ...env } });
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  let stderr = '';
  let buffered = '';
  child.stdout.on('data', (d: Buffer) => {
    raw += d.toString();
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      auditLogLine(line);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    onTestFailed(() => console.error(`--- ${bin} stdout ---\n${raw}\n--- stderr ---\n${stderr}`));
  } catch {
    // Started from a hook (beforeAll): no test to attach to; the suite's failure output applies.
  }
  return {
    child,
    logs,
    stderr: () => stderr,
    waitForLog: (pred, timeoutMs = 15_000) =>
      vi.waitFor(
        () => {
          const rec = logs.find(pred);
          if (!rec) throw new Error('log line not seen yet');
          return rec;
        },
        { timeout: timeoutMs, interval: 20 },
      ),
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
