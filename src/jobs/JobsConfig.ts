// The jobs feature's settings: the worker pool, the queue bound, where the store lives, leases,
// attempts and retention. Read with the core's and every other feature's in one Config.all in
// src/App.ts (one error names every bad variable); then read again here, from the same
// environment, by the feature's own layer. Deleting src/jobs deletes these settings with it.
// DATABASE_URL is a secret: it stays Redacted until JobDatabase opens the pool with it.
import { Config, Context, Layer } from "effect"
import { integer, millis, optionalSecretUrl, path } from "../config/env.js"

export const config = Config.all({
  workers: integer("WORKERS", 4, { min: 1, max: 256 }),
  jobQueueSize: integer("JOB_QUEUE_SIZE", 1_000, { min: 1, max: 1_000_000 }),
  dataDir: path("DATA_DIR", "./data"),
  // Unset: the embedded SQLite store in DATA_DIR. Set: every replica shares this Postgres queue.
  databaseUrl: optionalSecretUrl("DATABASE_URL", ["postgres:", "postgresql:"], "a postgres:// URL"),
  // Whole seconds are what the store keeps (rounded up): at least one.
  jobLeaseMs: millis("JOB_LEASE_MS", 30_000, { min: 1_000, max: 86_400_000 }),
  jobMaxAttempts: integer("JOB_MAX_ATTEMPTS", 3, { min: 1, max: 100 }),
  // Done and failed jobs stay readable (GET /jobs/:id) this long, then are deleted.
  jobRetentionMs: millis("JOB_RETENTION_MS", 86_400_000, { min: 1_000, max: 31_536_000_000 })
})

export type JobsConfigShape = Config.Config.Success<typeof config>

export class JobsConfig extends Context.Tag("app/JobsConfig")<JobsConfig, JobsConfigShape>() {}

/** The settings, read from the current ConfigProvider (tests: test/support/testConfig.ts). */
export const layer = Layer.effect(JobsConfig, config)
