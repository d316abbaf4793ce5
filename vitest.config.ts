import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Windows programs under Wine: their own job (vitest.windows.config.ts, .ci/windows).
    exclude: [...configDefaults.exclude, 'test/windows/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests start real processes and listeners: keep the 2-core machine from oversubscribing.
    maxWorkers: 2,
  },
});
