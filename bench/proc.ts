/**
 * What the benchmarks know about a process, read from /proc: CPU time (utime + stime from
 * /proc/PID/stat), current and peak resident memory (VmRSS, VmHWM from /proc/PID/status; worker
 * threads share their process's memory, so they are included), and a reset of the peak
 * (`5` written to /proc/PID/clear_refs) so that each run has its own peak.
 *
 * `CpuMeter` takes CPU snapshots of a set of named processes around a piece of work; the bench
 * process itself is measured with `process.cpuUsage()`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function statusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
}

/** Resident memory now, MB. */
export const rssMb = (pid: number): number => statusKb(pid, 'VmRSS') / 1024;
/** Peak resident memory since start or the last `resetPeak`, MB. */
export const peakMb = (pid: number): number => statusKb(pid, 'VmHWM') / 1024;

/** Resets the process's VmHWM to its current RSS (needs to be root or the process's owner). */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** This process's CPU seconds so far. */
export const selfCpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

export type Role = 'agent' | 'hub' | 'slapd' | 'client';

/** CPU seconds per role used between `start()` and the function it returns. */
export function cpuMeter(pids: Partial<Record<Role, number | 'self'>>): { start(): () => Partial<Record<Role, number>> } {
  const read = (): Partial<Record<Role, number>> => {
    const out: Partial<Record<Role, number>> = {};
    for (const [role, pid] of Object.entries(pids) as Array<[Role, number | 'self']>) out[role] = pid === 'self' ? selfCpuSeconds() : cpuSeconds(pid);
    return out;
  };
  return {
    start() {
      const before = read();
      return () => {
        const after = read();
        const delta: Partial<Record<Role, number>> = {};
        for (const role of Object.keys(after) as Role[]) delta[role] = after[role]! - before[role]!;
        return delta;
      };
    },
  };
}
