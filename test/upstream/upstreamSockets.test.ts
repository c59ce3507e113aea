// What the outbound client does with the upstream's sockets when an answer is not the happy one:
// a non-2xx body is discarded so its socket is released at once, and a body cut mid-way is a
// transport failure (retried, counted by the breaker). Real sockets: the behaviour is about them.
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import { agentLayer, layerWithoutAgent, Upstream } from "../../src/upstream/Upstream.js"
import * as UpstreamConfig from "../../src/upstream/UpstreamConfig.js"
import { captureLogs } from "../support/captureLogs.js"
import { leakCheck } from "../support/LeakCheck.js"
import * as TestConfig from "../support/testConfig.js"
import { startUpstream } from "./fakeUpstream.js"

/** The upstream service and the agent it really uses, so a test can look at the agent's sockets. */
const withUpstream = (url: string, overrides: TestConfig.Env = {}) =>
  Layer.provideMerge(layerWithoutAgent, agentLayer).pipe(
    Layer.provide(TestConfig.withEnv(UpstreamConfig.layer, {
      UPSTREAM_URL: url,
      UPSTREAM_TIMEOUT_MS: "2000",
      UPSTREAM_RETRIES: "0",
      BREAKER_FAILURES: "100",
      ...overrides
    }))
  )

/** Sockets the agent has lent to a request that has not let go of them. */
const busySockets = Effect.map(NodeHttpClient.HttpAgent, (agent) => Object.values(agent.http.sockets).flat().length)

/** Polls a condition on real time (the sockets are real); gives up after `timeoutMs`. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, timeoutMs = 5_000) =>
  Effect.gen(function*() {
    const until = performance.now() + timeoutMs
    while (!(yield* check) && performance.now() < until) yield* Effect.sleep("5 millis")
  })

const failureOf = <A, E>(result: Either.Either<A, E>) => Either.isLeft(result) ? result.left : undefined

describe("upstream sockets", () => {
  it.live("non-2xx answers with a body: every socket is released, even by an upstream that keeps it open", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream({ keepAliveRegardless: true }))
      const body = JSON.stringify({ error: "x".repeat(2_000) })
      for (let i = 0; i < 6; i++) fake.script.push({ status: i % 2 === 0 ? 500 : 404, text: body })
      yield* leakCheck(Effect.gen(function*() {
        const upstream = yield* Upstream
        for (let i = 0; i < 6; i++) {
          expect(failureOf(yield* Effect.either(upstream.call("GET")))).toMatchObject({ reason: "Status" })
        }
        yield* eventually(Effect.map(busySockets, (busy) => busy === 0))
        expect(yield* busySockets).toBe(0)
      }).pipe(Effect.provide(withUpstream(fake.url))))
      expect(fake.requests).toHaveLength(6)
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("non-2xx answers on a keep-alive agent: the discarded body leaves the socket reusable, one socket serves them all", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      for (let i = 0; i < 5; i++) fake.script.push({ status: 503, text: "upstream overloaded, try later" })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        for (let i = 0; i < 5; i++) yield* Effect.either(upstream.call("GET"))
        expect(yield* upstream.call("GET")).toEqual({ ok: true })
      }).pipe(Effect.provide(withUpstream(fake.url)))
      expect(fake.requests).toHaveLength(6)
      expect(fake.sockets).toHaveLength(1)
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a big non-2xx body is not read to its end: the socket is closed instead", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 500, text: "x".repeat(4 * 1024 * 1024) })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        expect(failureOf(yield* Effect.either(upstream.call("GET")))).toMatchObject({ reason: "Status", status: 500 })
        yield* eventually(Effect.sync(() => fake.sockets[0]!.closedAt !== undefined))
        expect(fake.sockets[0]!.closedAt).toBeDefined()
        expect(yield* busySockets).toBe(0)
      }).pipe(Effect.provide(withUpstream(fake.url)))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a non-2xx whose body stalls: still the status (not a retried timeout), and the socket is closed", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 404, cut: { contentLength: 100, sent: 10, stall: true } })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        expect(failureOf(yield* Effect.either(upstream.call("GET")))).toMatchObject({ reason: "Status", status: 404 })
        expect(fake.requests).toHaveLength(1)
        yield* eventually(Effect.sync(() => fake.sockets[0]!.closedAt !== undefined))
        expect(fake.sockets[0]!.closedAt).toBeDefined()
        expect(yield* busySockets).toBe(0)
      }).pipe(Effect.provide(withUpstream(fake.url, { UPSTREAM_TIMEOUT_MS: "200", UPSTREAM_RETRIES: "2" })))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a 2xx cut mid-body is a transport failure: a GET is retried and succeeds", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 200, cut: { contentLength: 100, sent: 10 } }, { status: 200, body: { n: 2 } })
      const value = yield* Effect.flatMap(Upstream, (upstream) => upstream.call("GET")).pipe(
        Effect.provide(withUpstream(fake.url, { UPSTREAM_RETRIES: "2" }))
      )
      expect(value).toEqual({ n: 2 })
      expect(fake.requests).toHaveLength(2)
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)

  it.live("a cut body is not retried for a POST, and it counts for the breaker", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => startUpstream())
      fake.script.push({ status: 200, cut: { contentLength: 100, sent: 10 } })
      yield* Effect.gen(function*() {
        const upstream = yield* Upstream
        expect(failureOf(yield* Effect.either(upstream.call("POST")))).toMatchObject({ _tag: "UpstreamError", reason: "Cut" })
        expect(fake.requests).toHaveLength(1)
        expect(yield* upstream.breaker.state).toBe("open")
      }).pipe(Effect.provide(withUpstream(fake.url, { UPSTREAM_RETRIES: "2", BREAKER_FAILURES: "1" })))
    }).pipe(Effect.provide(captureLogs().layer)), 10_000)
})
