import { defineConfig } from 'vitest/config';

/**
 * Opt-in runs that are not part of `npm test` (so CI never sees them as skipped): fixture captures and cost
 * printouts. Run one with its variable, e.g.
 *   CAPTURE_XT_FIXTURES=1 npx vitest run --config vitest.optin.config.ts test/netns/netlink/xtables/capture.optin.ts
 */
export default defineConfig({
  test: {
    include: ['test/**/*.optin.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
