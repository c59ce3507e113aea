// The core's settings (src/config/AppConfig.ts) and how src/App.ts reads them with the features'
// in one go. Each feature's own settings are tested beside it (test/jobs/JobsConfig.test.ts, ...),
// so that deleting a feature deletes its cases too.
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Either, Redacted } from "effect"
import { inspect } from "node:util"
import * as App from "../../src/App.js"
import * as AppConfig from "../../src/config/AppConfig.js"
import * as TestConfig from "../support/testConfig.js"

const load = (env: Record<string, string>) => TestConfig.read(AppConfig.config, env)

/** Through App.config, as main.ts reads them: the core's and every feature's settings at once. */
const problems = (env: Record<string, string>) => TestConfig.problems(App.config, env)

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

  it.effect("ADMIN_TOKEN is Redacted: the value is usable, and shown nowhere", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* load({ ADMIN_TOKEN: "s3cr3t-token" }))
      expect(Redacted.value(config.adminToken!)).toBe("s3cr3t-token")
      for (const shown of [JSON.stringify(config), String(config.adminToken), `${config.adminToken}`, inspect(config, { depth: 5 })]) {
        expect(shown).not.toContain("s3cr3t")
      }
    }))

  it.effect("a secret read through ConfigProvider.fromMap is Redacted: toString, JSON and inspect do not reveal it", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(new Map([["ADMIN_TOKEN", "s3cr3t-token"]]))
      const config = yield* Effect.withConfigProvider(AppConfig.config, provider)
      const token = config.adminToken!
      expect(Redacted.isRedacted(token)).toBe(true)
      expect(token.toString()).toBe("<redacted>")
      expect(JSON.stringify({ token })).not.toContain("s3cr3t")
      expect(inspect(token)).not.toContain("s3cr3t")
      expect(Redacted.value(token)).toBe("s3cr3t-token")
      // Effect's own reader redacts the same way: the test helper's provider is the production path.
      const plain = yield* Effect.withConfigProvider(Config.redacted("ADMIN_TOKEN"), TestConfig.provider({ ADMIN_TOKEN: "s3cr3t-token" }))
      expect(String(plain)).toBe("<redacted>")
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
    ["LOG_REQUESTS", "sometimes"]
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
      const found = yield* problems({ PORT: "x", ADMIN_PORT: "y", LOG_LEVEL: "loud", ADMIN_TOKEN: "s3cr3t", HOST: "http://h" })
      expect(found.map((problem) => problem.variable).sort()).toEqual(["ADMIN_PORT", "HOST", "LOG_LEVEL", "PORT"])
      expect(JSON.stringify(found)).not.toContain("s3cr3t")
    }))

  it.effect("the core's settings validate on their own: a feature's variable is not theirs to read", () =>
    Effect.gen(function*() {
      const found = yield* TestConfig.problems(AppConfig.config, { PORT: "x", WORKERS: "0", UPSTREAM_URL: "ftp://x", WS_SEND_QUEUE: "0" })
      expect(found.map((problem) => problem.variable)).toEqual(["PORT"])
    }))

  it.effect("a refused ADMIN_HOST is reported with the other bad variables, not after them; an invalid one once", () =>
    Effect.gen(function*() {
      const withBadPort = yield* problems({ ADMIN_HOST: "0.0.0.0", PORT: "x" })
      expect(withBadPort.map((problem) => problem.variable).sort()).toEqual(["ADMIN_TOKEN", "PORT"])
      const invalidHost = yield* problems({ ADMIN_HOST: "http://x" })
      expect(invalidHost.map((problem) => problem.variable)).toEqual(["ADMIN_HOST"])
    }))

})
