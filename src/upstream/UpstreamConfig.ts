// The upstream feature's settings: where GET /upstream calls, the timeout per attempt, retries and
// the circuit breaker. Read with the core's and every other feature's in one Config.all in
// src/App.ts (one error names every bad variable); then read again here, from the same
// environment, by the feature's own layer. Deleting src/upstream deletes these settings with it.
// UPSTREAM_URL is a secret (it may carry credentials): Redacted until the client calls it.
import { Config, Context, Layer } from "effect"
import { integer, millis, optionalSecretUrl } from "../config/env.js"

export const config = Config.all({
  upstreamUrl: optionalSecretUrl("UPSTREAM_URL", ["http:", "https:"], "an http:// or https:// URL"),
  upstreamTimeoutMs: millis("UPSTREAM_TIMEOUT_MS", 2_000, { min: 1, max: 600_000 }),
  upstreamRetries: integer("UPSTREAM_RETRIES", 2, { min: 0, max: 10 }),
  breakerFailures: integer("BREAKER_FAILURES", 5, { min: 1, max: 1_000 }),
  breakerResetMs: millis("BREAKER_RESET_MS", 10_000, { min: 1, max: 3_600_000 })
})

export type UpstreamConfigShape = Config.Config.Success<typeof config>

export class UpstreamConfig extends Context.Tag("app/UpstreamConfig")<UpstreamConfig, UpstreamConfigShape>() {}

/** The settings, read from the current ConfigProvider (tests: test/support/testConfig.ts). */
export const layer = Layer.effect(UpstreamConfig, config)
