// The WebSocket feature's settings (src/websocket/WebSocketConfig.ts): on their own, and read with
// the core's in App.config, where one error names every bad variable (deleted with the feature).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { inspect } from "node:util"
import * as App from "../../src/App.js"
import * as WebSocketConfig from "../../src/websocket/WebSocketConfig.js"
import * as TestConfig from "../support/testConfig.js"

const load = (env: Record<string, string>) => TestConfig.read(WebSocketConfig.config, env)

describe("WebSocketConfig", () => {
  it.effect("defaults match the contract", () =>
    Effect.gen(function*() {
      expect(Either.getOrThrow(yield* load({}))).toEqual({
        wsPingIntervalMs: 15_000,
        wsPongTimeoutMs: 10_000,
        wsMaxMessageBytes: 65_536,
        wsSendQueue: 256,
        redisUrl: undefined
      })
    }))

  it.effect.each<readonly [string, string]>([["WS_PING_INTERVAL_MS", "9"], ["WS_PONG_TIMEOUT_MS", "x"], ["WS_MAX_MESSAGE_BYTES", "15"], ["WS_SEND_QUEUE", "0"]])(
    "rejects %s=%j, naming the variable and the value",
    ([variable, value]) =>
      Effect.gen(function*() {
        const found = yield* TestConfig.problems(WebSocketConfig.config, { [variable]: value })
        expect(found).toHaveLength(1)
        expect(found[0]!.variable).toBe(variable)
        expect(found[0]!.problem).toMatch(/^expected /)
        expect(found[0]!.problem).toContain(JSON.stringify(value))
      })
  )

  it.effect("REDIS_URL is Redacted: the URL is usable, and shown nowhere", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* load({ REDIS_URL: "rediss://:s3cr3t@cache.example:6380" }))
      expect(Redacted.value(config.redisUrl!).protocol).toBe("rediss:")
      for (const shown of [JSON.stringify(config), String(config.redisUrl), inspect(config, { depth: 5 })]) {
        expect(shown).not.toContain("s3cr3t")
      }
    }))

  it.effect("rejects REDIS_URL=\"http://:s3cr3t@cache\", naming the variable and the form, never the value", () =>
    Effect.gen(function*() {
      const found = yield* TestConfig.problems(WebSocketConfig.config, { REDIS_URL: "http://:s3cr3t@cache" })
      expect(found).toEqual([{ variable: "REDIS_URL", problem: expect.stringMatching(/^expected a redis:\/\/ or rediss:\/\/ URL/) }])
      expect(JSON.stringify(found)).not.toContain("s3cr3t")
    }))

  it.effect("validates on its own: the core's variables are not its to read", () =>
    Effect.gen(function*() {
      const found = yield* TestConfig.problems(WebSocketConfig.config, { LOG_LEVEL: "loud", WS_SEND_QUEUE: "0" })
      expect(found.map((problem) => problem.variable)).toEqual(["WS_SEND_QUEUE"])
    }))

  it.effect("App.config names its bad variables with the core's, in one error", () =>
    Effect.gen(function*() {
      const found = yield* TestConfig.problems(App.config, { LOG_LEVEL: "loud", REDIS_URL: "http://:s3cr3t@cache", WS_SEND_QUEUE: "0" })
      expect(found.map((problem) => problem.variable).sort()).toEqual(["LOG_LEVEL", "REDIS_URL", "WS_SEND_QUEUE"])
      expect(JSON.stringify(found)).not.toContain("s3cr3t")
    }))
})
