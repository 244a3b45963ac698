import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Split by cost (docs/architecture.md, "Testing"): marbles run in virtual time, integration starts real servers.
// The built-in data sources, registered as the agent registers them at start (each project).
// Every log line a test sees is checked for a key written twice (test/helpers/log-audit.ts).
const setupFiles = ['test/helpers/register-builtins.ts', 'test/helpers/log-audit.ts'];
// Projects whose tests run built code (worker threads, CLIs and child processes load dist/):
// dist/ is rebuilt first when any source is newer than its build (test/helpers/fresh-dist.ts).
const globalSetup = ['test/helpers/fresh-dist.ts'];
// Projects whose files run side by side: they measure no timings and count nothing global (each
// contract file starts its own servers). Vitest's default on 2 cores is one worker; these share
// one group, so they need the same figure. The others run one file at a time, after them.
const parallel = { fileParallelism: true, maxWorkers: Math.max(2, availableParallelism() - 1) };

export default defineConfig({
  test: {
    projects: [
      // A timeout is not an assertion: on a loaded 2-core machine a property test that takes 1 s
      // idle can take 10; the bound only stops a test that hangs.
      { test: { name: 'marbles',
          setupFiles, ...parallel, include: ['marbles/**/*.spec.ts'], testTimeout: 60_000 } },
      { test: { name: 'unit',
          setupFiles, globalSetup, ...parallel, include: ['test/unit/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
      {
        test: {
          name: 'integration',
          setupFiles,
          globalSetup,
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'contract',
          setupFiles,
          globalSetup,
          ...parallel,
          include: ['test/contract/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // Fault injection: real slapd, hub and agent with a fault proxy (test/faults/fault-proxy.ts)
          // between them. One file at a time: the scenarios measure timings and memory.
          name: 'faults',
          setupFiles,
          globalSetup,
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          setupFiles,
          globalSetup,
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // Hostile input (fast-check, fixed seeds): rogue hub, rogue agent, HTTP API abuse,
          // LDAP filter/DN injection against a real slapd. One file at a time: they count ops.
          name: 'hostile',
          setupFiles,
          globalSetup,
          include: ['test/hostile/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // Security checks over real servers: secrets never in logs or errors, TLS failures.
          name: 'security',
          setupFiles,
          globalSetup,
          include: ['test/security/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // The real proxies that sit in front of agents and hubs (tinyproxy, nginx, HAProxy from
          // apt), each a private instance under a temp dir. One file at a time: they count pages.
          name: 'proxies',
          setupFiles,
          globalSetup,
          include: ['test/proxies/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
