/**
 * Child process of the search benchmark: the baseline "stock ldapts" client. Binds, runs
 * `searchPaginated` (subtree, all attributes) and prints one JSON line on stdout with the
 * entries read, the seconds and CPU seconds the search took, and the process's peak RSS. Run
 * as its own process so that its memory and CPU are its own.
 *
 * argv[2]: JSON {url, bindDN, bindPassword, base, filter, pageSize}
 */
import { readFileSync } from 'node:fs';
import { Client } from 'ldapts';

interface Args {
  url: string;
  bindDN: string;
  bindPassword: string;
  base: string;
  filter: string;
  pageSize: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  const client = new Client({ url: args.url });
  await client.bind(args.bindDN, args.bindPassword);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let entries = 0;
  for await (const page of client.searchPaginated(args.base, { scope: 'sub', filter: args.filter, paged: { pageSize: args.pageSize } })) {
    entries += page.searchEntries.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await client.unbind();
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
  process.stdout.write(`${JSON.stringify({ entries, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakMb: hwm / 1024 })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
