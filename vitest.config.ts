import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Secrets must never reach test output: keep console output of the code under test quiet.
    silent: 'passed-only',
  },
});
