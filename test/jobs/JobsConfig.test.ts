// The jobs feature's settings (src/jobs/JobsConfig.ts): on their own, and read with the core's in
// App.config, where one error names every bad variable (deleted with the feature, as they are).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { inspect } from "node:util"
import * as App from "../../src/App.js"
import * as JobsConfig from "../../src/jobs/JobsConfig.js"
import * as TestConfig from "../support/testConfig.js"

const load = (env: Record<string, string>) => TestConfig.read(JobsConfig.config, env)

describe("JobsConfig", () => {
  it.effect("defaults match the contract", () =>
    Effect.gen(function*() {
      expect(Either.getOrThrow(yield* load({}))).toEqual({
        workers: 4,
        jobQueueSize: 1_000,
        dataDir: "./data",
        databaseUrl: undefined,
        jobLeaseMs: 30_000,
        jobMaxAttempts: 3,
        jobRetentionMs: 86_400_000
      })
    }))

  it.effect.each<readonly [string, string]>([["WORKERS", "0"], ["WORKERS", "257"], ["JOB_QUEUE_SIZE", "lots"], ["JOB_LEASE_MS", "999"], ["JOB_MAX_ATTEMPTS", "0"], ["DATA_DIR", ""]])(
    "rejects %s=%j, naming the variable and the value",
    ([variable, value]) =>
      Effect.gen(function*() {
        const found = yield* TestConfig.problems(JobsConfig.config, { [variable]: value })
        expect(found).toHaveLength(1)
        expect(found[0]!.variable).toBe(variable)
        expect(found[0]!.problem).toMatch(/^expected /)
        expect(found[0]!.problem).toContain(JSON.stringify(value))
      })
  )

  it.effect("DATABASE_URL is Redacted: the URL is usable, and shown nowhere", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* load({ DATABASE_URL: "postgres://jobs:s3cr3t@db.example:5432/jobs" }))
      expect(Redacted.value(config.databaseUrl!).host).toBe("db.example:5432")
      for (const shown of [JSON.stringify(config), String(config.databaseUrl), inspect(config, { depth: 5 })]) {
        expect(shown).not.toContain("s3cr3t")
      }
    }))

  it.effect.each(["mysql://u:s3cr3t@h/db", "postgres://u:s3cr3t@"])(
    "rejects DATABASE_URL=%j, naming the variable and the form, never the value",
    (value) =>
      Effect.gen(function*() {
        const found = yield* TestConfig.problems(JobsConfig.config, { DATABASE_URL: value })
        expect(found).toEqual([{ variable: "DATABASE_URL", problem: expect.stringMatching(/^expected a postgres:\/\/ URL/) }])
        expect(JSON.stringify(found)).not.toContain("s3cr3t")
      })
  )

  it.effect("validates on its own: the core's variables are not its to read", () =>
    Effect.gen(function*() {
      const found = yield* TestConfig.problems(JobsConfig.config, { PORT: "x", WORKERS: "0" })
      expect(found.map((problem) => problem.variable)).toEqual(["WORKERS"])
    }))

  it.effect("App.config names its bad variables with the core's, in one error", () =>
    Effect.gen(function*() {
      const found = yield* TestConfig.problems(App.config, { PORT: "x", ADMIN_PORT: "y", LOG_LEVEL: "loud", DATABASE_URL: "mysql://u:s3cr3t@h" })
      expect(found.map((problem) => problem.variable).sort()).toEqual(["ADMIN_PORT", "DATABASE_URL", "LOG_LEVEL", "PORT"])
      expect(JSON.stringify(found)).not.toContain("s3cr3t")
    }))
})
