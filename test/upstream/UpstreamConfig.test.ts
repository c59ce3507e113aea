// The upstream feature's settings (src/upstream/UpstreamConfig.ts): on their own, and read with the
// core's in App.config, where one error names every bad variable (deleted with the feature).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { inspect } from "node:util"
import * as App from "../../src/App.js"
import * as UpstreamConfig from "../../src/upstream/UpstreamConfig.js"
import * as TestConfig from "../support/testConfig.js"

const load = (env: Record<string, string>) => TestConfig.read(UpstreamConfig.config, env)

describe("UpstreamConfig", () => {
  it.effect("defaults match the contract", () =>
    Effect.gen(function*() {
      expect(Either.getOrThrow(yield* load({}))).toEqual({
        upstreamUrl: undefined,
        upstreamTimeoutMs: 2_000,
        upstreamRetries: 2,
        breakerFailures: 5,
        breakerResetMs: 10_000
      })
    }))

  it.effect.each<readonly [string, string]>([["UPSTREAM_TIMEOUT_MS", "0"], ["UPSTREAM_RETRIES", "11"], ["BREAKER_FAILURES", "0"], ["BREAKER_RESET_MS", "soon"]])(
    "rejects %s=%j, naming the variable and the value",
    ([variable, value]) =>
      Effect.gen(function*() {
        const found = yield* TestConfig.problems(UpstreamConfig.config, { [variable]: value })
        expect(found).toHaveLength(1)
        expect(found[0]!.variable).toBe(variable)
        expect(found[0]!.problem).toMatch(/^expected /)
        expect(found[0]!.problem).toContain(JSON.stringify(value))
      })
  )

  it.effect("UPSTREAM_URL is Redacted: the URL is usable, and shown nowhere", () =>
    Effect.gen(function*() {
      const config = Either.getOrThrow(yield* load({ UPSTREAM_URL: "https://user:s3cr3t@upstream.example/api" }))
      expect(Redacted.value(config.upstreamUrl!).password).toBe("s3cr3t")
      for (const shown of [JSON.stringify(config), String(config.upstreamUrl), inspect(config, { depth: 5 })]) {
        expect(shown).not.toContain("s3cr3t")
      }
    }))

  it.effect.each(["ftp://user:s3cr3t@example", "not a url with s3cr3t"])(
    "rejects UPSTREAM_URL=%j, naming the variable and the form, never the value",
    (value) =>
      Effect.gen(function*() {
        const found = yield* TestConfig.problems(UpstreamConfig.config, { UPSTREAM_URL: value })
        expect(found).toEqual([{ variable: "UPSTREAM_URL", problem: expect.stringMatching(/^expected an http:\/\/ or https:\/\/ URL/) }])
        expect(JSON.stringify(found)).not.toContain("s3cr3t")
      })
  )

  it.effect("validates on its own: the core's variables are not its to read", () =>
    Effect.gen(function*() {
      const found = yield* TestConfig.problems(UpstreamConfig.config, { PORT: "x", UPSTREAM_RETRIES: "-1" })
      expect(found.map((problem) => problem.variable)).toEqual(["UPSTREAM_RETRIES"])
    }))

  it.effect("App.config names its bad variables with the core's, in one error", () =>
    Effect.gen(function*() {
      const found = yield* TestConfig.problems(App.config, { PORT: "x", UPSTREAM_URL: "ftp://u:s3cr3t@h", BREAKER_FAILURES: "0" })
      expect(found.map((problem) => problem.variable).sort()).toEqual(["BREAKER_FAILURES", "PORT", "UPSTREAM_URL"])
      expect(JSON.stringify(found)).not.toContain("s3cr3t")
    }))
})
