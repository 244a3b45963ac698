import { defineConfig } from 'vitest/config';

// Split by cost (STYLE.md §18): marbles run in virtual time, integration starts real servers.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'marbles', include: ['marbles/**/*.spec.ts'] } },
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'contract',
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
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
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
          include: ['test/security/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
