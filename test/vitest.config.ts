import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    // Fetches the test model into the user cache when it is missing (scripts/models.mjs).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests start real processes and servers; two workers fit this 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
  },
});
