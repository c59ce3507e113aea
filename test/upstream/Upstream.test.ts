// What the outbound client makes of each kind of answer, on a scripted HttpClient (no socket):
// which are retried, which the breaker counts, how far a body is read. Time (backoff, timeouts,
// breaker reset) is in UpstreamTiming.test.ts; sockets are in upstreamSockets.test.ts.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Queue, TestClock } from "effect"
import { MAX_JSON_DEPTH } from "../../src/http/BoundedJson.js"
import { MAX_BODY_BYTES, Upstream } from "../../src/upstream/Upstream.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import { scriptedClient, type Scripted, untilWaiting, upstreamOn, type UpstreamOverrides } from "./scriptedClient.js"

/** Runs `body` with the Upstream service on a client answering `script`; no breaker by default. */
const withScript = <A, E>(
  script: Array<Scripted>,
  overrides: UpstreamOverrides,
  body: (client: Effect.Effect.Success<ReturnType<typeof scriptedClient>>) => Effect.Effect<A, E, Upstream>
) =>
  Effect.gen(function*() {
    const client = yield* scriptedClient(script)
    return yield* body(client).pipe(Effect.provide(upstreamOn(client.layer, { breakerFailures: 100, ...overrides })))
  }).pipe(Effect.provide(captureLogs().layer))

const call = (method: "GET" | "POST" = "GET") => Effect.flatMap(Upstream, (upstream) => upstream.call(method))
const failure = (method: "GET" | "POST" = "GET") => Effect.flip(call(method))

