// The outbound client against a real upstream whose answers the test scripts. What is about
// time only (backoff, breaker reset) is in UpstreamTiming.test.ts, on TestClock.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer } from "effect"
import { MAX_JSON_DEPTH } from "../../src/http/BoundedJson.js"
import { layer, MAX_BODY_BYTES, Upstream } from "../../src/upstream/Upstream.js"
import * as UpstreamConfig from "../../src/upstream/UpstreamConfig.js"
import { captureLogs } from "../support/captureLogs.js"
import { startUpstream } from "./fakeUpstream.js"
import { leakCheck } from "../support/LeakCheck.js"
import * as TestConfig from "../support/testConfig.js"

const withUpstream = (url: string | undefined, overrides: TestConfig.Env = {}) =>
  Layer.provide(
    layer,
    TestConfig.withEnv(UpstreamConfig.layer, {
      ...(url === undefined ? {} : { UPSTREAM_URL: url }),
      // 2 s: an answered attempt must never hit it, even on a loaded machine (it would be retried).
      UPSTREAM_TIMEOUT_MS: "2000",
      UPSTREAM_RETRIES: "2",
      BREAKER_FAILURES: "3",
      BREAKER_RESET_MS: "300",
      ...overrides
    })
  )

const failureOf = <A, E>(result: Either.Either<A, E>) => Either.isLeft(result) ? result.left : undefined

describe("Upstream", () => {
  it.live("success: the JSON body, one request", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 200, body: { hello: "upstream" } })
      yield* leakCheck(Effect.gen(function*() {
        const upstream = yield* Upstream
        expect(yield* upstream.call("GET")).toEqual({ hello: "upstream" })
      }).pipe(Effect.provide(withUpstream(fake.url))))
      expect(fake.requests).toHaveLength(1)
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a timeout, then success on retry; the timed-out attempt's socket is closed at the upstream", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push("hang", { status: 200, body: { n: 2 } })
      const value = yield* Effect.flatMap(Upstream, (upstream) => upstream.call("GET")).pipe(
        Effect.provide(withUpstream(fake.url, { UPSTREAM_TIMEOUT_MS: "1000" }))
      )
      expect(value).toEqual({ n: 2 })
      expect(fake.requests).toHaveLength(2)
      const first = fake.requests[0]!
      expect(first.closedAt).toBeDefined()
      // Cut at its 1 s timeout: without cancellation it would stay open until the upstream
      // closes (at the end of the test). The bound is loose: a loaded machine is slow, not wrong.
      expect(first.closedAt! - first.at).toBeLessThan(1_000 + 3_000)
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a non-idempotent call is not retried, and a 4xx is not retried", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 503 }, { status: 404 })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        const post = failureOf(yield* Effect.either(upstream.call("POST")))
        expect(post).toMatchObject({ _tag: "UpstreamError", reason: "Status", status: 503 })
        expect(fake.requests).toHaveLength(1)
        const notFound = failureOf(yield* Effect.either(upstream.call("GET")))
        expect(notFound).toMatchObject({ _tag: "UpstreamError", reason: "Status", status: 404 })
        expect(fake.requests).toHaveLength(2)
      }).pipe(Effect.provide(withUpstream(fake.url)))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("UPSTREAM_URL unset -> UpstreamNotConfigured, nothing called", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(Effect.flatMap(Upstream, (upstream) => upstream.call("GET"))).pipe(
        Effect.provide(withUpstream(undefined))
      )
      expect(failureOf(result)).toMatchObject({ _tag: "UpstreamNotConfigured" })
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a 2xx whose body is not JSON: not retried (the same answer would come back), but counted by the breaker", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 200, text: "<html>maintenance</html>" })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        expect(failureOf(yield* Effect.either(upstream.call("GET")))).toMatchObject({ _tag: "UpstreamError", reason: "Body", status: 200 })
        expect(fake.requests).toHaveLength(1)
        expect(yield* upstream.breaker.state).toBe("open")
      }).pipe(Effect.provide(withUpstream(fake.url, { BREAKER_FAILURES: "1" })))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a 2xx nested deeper than MAX_JSON_DEPTH, or bigger than the body limit, is a Body failure", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      const deep = "[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1)
      fake.script.push({ status: 200, text: deep }, { status: 200, text: JSON.stringify("x".repeat(MAX_BODY_BYTES)) })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        expect(failureOf(yield* Effect.either(upstream.call("GET")))).toMatchObject({ reason: "Body", status: 200 })
        expect(failureOf(yield* Effect.either(upstream.call("GET")))).toMatchObject({ reason: "Body", status: 200 })
        expect(fake.requests).toHaveLength(2)
      }).pipe(Effect.provide(withUpstream(fake.url, { BREAKER_FAILURES: "100" })))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a call interrupted while the upstream hangs (request timeout, client gone) counts as a failure: the breaker opens", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push("hang", "hang")
      yield* leakCheck(Effect.gen(function*() {
        const upstream = yield* Upstream
        for (let n = 1; n <= 2; n++) {
          const call = yield* Effect.fork(upstream.call("GET"))
          while (fake.requests.length < n) yield* Effect.sleep("5 millis") // the upstream's own record is the event
          yield* Fiber.interrupt(call)
        }
        expect(yield* upstream.breaker.state).toBe("open")
        expect(failureOf(yield* Effect.either(upstream.call("GET")))).toMatchObject({ _tag: "CircuitOpen" })
        expect(fake.requests).toHaveLength(2)
      }).pipe(Effect.provide(withUpstream(fake.url, { UPSTREAM_TIMEOUT_MS: "10000", BREAKER_FAILURES: "2" }))))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)
})
