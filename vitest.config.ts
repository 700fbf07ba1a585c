import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    // Native ops run in worker processes; the addon is context-aware, but forks keep a crash
    // in one suite from taking the others down.
    pool: 'forks',
    testTimeout: 60_000,
    // Suites make real models and datasets first: on a busy 2-core machine that can take a while.
    hookTimeout: 120_000,
  },
});