describe("Upstream answers", { timeout: 10_000 }, () => {
  it.effect("success: the JSON body, one request", () =>
    withScript([{ status: 200, text: JSON.stringify({ hello: "upstream" }) }], {}, ({ sent }) =>
      leakCheck(Effect.gen(function*() {
        expect(yield* call()).toEqual({ hello: "upstream" })
        expect(sent.count).toBe(1)
      }))))

  it.effect("UPSTREAM_URL unset -> UpstreamNotConfigured, nothing called", () =>
    withScript([], { upstreamUrl: undefined }, ({ sent }) =>
      Effect.gen(function*() {
        expect(yield* failure()).toMatchObject({ _tag: "UpstreamNotConfigured" })
        expect(sent.count).toBe(0)
      })))

  it.effect("a non-idempotent call is not retried, and a 4xx is not retried", () =>
    withScript([503, 404], { upstreamRetries: 2 }, ({ sent }) =>
      Effect.gen(function*() {
        expect(yield* failure("POST")).toMatchObject({ _tag: "UpstreamError", reason: "Status", status: 503 })
        expect(sent.count).toBe(1)
        expect(yield* failure()).toMatchObject({ _tag: "UpstreamError", reason: "Status", status: 404 })
        expect(sent.count).toBe(2)
      })))

  it.effect("no answer at all (refused) is a Connection failure, retried like a 5xx", () =>
    withScript(["refused", 200], { upstreamRetries: 1 }, ({ sent }) =>
      Effect.gen(function*() {
        const result = yield* Effect.fork(call())
        yield* TestClock.adjust(yield* untilWaiting(sent, 1, 240))
        expect(yield* Fiber.join(result)).toEqual({ answer: 200 })
        expect(sent.count).toBe(2)
      })))

  it.effect("a 2xx whose body is not JSON: not retried (the same answer would come back), but counted by the breaker", () =>
    withScript([{ status: 200, text: "<html>maintenance</html>" }], { upstreamRetries: 2, breakerFailures: 1 }, ({ sent }) =>
      Effect.gen(function*() {
        expect(yield* failure()).toMatchObject({ _tag: "UpstreamError", reason: "Body", status: 200 })
        expect(sent.count).toBe(1)
        expect(yield* Effect.flatMap(Upstream, (upstream) => upstream.breaker.state)).toBe("open")
      })))

  it.effect("a 2xx nested deeper than MAX_JSON_DEPTH is a Body failure", () => {
    const deep = "[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1)
    return withScript([{ status: 200, text: deep }], {}, () =>
      Effect.map(failure(), (error) => expect(error).toMatchObject({ reason: "Body", status: 200 })))
  })

  it.effect("the body bound: a 2xx longer than MAX_BODY_BYTES is a Body failure, read no further than the bound", () => {
    const chunkBytes = 64 * 1024
    // Twice the bound, then the end: a reader without a bound would pull every chunk.
    const chunks = (2 * MAX_BODY_BYTES) / chunkBytes
    return withScript([{ status: 200, chunks, chunkBytes }], {}, ({ bodies }) =>
      Effect.gen(function*() {
        expect(yield* failure()).toMatchObject({ reason: "Body", status: 200 })
        expect(bodies[0]!.pulled).toBe(MAX_BODY_BYTES / chunkBytes + 1) // the first chunk past the bound
        expect(bodies[0]!.cancelled).toBe(true) // the rest is cut, not read
      }))
  })

  it.effect("a big non-2xx body is read to 64 KiB at most, then cut; the status is the answer", () =>
    withScript([{ status: 500, chunks: 1_000, chunkBytes: 16 * 1024 }], { upstreamRetries: 0 }, ({ bodies }) =>
      Effect.gen(function*() {
        expect(yield* failure()).toMatchObject({ reason: "Status", status: 500 })
        expect(bodies[0]!.pulled).toBe(5) // 64 KiB, and the chunk that went past it
        expect(bodies[0]!.cancelled).toBe(true)
      })))

  it.effect("a non-2xx whose body stalls: cut at its own bound (min(UPSTREAM_TIMEOUT_MS, 1 s)), still the status, not a retried timeout", () =>
    withScript([{ status: 404, chunks: 1, chunkBytes: 10, then: "stall" }], { upstreamTimeoutMs: 5_000, upstreamRetries: 2 }, ({ bodies, sent }) =>
      Effect.gen(function*() {
        const result = yield* Effect.fork(failure())
        expect(yield* untilWaiting(sent, 1, 1_000)).toBe(1_000) // the discard's bound, not the 5 s attempt timeout
        yield* TestClock.adjust(1_000)
        expect(yield* Fiber.join(result)).toMatchObject({ reason: "Status", status: 404 })
        expect(sent.count).toBe(1)
        expect(bodies[0]!.cancelled).toBe(true)
      })))

  it.effect("a 2xx cut mid-body is a transport failure (Cut): a GET is retried and succeeds", () =>
    withScript([{ status: 200, chunks: 1, chunkBytes: 10, then: "break" }, 200], { upstreamRetries: 2 }, ({ sent }) =>
      Effect.gen(function*() {
        const result = yield* Effect.fork(call())
        yield* TestClock.adjust(yield* untilWaiting(sent, 1, 240))
        expect(yield* Fiber.join(result)).toEqual({ answer: 200 })
        expect(sent.count).toBe(2)
      })))

  it.effect("a cut body is not retried for a POST, and it counts for the breaker", () =>
    withScript([{ status: 200, chunks: 1, chunkBytes: 10, then: "break" }], { upstreamRetries: 2, breakerFailures: 1 }, ({ sent }) =>
      Effect.gen(function*() {
        expect(yield* failure("POST")).toMatchObject({ _tag: "UpstreamError", reason: "Cut" })
        expect(sent.count).toBe(1)
        expect(yield* Effect.flatMap(Upstream, (upstream) => upstream.breaker.state)).toBe("open")
      })))

  it.effect("a call interrupted while the upstream hangs (request timeout, client gone) counts as a failure: the breaker opens", () =>
    withScript(["hang", "hang"], { upstreamTimeoutMs: 10_000, breakerFailures: 2 }, ({ arrivals, sent }) =>
      leakCheck(Effect.gen(function*() {
        for (let n = 1; n <= 2; n++) {
          const result = yield* Effect.fork(call())
          yield* Queue.take(arrivals) // the request was sent
          yield* Fiber.interrupt(result)
        }
        expect(yield* Effect.flatMap(Upstream, (upstream) => upstream.breaker.state)).toBe("open")
        expect(yield* failure()).toMatchObject({ _tag: "CircuitOpen" })
        expect(sent.count).toBe(2)
      }))))
})
