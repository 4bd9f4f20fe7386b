import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites that start boards, QEMU or simulators are heavy; two cores on CI.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
