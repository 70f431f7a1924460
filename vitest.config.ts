import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real daemons; give them room but never hang CI.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: files that start daemons are heavy, keep parallelism modest.
    maxWorkers: 3,
    reporters: ['default'],
  },
});
