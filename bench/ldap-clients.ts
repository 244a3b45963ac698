/**
 * The two baselines of the search benchmark, each run as a fresh child process:
 *
 * - `ldapsearch -LLL -E pr=<page>/noprompt` (OpenLDAP's C client). Its CPU comes from the
 *   shell's `times` after `wait` (the reaped child's user and system time), its peak RSS from
 *   VmHWM sampled while it runs; its output is piped here and entries are counted by their
 *   `dn:` lines.
 * - stock ldapts `searchPaginated` (bench/ldapts-direct.ts), which reports its own CPU and peak.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { peakMb } from './proc.js';

export interface ClientRun {
  readonly entries: number;
  readonly seconds: number;
  /** The client's CPU seconds. */
  readonly cpuSeconds: number;
  /** The client's peak RSS, MB. */
  readonly peakMb: number;
}

export interface LdapTarget {
  readonly url: string;
  readonly bindDN: string;
  readonly bindPassword: string;
  readonly base: string;
  readonly filter: string;
  readonly pageSize: number;
}

const DN_LINE = Buffer.from('\ndn:');

/** Runs ldapsearch over the subtree; rejects on a non-zero exit. */
export function runLdapsearch(t: LdapTarget): Promise<ClientRun> {
  const script = 'ldapsearch "$@" & pid=$!; echo "pid $pid" >&2; wait $pid; rc=$?; times >&2; exit $rc';
  const args = ['-x', '-H', t.url, '-D', t.bindDN, '-w', t.bindPassword, '-b', t.base, '-s', 'sub', '-LLL', '-E', `pr=${t.pageSize}/noprompt`, t.filter];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('sh', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let entries = 0;
    let carry = Buffer.from('\n');
    child.stdout.on('data', (chunk: Buffer) => {
      const b = Buffer.concat([carry, chunk]);
      for (let i = b.indexOf(DN_LINE); i !== -1; i = b.indexOf(DN_LINE, i + 1)) entries++;
      carry = b.subarray(Math.max(0, b.length - (DN_LINE.length - 1)));
    });
    let stderr = '';
    let pid: number | undefined;
    let peak = 0;
    const sample = (): void => {
      if (pid === undefined) return;
      try {
        const now = peakMb(pid);
        if (!Number.isNaN(now)) peak = Math.max(peak, now); // a zombie has no VmHWM
      } catch {
        // gone already
      }
    };
    const timer = setInterval(sample, 5);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /pid (\d+)/.exec(stderr);
      if (pid === undefined && m) {
        pid = Number(m[1]);
        sample();
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`ldapsearch exited ${code}: ${stderr}`));
      // `times`: the shell's user and system time, then its children's.
      const times = [...stderr.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      if (times.length < 4) return reject(new Error(`no CPU times from the shell: ${stderr}`));
      resolve({ entries, seconds, cpuSeconds: times[2]! + times[3]!, peakMb: peak > 0 ? peak : Number.NaN });
    });
  });
}

/** Runs bench/ldapts-direct.js (stock ldapts searchPaginated) in a fresh node process. */
export function runLdaptsDirect(t: LdapTarget): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'ldapts-direct.js'), JSON.stringify(t)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ldapts-direct exited ${code}: ${stderr}`));
      resolve(JSON.parse(stdout) as ClientRun);
    });
  });
}
