import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either } from "effect"
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
        debugHangOnShutdown: false
      })
    }))

  it.effect("reads valid values, trimming and lower-casing where the form allows", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* load({ PORT: "0", LOG_LEVEL: " WARN ", ADMIN_TOKEN: "t", DRAIN_DELAY_MS: "5000" }))
      expect(config).toMatchObject({ port: 0, logLevel: "warn", adminToken: "t", drainDelayMs: 5_000 })
    }))

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
    ["WORKERS", "0"],
    ["JOB_QUEUE_SIZE", "lots"],
    ["UPSTREAM_URL", "ftp://example"],
    ["UPSTREAM_URL", "not a url"]
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
      const found = yield* problems({ PORT: "x", ADMIN_PORT: "y", LOG_LEVEL: "loud" })
      expect(found.map((problem) => problem.variable).sort()).toEqual(["ADMIN_PORT", "LOG_LEVEL", "PORT"])
    }))
})
