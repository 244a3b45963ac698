import { defineConfig } from 'vitest/config';

// Split by cost (docs/architecture.md, "Testing"): marbles run in virtual time, integration starts real servers.
// The built-in data sources, registered as the agent registers them at start (each project).
const setupFiles = ['test/helpers/register-builtins.ts'];

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'marbles',
          setupFiles, include: ['marbles/**/*.spec.ts'] } },
      { test: { name: 'unit',
          setupFiles, include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          setupFiles,
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
          include: ['test/contract/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // Fault injection: real slapd, hub and agent with a fault proxy (test/faults/fault-proxy.ts)
          // between them. One file at a time: the scenarios measure timings and memory.
          name: 'faults',
          setupFiles,
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
          include: ['test/security/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
