import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Redacted } from "effect"
import { inspect } from "node:util"
import * as AppConfig from "../../src/config/AppConfig.js"

const load = (env: Record<string, string>) =>
  Effect.either(AppConfig.load.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

const problems = (env: Record<string, string>) =>
  Effect.map(load(env), (result) => Either.isLeft(result) ? AppConfig.describeConfigError(result.left) : [])

describe("AppConfig", () => {
  it.effect("defaults match the contract", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* load({}))
      expect(config).toEqual({
        port: 8080,
        host: "0.0.0.0",
        adminPort: 9090,
        adminHost: "127.0.0.1",
        adminToken: undefined,
        shutdownTimeoutMs: 10_000,
        drainDelayMs: 0,
        requestTimeoutMs: 30_000,
        logLevel: "info",
        logRequests: false,
        wsPingIntervalMs: 15_000,
        wsPongTimeoutMs: 10_000,
        wsMaxMessageBytes: 65_536,
        wsSendQueue: 256,
        upstreamUrl: undefined,
        upstreamTimeoutMs: 2_000,
        upstreamRetries: 2,
        breakerFailures: 5,
        breakerResetMs: 10_000,
        workers: 4,
        jobQueueSize: 1_000,
        dataDir: "./data",
        databaseUrl: undefined,
        jobLeaseMs: 30_000,
        jobMaxAttempts: 3,
        jobRetentionMs: 86_400_000,
        redisUrl: undefined,
        debugHangOnShutdown: false
      })
    }))

  it.effect("reads valid values, trimming and lower-casing where the form allows", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* load({ PORT: "0", LOG_LEVEL: " WARN ", ADMIN_TOKEN: " t ", DRAIN_DELAY_MS: "5000" }))
      expect(config).toMatchObject({ port: 0, logLevel: "warn", drainDelayMs: 5_000 })
      expect(Redacted.value(config.adminToken!)).toBe("t")
    }))

  it.effect.each<readonly [string, boolean]>([["true", true], [" TRUE ", true], ["1", true], ["yes", true], ["false", false], ["0", false], ["", false]])(
    "LOG_REQUESTS=%j -> logRequests %s",
    ([value, expected]) =>
      Effect.gen(function*() {
        expect(Either.getOrThrow(yield* load({ LOG_REQUESTS: value })).logRequests).toBe(expected)
      })
  )

  it.effect("secrets are Redacted: the values are usable, and shown nowhere", () =>
    Effect.gen(function*() {
      const env = {
        ADMIN_TOKEN: "s3cr3t-token",
        UPSTREAM_URL: "https://user:s3cr3t@upstream.example/api",
        DATABASE_URL: "postgres://jobs:s3cr3t@db.example:5432/jobs",
        REDIS_URL: "rediss://:s3cr3t@cache.example:6380"
      }
      const config = Either.getOrThrow(yield* load(env))
      expect(Redacted.value(config.adminToken!)).toBe("s3cr3t-token")
      expect(Redacted.value(config.upstreamUrl!).password).toBe("s3cr3t")
      expect(Redacted.value(config.databaseUrl!).host).toBe("db.example:5432")
      expect(Redacted.value(config.redisUrl!).protocol).toBe("rediss:")
      for (const shown of [JSON.stringify(config), String(config.upstreamUrl), inspect(config, { depth: 5 })]) {
        expect(shown).not.toContain("s3cr3t")
      }
    }))

  it.effect.each<readonly [string, string]>([
    ["UPSTREAM_URL", "ftp://user:s3cr3t@example"],
    ["UPSTREAM_URL", "not a url with s3cr3t"],
    ["DATABASE_URL", "mysql://u:s3cr3t@h/db"],
    ["DATABASE_URL", "postgres://u:s3cr3t@"],
    ["REDIS_URL", "http://:s3cr3t@cache"]
  ])("rejects secret %s=%j, naming the variable and the form, never the value", ([variable, value]) =>
    Effect.gen(function*() {
      const found = yield* problems({ [variable]: value })
      expect(found).toHaveLength(1)
      expect(found[0]!.variable).toBe(variable)
      expect(found[0]!.problem).toMatch(/^expected an? \w+:\/\/ /)
      expect(JSON.stringify(found)).not.toContain("s3cr3t")
    }))

  it.effect.each(["0.0.0.0", "::", "10.0.0.5", "128.0.0.1", "admin.internal"])(
    "ADMIN_HOST=%s (reachable from elsewhere) without ADMIN_TOKEN: refused, naming ADMIN_TOKEN and ADMIN_HOST",
    (adminHost) =>
      Effect.gen(function*() {
        const found = yield* problems({ ADMIN_HOST: adminHost })
        expect(found).toEqual([{ variable: "ADMIN_TOKEN", problem: expect.stringContaining("ADMIN_HOST") }])
        expect(found[0]!.problem).toContain(`(${adminHost})`)
        expect(found[0]!.problem).toMatch(/set ADMIN_TOKEN/)
        expect(Either.isRight(yield* load({ ADMIN_HOST: adminHost, ADMIN_TOKEN: "t" }))).toBe(true)
      })
  )

  it.effect.each(["127.0.0.1", "127.8.9.10", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"])(
    "ADMIN_HOST=%s is loopback: no token needed",
    (adminHost) =>
      Effect.gen(function*() {
        expect(yield* problems({ ADMIN_HOST: adminHost })).toEqual([])
      })
  )

  it.effect.each<readonly [string, string]>([
    ["PORT", "abc"],
    ["PORT", "65536"],
    ["PORT", "80.5"],
    ["PORT", "1e3"],
    ["PORT", ""],
    ["ADMIN_PORT", "-1"],
    ["SHUTDOWN_TIMEOUT_MS", "-1"],
    ["SHUTDOWN_TIMEOUT_MS", "0"],
    ["REQUEST_TIMEOUT_MS", "0x10"],
    ["DRAIN_DELAY_MS", "soon"],
    ["LOG_LEVEL", "verbose"],
    ["HOST", "http://example"],
    ["DEBUG_HANG_ON_SHUTDOWN", "maybe"],
    ["LOG_REQUESTS", "sometimes"],
    ["WORKERS", "0"],
    ["JOB_QUEUE_SIZE", "lots"]
  ])("rejects %s=%j, naming the variable and the value", ([variable, value]) =>
    Effect.gen(function*() {
      const found = yield* problems({ [variable]: value })
      expect(found).toHaveLength(1)
      expect(found[0]!.variable).toBe(variable)
      expect(found[0]!.problem).toMatch(/^expected /)
      expect(found[0]!.problem).toContain(JSON.stringify(value.trim()))
    }))

  it.effect("reports every invalid variable at once", () =>
    Effect.gen(function*() {
      const found = yield* problems({ PORT: "x", ADMIN_PORT: "y", LOG_LEVEL: "loud", DATABASE_URL: "mysql://u:s3cr3t@h" })
      expect(found.map((problem) => problem.variable).sort()).toEqual(["ADMIN_PORT", "DATABASE_URL", "LOG_LEVEL", "PORT"])
      expect(JSON.stringify(found)).not.toContain("s3cr3t")
    }))

  it.effect("a refused ADMIN_HOST is reported with the other bad variables, not after them; an invalid one once", () =>
    Effect.gen(function*() {
      const withBadPort = yield* problems({ ADMIN_HOST: "0.0.0.0", PORT: "x" })
      expect(withBadPort.map((problem) => problem.variable).sort()).toEqual(["ADMIN_TOKEN", "PORT"])
      const invalidHost = yield* problems({ ADMIN_HOST: "http://x" })
      expect(invalidHost.map((problem) => problem.variable)).toEqual(["ADMIN_HOST"])
    }))

  it("the test factory redacts secrets given in the clear", () => {
    const config = AppConfig.test({ adminToken: "t", upstreamUrl: new URL("http://u:p@h/") })
    expect(Redacted.isRedacted(config.adminToken)).toBe(true)
    expect(Redacted.value(config.upstreamUrl!).password).toBe("p")
    expect(config.databaseUrl).toBeUndefined()
  })
})
