import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    // Process tests spawn real children; each sets its own short timeout and kills its child.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores: keep parallel forks low so timing-sensitive process tests stay stable.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
