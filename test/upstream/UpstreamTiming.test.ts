// The outbound call's clock, on TestClock: retry backoff, attempt timeout, breaker reset. No
// socket here (the socket behaviour is in upstreamSockets.test.ts): an in-memory HttpClient
// answers as the test scripts, so every wait is the schedule's, not the network's.
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Effect, Fiber, Layer, TestClock } from "effect"
import { make, Upstream } from "../../src/upstream/Upstream.js"
import * as UpstreamConfig from "../../src/upstream/UpstreamConfig.js"
import { leakCheck } from "../support/LeakCheck.js"
import * as TestConfig from "../support/testConfig.js"

type Scripted = number | "hang"

/** An HttpClient whose answers are `script`, in order (then 200); `sent` counts the requests. */
const scriptedClient = (script: Array<Scripted>) => {
  const sent = { count: 0 }
  const client = HttpClient.make((request) =>
    Effect.suspend(() => {
      sent.count++
      const answer = script.shift() ?? 200
      if (answer === "hang") return Effect.never
      // A non-2xx has no body: reading a web body settles on promises, not on the test's clock.
      const body = answer >= 200 && answer < 300 ? JSON.stringify({ answer }) : null
      return Effect.succeed(HttpClientResponse.fromWeb(request, new Response(body, { status: answer })))
    })
  )
  return { sent, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

const upstreamWith = (script: Array<Scripted>, overrides: TestConfig.Env = {}) => {
  const { layer, sent } = scriptedClient(script)
  const config = TestConfig.withEnv(UpstreamConfig.layer, { UPSTREAM_URL: "http://upstream.test/data", UPSTREAM_TIMEOUT_MS: "1000", ...overrides })
  return { sent, layer: Layer.effect(Upstream, make).pipe(Layer.provide([layer, config])) }
}

/**
 * Lets the forked call run, without moving the clock, until `count` requests were sent and it
 * waits for a deadline at most `withinMs` ahead: a retry's backoff (<= 240 ms here) or an
 * attempt's timeout. Returns how far ahead that deadline is. Deadlines left behind by a race
 * already decided do not count.
 */
const untilWaiting = (sent: { readonly count: number }, count: number, withinMs: number) =>
  Effect.gen(function*() {
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const ahead = Chunk.filter(Chunk.map(yield* TestClock.sleeps(), (at) => at - now), (left) => left > 0 && left <= withinMs)
      if (sent.count === count && Chunk.isNonEmpty(ahead)) return Math.min(...ahead)
      yield* Effect.yieldNow()
    }
  })

describe("Upstream on TestClock", { timeout: 15_000 }, () => {
  it.effect("5xx is retried after a jittered exponential backoff: ~100 ms, then ~200 ms", () => {
    const { layer, sent } = upstreamWith([500, 502, 200], { UPSTREAM_RETRIES: "2" })
    return leakCheck(Effect.gen(function*() {
      const upstream = yield* Upstream
      const call = yield* Effect.fork(upstream.call("GET"))
      const first = yield* untilWaiting(sent, 1, 240)
      expect(first).toBeGreaterThanOrEqual(80) // 100 ms, jittered by 0.8..1.2
      expect(first).toBeLessThanOrEqual(120)
      yield* TestClock.adjust(first - 1)
      expect(sent.count).toBe(1)
      yield* TestClock.adjust(1)
      const second = yield* untilWaiting(sent, 2, 240)
      expect(second).toBeGreaterThanOrEqual(160) // 200 ms, jittered
      expect(second).toBeLessThanOrEqual(240)
      yield* TestClock.adjust(second - 1)
      expect(sent.count).toBe(2)
      yield* TestClock.adjust(1)
      expect(yield* Fiber.join(call)).toEqual({ answer: 200 })
      expect(sent.count).toBe(3)
    }).pipe(Effect.provide(layer)))
  })

  it.effect("5xx is retried UPSTREAM_RETRIES times, then the call fails with the last answer", () => {
    const { layer, sent } = upstreamWith([500, 502, 503, 200], { UPSTREAM_RETRIES: "2" })
    return leakCheck(Effect.gen(function*() {
      const upstream = yield* Upstream
      const call = yield* Effect.fork(Effect.flip(upstream.call("GET")))
      for (let n = 1; n <= 2; n++) yield* TestClock.adjust(yield* untilWaiting(sent, n, 240))
      expect(yield* Fiber.join(call)).toMatchObject({ _tag: "UpstreamError", reason: "Status", status: 503 })
      expect(sent.count).toBe(3)
    }).pipe(Effect.provide(layer)))
  })

  it.effect("an attempt that hangs is cut at UPSTREAM_TIMEOUT_MS and retried; the caller waits no longer than the attempts", () => {
    const { layer, sent } = upstreamWith(["hang", 200], { UPSTREAM_RETRIES: "1", UPSTREAM_TIMEOUT_MS: "1000" })
    return leakCheck(Effect.gen(function*() {
      const upstream = yield* Upstream
      const call = yield* Effect.fork(upstream.call("GET"))
      expect(yield* untilWaiting(sent, 1, 1_000)).toBe(1_000) // the attempt's timeout
      yield* TestClock.adjust(999)
      expect(sent.count).toBe(1)
      yield* TestClock.adjust(1)
      yield* TestClock.adjust(yield* untilWaiting(sent, 1, 240)) // the backoff after the timeout
      expect(yield* Fiber.join(call)).toEqual({ answer: 200 })
      expect(sent.count).toBe(2)
    }).pipe(Effect.provide(layer)))
  })

  it.effect("the breaker opens after BREAKER_FAILURES failed calls, refuses without calling, and after BREAKER_RESET_MS lets one trial through", () => {
    const { layer, sent } = upstreamWith([500, 500], { UPSTREAM_RETRIES: "0", BREAKER_FAILURES: "2", BREAKER_RESET_MS: "10000" })
    return Effect.gen(function*() {
      const upstream = yield* Upstream
      for (let i = 0; i < 2; i++) expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ reason: "Status", status: 500 })
      expect(yield* upstream.breaker.state).toBe("open")
      yield* TestClock.adjust(9_999)
      expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ _tag: "CircuitOpen", retryAfterMs: 1 })
      expect(sent.count).toBe(2)
      yield* TestClock.adjust(1)
      expect(yield* upstream.call("GET")).toEqual({ answer: 200 })
      expect(yield* upstream.breaker.state).toBe("closed")
      expect(sent.count).toBe(3)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a 4xx is an answer, not a fault: never retried, never opens the breaker", () => {
    const { layer, sent } = upstreamWith([404, 404, 404], { UPSTREAM_RETRIES: "2", BREAKER_FAILURES: "2" })
    return Effect.gen(function*() {
      const upstream = yield* Upstream
      for (let i = 0; i < 3; i++) expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ reason: "Status", status: 404 })
      expect(sent.count).toBe(3)
      expect(yield* upstream.breaker.state).toBe("closed")
    }).pipe(Effect.provide(layer))
  })
})
