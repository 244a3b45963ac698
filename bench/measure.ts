/** Measurement helpers shared by the benchmarks: medians and a process's peak RSS from /proc. */
import { readFileSync } from 'node:fs';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Samples a process's RSS every 20 ms while `work` runs; returns the peak in MB. */
export async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = rssKb(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 20);
  try {
    const result = await work();
    return { result, peakMb: Math.max(peak, rssKb(pid)) / 1024 };
  } finally {
    clearInterval(timer);
  }
}
