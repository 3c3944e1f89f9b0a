import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real brokers and simulator farms on loopback; running them all at
    // once on a 2-core machine only makes each slower and flakier.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
