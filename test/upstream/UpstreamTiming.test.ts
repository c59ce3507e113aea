// The outbound call's clock, on TestClock: the attempt timeout, the retry backoff (exact delays:
// the jitter's random draw is fixed), the breaker's open / half-open / closed cycle. A scripted
// HttpClient answers (scriptedClient.ts), so every wait is the schedule's, not the network's.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Queue, TestClock } from "effect"
import { Upstream } from "../../src/upstream/Upstream.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { scriptedClient, type Scripted, untilWaiting, upstreamOn } from "./scriptedClient.js"

const upstreamWith = (script: Array<Scripted>, overrides: Parameters<typeof upstreamOn>[1]) =>
  Effect.map(scriptedClient(script), (client) => ({ ...client, layer: upstreamOn(client.layer, overrides) }))

describe("Upstream on TestClock", { timeout: 10_000 }, () => {
  it.effect("an attempt that hangs is cut at UPSTREAM_TIMEOUT_MS exactly, then retried", () =>
    Effect.gen(function*() {
      const { layer, sent } = yield* upstreamWith(["hang", 200], { upstreamRetries: 1, upstreamTimeoutMs: 1_000 })
      yield* leakCheck(Effect.gen(function*() {
        const upstream = yield* Upstream
        const call = yield* Effect.fork(upstream.call("GET"))
        expect(yield* untilWaiting(sent, 1, 1_000)).toBe(1_000) // the attempt's timeout
        yield* TestClock.adjust(999)
        expect(sent.count).toBe(1)
        yield* TestClock.adjust(1)
        expect(yield* untilWaiting(sent, 1, 240)).toBe(100) // the backoff after the timeout
        yield* TestClock.adjust(100)
        expect(yield* Fiber.join(call)).toEqual({ answer: 200 })
        expect(sent.count).toBe(2)
      }).pipe(Effect.provide(layer)))
    }).pipe(Effect.withRandomFixed([0.5])))

  it.effect("5xx is retried after an exponential backoff: 100 ms, then 200 ms (the jitter's draw fixed at its middle)", () =>
    Effect.gen(function*() {
      const { layer, sent } = yield* upstreamWith([500, 502, 200], { upstreamRetries: 2 })
      yield* leakCheck(Effect.gen(function*() {
        const upstream = yield* Upstream
        const call = yield* Effect.fork(upstream.call("GET"))
        expect(yield* untilWaiting(sent, 1, 240)).toBe(100)
        yield* TestClock.adjust(99)
        expect(sent.count).toBe(1)
        yield* TestClock.adjust(1)
        expect(yield* untilWaiting(sent, 2, 240)).toBe(200)
        yield* TestClock.adjust(199)
        expect(sent.count).toBe(2)
        yield* TestClock.adjust(1)
        expect(yield* Fiber.join(call)).toEqual({ answer: 200 })
        expect(sent.count).toBe(3)
      }).pipe(Effect.provide(layer)))
    }).pipe(Effect.withRandomFixed([0.5])))

  it.effect("the jitter stays within 0.8..1.2 of each delay: 120 ms, then 240 ms at its top", () =>
    Effect.gen(function*() {
      const { layer, sent } = yield* upstreamWith([500, 502, 200], { upstreamRetries: 2 })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        const call = yield* Effect.fork(upstream.call("GET"))
        const first = yield* untilWaiting(sent, 1, 300)
        yield* TestClock.adjust(first)
        const second = yield* untilWaiting(sent, 2, 300)
        yield* TestClock.adjust(second)
        expect([first, second]).toEqual([120, 240])
        expect(yield* Fiber.join(call)).toEqual({ answer: 200 })
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.withRandomFixed([1])))

  it.effect("5xx is retried UPSTREAM_RETRIES times, then the call fails with the last answer", () =>
    Effect.gen(function*() {
      const { layer, sent } = yield* upstreamWith([500, 502, 503, 200], { upstreamRetries: 2 })
      yield* leakCheck(Effect.gen(function*() {
        const upstream = yield* Upstream
        const call = yield* Effect.fork(Effect.flip(upstream.call("GET")))
        for (let n = 1; n <= 2; n++) yield* TestClock.adjust(yield* untilWaiting(sent, n, 240))
        expect(yield* Fiber.join(call)).toMatchObject({ _tag: "UpstreamError", reason: "Status", status: 503 })
        expect(sent.count).toBe(3)
      }).pipe(Effect.provide(layer)))
    }))

  it.effect("the breaker: opens after BREAKER_FAILURES failed calls, refuses without calling until BREAKER_RESET_MS, then lets one probe through; its success closes it", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const release = yield* Deferred.make<void>() // holds the probe in flight until completed
      const { arrivals, layer, sent } = yield* upstreamWith([500, 500, { heldUntil: release }], {
        upstreamRetries: 0,
        breakerFailures: 2,
        breakerResetMs: 10_000
      })
      yield* leakCheck(Effect.gen(function*() {
        const upstream = yield* Upstream
        for (let i = 0; i < 2; i++) expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ reason: "Status", status: 500 })
        expect(yield* upstream.breaker.state).toBe("open")
        yield* TestClock.adjust(9_999)
        expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ _tag: "CircuitOpen", retryAfterMs: 1 })
        expect(sent.count).toBe(2)
        yield* TestClock.adjust(1)
        const trial = yield* Effect.fork(upstream.call("GET"))
        for (let n = 1; n <= 3; n++) yield* Queue.take(arrivals) // the two failures, then the probe
        expect(yield* upstream.breaker.state).toBe("half-open")
        // One probe at a time: a call while it is in flight is refused, and not sent.
        expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ _tag: "CircuitOpen" })
        yield* Deferred.succeed(release, undefined)
        expect(yield* Fiber.join(trial)).toEqual({ answer: 200 })
        expect(yield* upstream.breaker.state).toBe("closed")
        expect(sent.count).toBe(3)
      }).pipe(Effect.provide(layer)))
      const transitions = logs.lines.filter((line) => line.breaker === "upstream").map((line) => [line.message, line.reason])
      expect(transitions).toEqual([
        ["circuit breaker open", "2 consecutive failures (the last failed)"],
        ["circuit breaker half-open", "reset timeout elapsed: one trial call let through"],
        ["circuit breaker closed", "trial call succeeded"]
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("the breaker: a probe that fails opens it again for BREAKER_RESET_MS from then", () =>
    Effect.gen(function*() {
      const { layer, sent } = yield* upstreamWith([500, 500, 503, 200], { upstreamRetries: 0, breakerFailures: 2, breakerResetMs: 10_000 })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        for (let i = 0; i < 2; i++) yield* Effect.flip(upstream.call("GET"))
        yield* TestClock.adjust(10_000)
        expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ reason: "Status", status: 503 }) // the probe
        expect(yield* upstream.breaker.state).toBe("open")
        yield* TestClock.adjust(9_999)
        expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ _tag: "CircuitOpen", retryAfterMs: 1 })
        expect(sent.count).toBe(3)
        yield* TestClock.adjust(1)
        expect(yield* upstream.call("GET")).toEqual({ answer: 200 })
        expect(yield* upstream.breaker.state).toBe("closed")
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.provide(captureLogs().layer)))

  it.effect("a 4xx is an answer, not a fault: never retried, never opens the breaker", () =>
    Effect.gen(function*() {
      const { layer, sent } = yield* upstreamWith([404, 404, 404], { upstreamRetries: 2, breakerFailures: 2 })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        for (let i = 0; i < 3; i++) expect(yield* Effect.flip(upstream.call("GET"))).toMatchObject({ reason: "Status", status: 404 })
        expect(sent.count).toBe(3)
        expect(yield* upstream.breaker.state).toBe("closed")
      }).pipe(Effect.provide(layer))
    }))
})
