import { defineConfig } from 'vitest/config';

/**
 * The Windows job (.ci/windows, docs/windows-release.md): tests in test/windows/ drive Windows
 * programs (the release exe, node.exe) under Wine, in one prefix made by the global setup.
 * One file at a time: the programs share the prefix's wineserver and the 2 cores.
 */
export default defineConfig({
  test: {
    include: ['test/windows/**/*.test.ts'],
    globalSetup: ['test/windows/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
